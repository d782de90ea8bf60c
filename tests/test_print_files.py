"""Print-ready files (issue "Print-size", must-show 4): 16-bit PNG/TIFF, colour management, DPI."""

from __future__ import annotations

import io
import struct

import numpy as np
import png
import tifffile
from PIL import Image, ImageCms

from conftest import artwork_like, photo_like
from painterly.frontends.cli import main
from painterly.media import images


def _levels(path) -> int:
    if str(path).endswith(".png"):
        _, _, rows, info = png.Reader(filename=str(path)).asDirect()
        assert info["bitdepth"] == 16
        pixels = np.array(list(rows))[:, 0::3]
    else:
        pixels = tifffile.imread(path)[..., 0]
        assert pixels.dtype == np.uint16
    return len(np.unique(pixels))


def test_16_bit_png_and_tiff_hold_more_than_256_levels_with_settings_srgb_and_dpi(tmp_path, capsys):
    photo, art = tmp_path / "photo.png", tmp_path / "art.png"
    photo_like(96, 72).save(photo, dpi=(300, 300))
    artwork_like().save(art)
    for name in ("out.png", "out.tif"):
        out = tmp_path / name
        argv = [str(photo), str(art), "-o", str(out), "--size", "64", "--iterations", "8", "--bit-depth", "16"]
        assert main([*argv, "-q"]) == 0
        assert _levels(out) > 256
        with Image.open(out) as im:
            assert round(im.info["dpi"][0]) == 300  # the photo's print resolution is kept
            profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert images.read_metadata(tmp_path / "out.png")["bit_depth"] == "16"
    assert main([str(photo), str(art), "-o", str(tmp_path / "o.jpg"), "--bit-depth", "16"]) == 2
    assert "needs a .png or .tif" in capsys.readouterr().err


def wide_gamut_profile() -> ImageCms.ImageCmsProfile:
    """ImageCms' sRGB profile with Adobe RGB (1998)'s primaries (D50-adapted) in its colorant tags."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    primaries = {
        b"rXYZ": (0.6097, 0.3111, 0.0195),
        b"gXYZ": (0.2053, 0.6257, 0.0609),
        b"bXYZ": (0.1492, 0.0632, 0.7446),
    }
    count = struct.unpack(">I", data[128:132])[0]
    for k in range(count):
        sig, offset, _ = struct.unpack(">4sII", data[132 + 12 * k : 144 + 12 * k])
        if sig in primaries:  # an XYZType: 'XYZ ', 4 reserved bytes, three s15Fixed16 numbers
            data[offset + 8 : offset + 20] = struct.pack(">3i", *(round(v * 65536) for v in primaries[sig]))
    return ImageCms.ImageCmsProfile(io.BytesIO(bytes(data)))


def test_an_input_with_another_icc_profile_is_converted_to_srgb_and_outputs_carry_srgb(tmp_path):
    other = wide_gamut_profile()  # not sRGB: saturated colours move
    raw = photo_like(64, 48)
    tagged = tmp_path / "tagged.png"
    raw.save(tagged, icc_profile=other.tobytes())
    loaded = images.load(tagged)
    expected = ImageCms.profileToProfile(raw, other, ImageCms.createProfile("sRGB"), outputMode="RGB")
    assert np.abs(np.asarray(loaded, np.float32) - np.asarray(expected, np.float32)).max() <= 1
    assert np.abs(np.asarray(loaded, np.float32) - np.asarray(raw, np.float32)).max() > 20
    out = tmp_path / "out.png"
    assert main([str(tagged), str(tagged), "-o", str(out), "--size", "48", "--iterations", "2", "-q"]) == 0
    with Image.open(out) as im:
        assert "sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"])))

"""Loading odd and hostile image files, and saving atomically."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from painterly.errors import InputImageError, OutputError
from painterly.media import images


def png_header_only(path, width, height):
    """A PNG whose header claims width x height but holds almost no data (a decompression bomb)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (p.write_bytes(np.random.default_rng(0).bytes(4000)), p)[1], "not an image"),
        (lambda p: (p.write_text("hello, I am text pretending to be a JPEG"), p)[1], "not an image"),
        (lambda p: (p.mkdir(), p)[1], "directory"),
        (lambda p: png_header_only(p, 20000, 20000), "too large"),
    ],
    ids=["missing", "empty", "random-bytes", "text", "directory", "bomb"],
)
def test_bad_files_are_refused_with_reason(tmp_path, make, reason):
    path = make(tmp_path / "input.jpg")
    with pytest.raises(InputImageError, match=reason) as info:
        images.load(path, "content image")
    message = str(info.value)
    assert "\n" not in message and str(path) in message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(tmp_path, fmt):
    from conftest import photo_like

    full = tmp_path / f"full.{fmt.lower()}"
    photo_like(128, 96).save(full, fmt)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputImageError, match="corrupt or truncated"):
        images.load(cut)


def test_rgba_is_composited_on_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 255
    a[:2, :, 3] = 255  # top half opaque red, bottom half fully transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(a, "RGBA").save(path)
    out = np.asarray(images.load(path))
    assert out.shape == (4, 4, 3)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[3, 3].tolist() == [255, 255, 255]


def test_la_and_palette_with_transparency(tmp_path):
    la = Image.new("LA", (4, 4), (0, 0))
    la.save(tmp_path / "la.png")
    assert np.asarray(images.load(tmp_path / "la.png"))[0, 0].tolist() == [255, 255, 255]
    p = Image.new("P", (4, 4), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p.save(tmp_path / "pal.png")
    assert np.asarray(images.load(tmp_path / "pal.png"))[0, 0].tolist() == [10, 200, 30]
    p.save(tmp_path / "pal_t.png", transparency=1)
    assert np.asarray(images.load(tmp_path / "pal_t.png"))[0, 0].tolist() == [255, 255, 255]


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    a = np.array([[0, 32768], [65535, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    out = np.asarray(images.load(path))
    assert out[:, :, 0].tolist() == [[0, 128], [255, 255]]


def test_cmyk_and_grayscale_become_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # red in CMYK
    r, g, b = np.asarray(images.load(tmp_path / "cmyk.jpg"))[4, 4].tolist()
    assert r > 200 and g < 60 and b < 60
    Image.new("L", (8, 8), 77).save(tmp_path / "gray.png")
    assert np.asarray(images.load(tmp_path / "gray.png"))[0, 0].tolist() == [77, 77, 77]


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to view
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    out = images.load(path)
    assert out.size == (20, 40)
    top = np.asarray(out)[2, 10]
    assert top[2] > 200 and top[0] < 60  # the blue half is on top after rotating 90 CW


def test_arrays_and_pil_images_are_accepted():
    assert images.load(np.zeros((5, 6, 3), np.uint8)).size == (6, 5)
    assert images.load(np.ones((5, 6), np.float32)).getpixel((0, 0)) == (255, 255, 255)
    assert images.load(Image.new("RGBA", (3, 3))).mode == "RGB"
    with pytest.raises(InputImageError):
        images.load(np.zeros((5, 6, 2)))
    with pytest.raises(InputImageError):
        images.load(np.full((2, 2), np.nan))


def test_save_is_atomic_with_metadata(tmp_path):
    out = tmp_path / "out.png"
    images.save(Image.new("RGB", (8, 8)), out, {"seed": "3", "version": "x"})
    assert images.read_metadata(out) == {"seed": "3", "version": "x"}
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left
    images.save(Image.new("RGB", (8, 8)), tmp_path / "out.jpg", {"seed": "3"})
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"


def test_check_output_refuses_inputs_existing_and_unwritable(tmp_path):
    existing = tmp_path / "in.png"
    Image.new("RGB", (4, 4)).save(existing)
    with pytest.raises(OutputError, match="input"):
        images.check_output(existing, [existing], overwrite=True)
    with pytest.raises(OutputError, match="already exists"):
        images.check_output(existing, [])
    assert images.check_output(existing, [], overwrite=True) == existing
    with pytest.raises(OutputError, match="does not exist"):
        images.check_output(tmp_path / "nodir" / "x.png")
    with pytest.raises(OutputError, match="unknown format"):
        images.check_output(tmp_path / "x.gifx")


def test_unwritable_directory_is_refused(tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(OutputError, match="not writable"):
            images.check_output(locked / "x.png")
    finally:
        locked.chmod(0o700)


def test_write_failure_is_an_output_error_and_leaves_nothing():
    with pytest.raises(OutputError, match="cannot write"):
        images.save(Image.new("RGB", (4, 4)), "/proc/painterly-test.png")

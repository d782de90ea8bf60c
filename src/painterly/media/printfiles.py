"""Print-ready files: colour management (input ICC profiles to sRGB, sRGB embedded in outputs),
resolution (DPI) and 16-bit PNG/TIFF writers that keep the render's float precision.

Pillow writes 8-bit files and reads ICC profiles (ImageCms); pypng writes 16-bit RGB PNGs
(Pillow cannot) and tifffile 16-bit TIFFs. Metadata goes in as in 8-bit files: PNG iTXt chunks
`painterly:KEY`, a TIFF's ImageDescription as JSON.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms

SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
_SRGB = ImageCms.ImageCmsProfile(io.BytesIO(SRGB_ICC))
_CONVERTIBLE = ("RGB", "RGBA", "CMYK", "L")  # modes ImageCms converts; others keep their pixels


def to_srgb(image: Image.Image) -> Image.Image:
    """`image` converted from its embedded ICC profile to sRGB (perceptual intent); unchanged when it
    has none, or one that cannot be read (then it is taken as sRGB, as most software would)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in _CONVERTIBLE:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    converted.info = {k: v for k, v in image.info.items() if k != "icc_profile"}
    return converted


def to_uint16(array: np.ndarray) -> np.ndarray:
    """HxWx3 floats in 0..1 -> uint16 0..65535."""
    return (np.clip(array, 0.0, 1.0) * 65535.0).round().astype(np.uint16)


def write_png16(f: BinaryIO, rgb: np.ndarray, metadata: dict[str, str], dpi: tuple[float, float] | None) -> None:
    """A 16-bit RGB PNG of `rgb` (HxWx3 uint16) with an sRGB iCCP chunk, pHYs from `dpi` and metadata."""
    import png

    h, w, _ = rgb.shape
    encoded = io.BytesIO()
    png.Writer(width=w, height=h, greyscale=False, bitdepth=16).write(encoded, rgb.reshape(h, w * 3))
    chunks = list(png.Reader(bytes=encoded.getvalue()).chunks())
    extra = [(b"iCCP", b"sRGB\0\0" + zlib.compress(SRGB_ICC))]
    if dpi:
        extra.append((b"pHYs", struct.pack(">IIB", round(dpi[0] / 0.0254), round(dpi[1] / 0.0254), 1)))
    extra += [
        (b"iTXt", f"painterly:{k}".encode("latin-1") + b"\0\0\0\0\0" + str(v).encode()) for k, v in metadata.items()
    ]
    png.write_chunks(f, chunks[:1] + extra + chunks[1:])  # right after IHDR


def write_tiff16(f: BinaryIO, rgb: np.ndarray, metadata: dict[str, str], dpi: tuple[float, float] | None) -> None:
    """A 16-bit RGB TIFF of `rgb` (HxWx3 uint16) with the sRGB profile, resolution and metadata (JSON)."""
    import tifffile

    resolution = {"resolution": (dpi[0], dpi[1]), "resolutionunit": "INCH"} if dpi else {}
    encoded = io.BytesIO()  # tifffile wants a named file or a buffer, not the atomic writer's descriptor
    tifffile.imwrite(
        encoded,
        rgb,
        photometric="rgb",
        iccprofile=SRGB_ICC,
        description=json.dumps(metadata),
        metadata=None,
        **resolution,
    )
    f.write(encoded.getvalue())

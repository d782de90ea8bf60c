"""Image files <-> tensors: loading (EXIF, odd modes, alpha, limits), resizing, atomic saving.

Tensors are float32 RGB in 0..1 with shape [1,3,H,W]. Nothing here knows about VGG.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import InputImageError, OutputError
from . import printfiles
from .files import write_atomic

if TYPE_CHECKING:  # torch is imported where a tensor is made: the CLI checks files before it loads torch
    import torch

ImageSource = str | os.PathLike | Image.Image | np.ndarray

MAX_PIXELS = 64_000_000  # refuse larger inputs: decompression bombs and absurd sizes
MAX_FILE_BYTES = 512 * 1024 * 1024
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white
# Downscaling filter for the network's inputs: bicubic (antialiased by Pillow) keeps less pixel-level
# texture than Lanczos, so the style's Grams ask for less speckle; it is also what nst_eval uses.
RESAMPLE = Image.BICUBIC


def describe(source: ImageSource) -> str:
    """A short name for `source` in messages."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, np.ndarray):
        return f"array {source.shape}"
    return f"image {getattr(source, 'size', '')}"


def load(source: ImageSource, what: str = "image", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Load a path, PIL image or array as an 8-bit RGB PIL image of at most `max_pixels` pixels.

    EXIF orientation is applied; palette, 16-bit, CMYK, grayscale and alpha images are
    converted (alpha composited on white). Raises InputImageError with a one-line reason.
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        image = _from_array(source, name)
    elif isinstance(source, Image.Image):
        image = source
    elif isinstance(source, str | os.PathLike):
        image = _open_file(Path(source), what, max_pixels)
    else:
        raise InputImageError(f"{what}: cannot use a {type(source).__name__} as an image")
    if image.width < 1 or image.height < 1:
        raise InputImageError(f"{what} {name}: image has zero size")
    _check_pixels(image, what, name, max_pixels)
    dpi, made_by = image.info.get("dpi"), camera(image)
    rgb = to_rgb(printfiles.to_srgb(image))
    if dpi and "dpi" not in rgb.info:
        rgb.info["dpi"] = dpi  # kept for the output (print size)
    if made_by:
        rgb.info["camera"] = made_by  # a photograph, whatever its name (a plan warns of swapped inputs)
    return rgb


def camera(image: Image.Image) -> str | None:
    """The camera that took `image` from its EXIF (Model, else Make), or None."""
    try:
        exif = image.getexif()
    except (OSError, ValueError, SyntaxError):
        return None
    made = str(exif.get(0x0110) or exif.get(0x010F) or "").strip("\x00 ")
    return made or None


def _check_pixels(image: Image.Image, what: str, name: str, max_pixels: int) -> None:
    if image.width * image.height > max_pixels:
        raise InputImageError(
            f"{what} {name}: {image.width}x{image.height} is too large (limit {max_pixels / 1e6:g} megapixels)"
        )


def check_file(path: str | os.PathLike, what: str = "image") -> None:
    """Raise InputImageError when `path` is no readable, non-empty file of at most MAX_FILE_BYTES
    (what can be told without decoding it)."""
    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            raise InputImageError(f"{what} {path}: broken symbolic link (its target {os.readlink(path)} is missing)")
        raise InputImageError(f"{what} {path}: no such file")
    if path.is_dir():
        raise InputImageError(f"{what} {path}: is a directory, not an image")
    if not os.access(path, os.R_OK):
        raise InputImageError(f"{what} {path}: permission denied")
    size = path.stat().st_size
    if size == 0:
        raise InputImageError(f"{what} {path}: file is empty")
    if size > MAX_FILE_BYTES:
        raise InputImageError(f"{what} {path}: file is larger than {MAX_FILE_BYTES >> 20} MB")


def _open_file(path: Path, what: str, max_pixels: int) -> Image.Image:
    check_file(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            _check_pixels(image, what, str(path), max_pixels)  # from the header, before decoding
            image.seek(0)  # first frame of animations
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image.load()
            image = ImageOps.exif_transpose(image)
    except InputImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputImageError(f"{what} {path}: image is too large (decompression bomb guard)") from exc
    except UnidentifiedImageError as exc:
        kind = _sniff(path)
        if kind == "SVG":
            raise InputImageError(f"{what} {path}: SVG is a vector format; convert it to PNG first") from exc
        if kind is not None:
            raise InputImageError(f"{what} {path}: corrupt {kind} file (its header is unreadable)") from exc
        raise InputImageError(f"{what} {path}: not an image file Pillow can read") from exc
    except PermissionError as exc:
        raise InputImageError(f"{what} {path}: permission denied") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputImageError(f"{what} {path}: corrupt or truncated image ({reason})") from exc
    return image


SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def _sniff(path: Path) -> str | None:
    """The format a file claims by its first bytes (for messages about files Pillow rejects)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    text = head.lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "SVG"
    return None


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.size == 0:
        raise InputImageError(f"{name}: expected an HxW, HxWx3 or HxWx4 array")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise InputImageError(f"{name}: array contains NaN or inf")
        a = np.clip(a, 0.0, 1.0) * 255.0 if a.max() <= 1.0 else np.clip(a, 0.0, 255.0)
    elif a.dtype == np.uint16:
        a = a / 257.0
    elif a.dtype == np.bool_:
        a = a * 255.0
    a = np.round(np.clip(a, 0, 255)).astype(np.uint8)  # other integer types: clip, never wrap around
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[a.shape[2]]
    return Image.fromarray(a[:, :, 0] if mode == "L" else a, mode)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(a / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if mode == "P" and "transparency" in image.info or mode in ("PA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def resize_long_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so the long side is `size` px, keeping the aspect ratio (Lanczos when shrinking)."""
    w, h = image.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new == image.size:
        return image
    return image.resize(new, RESAMPLE if scale < 1 else Image.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> float32 tensor [1,3,H,W] in 0..1."""
    import torch

    a = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_image(tensor: torch.Tensor) -> Image.Image:
    """Tensor [1,3,H,W] (or [3,H,W]) in 0..1 -> 8-bit RGB PIL image (values clamped)."""
    t = tensor.detach().float().cpu()
    if t.dim() == 4:
        t = t[0]
    a = (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(a, "RGB")


# ---------------------------------------------------------------- saving


def check_output(path: str | os.PathLike, inputs: list[str | os.PathLike] = (), overwrite: bool = False) -> Path:
    """Check before any work that `path` can be written: known format, not an input,
    not an existing file (unless `overwrite`), and its directory exists and is writable."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise OutputError(f"output {path}: unknown format; use one of {', '.join(sorted(OUTPUT_FORMATS))}")
    for source in inputs:
        if isinstance(source, str | os.PathLike) and _same_file(path, Path(source)):
            raise OutputError(f"output {path}: is one of the input images; refusing to overwrite it")
    if path.is_dir():
        raise OutputError(f"output {path}: is a directory")
    if path.exists() and not overwrite:
        raise OutputError(f"output {path}: already exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output {path}: directory {parent} is not writable")
    return path


def check_free_space(path: str | os.PathLike, need: float) -> None:
    """Raise OutputError when the file system holding `path` has less than `need` bytes free."""
    directory = Path(path).parent if str(Path(path).parent) else Path(".")
    try:
        stat = os.statvfs(directory)
    except OSError:
        return  # not knowable here; the atomic save still reports a failure without losing the result
    free = stat.f_bavail * stat.f_frsize
    if free < need:
        raise OutputError(
            f"output {path}: only {free / 2**20:.1f} MB free in {directory}, about {need / 2**20:.1f} MB needed"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def save(
    image: Image.Image | torch.Tensor,
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
    bit_depth: int = 8,
    dpi: tuple[float, float] | None = None,
) -> Path:
    """Write `image` (a PIL image, or an RGB 0..1 tensor [1,3,H,W]) atomically (temp file in the
    same directory, fsync, rename), tagged sRGB, with `dpi` when given.

    PNG files get `metadata` as text chunks; JPEG/WebP/TIFF get it as one comment line
    where the format allows. `bit_depth` 16 writes 16-bit PNG or TIFF from the tensor's floats.
    Raises OutputError when the file cannot be written.
    """
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"output {path}: unknown format; use one of {', '.join(sorted(OUTPUT_FORMATS))}")
    metadata = metadata or {}
    if bit_depth == 16:
        if fmt not in ("PNG", "TIFF"):
            raise OutputError(f"output {path}: 16 bits per channel needs a .png or .tif output")
        rgb = printfiles.to_uint16(_float_array(image))
        writer = printfiles.write_png16 if fmt == "PNG" else printfiles.write_tiff16
        return write_atomic(path, lambda f: writer(f, rgb, metadata, dpi))
    if not isinstance(image, Image.Image):  # a tensor
        image = to_image(image)
    kwargs: dict = {"icc_profile": printfiles.SRGB_ICC}
    if dpi:
        kwargs["dpi"] = tuple(dpi)
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in metadata.items():
            info.add_itxt(f"painterly:{key}", str(value))
        kwargs["pnginfo"] = info
    elif fmt == "JPEG":
        kwargs.update(quality=95, comment="; ".join(f"{k}={v}" for k, v in metadata.items()).encode())
    return write_atomic(path, lambda f: image.save(f, format=fmt, **kwargs))


def _float_array(image: Image.Image | torch.Tensor) -> np.ndarray:
    """HxWx3 floats in 0..1 from an RGB tensor [1,3,H,W] or a PIL image."""
    if not isinstance(image, Image.Image):  # a tensor
        t = image.detach().float().cpu()
        return (t[0] if t.dim() == 4 else t).permute(1, 2, 0).numpy()
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The painterly settings stored in a PNG written by `save`."""
    with Image.open(path) as image:
        text = getattr(image, "text", {}) or {}
    return {k.removeprefix("painterly:"): v for k, v in text.items() if k.startswith("painterly:")}

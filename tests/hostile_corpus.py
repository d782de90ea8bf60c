"""A generated corpus of hostile and odd input images, and what painterly must do with each.

`build(directory)` writes the files (nothing is downloaded) and returns one `Case` per file:
either it must work and `check` tests the loaded pixels, or it must fail with a one-line
message containing `reason`. tests/test_corpus.py runs every case through the real CLI.

    python tests/hostile_corpus.py [DIR]   # writes the corpus and prints file | outcome | message
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RED, GREEN, BLUE, YELLOW = (230, 20, 20), (20, 200, 40), (30, 40, 230), (240, 220, 30)


@dataclass
class Case:
    name: str
    path: Path
    reason: str | None = None  # None: must load and run; else: a word the error message must contain
    check: Callable[[np.ndarray], None] | None = None  # tests the loaded HxWx3 uint8 pixels

    @property
    def must_work(self) -> bool:
        return self.reason is None


def colour_near(expected: tuple[int, int, int], tolerance: int = 40) -> Callable[[np.ndarray], None]:
    """A check that the centre pixel is within `tolerance` of `expected` in every channel."""

    def check(a: np.ndarray) -> None:
        got = a[a.shape[0] // 2, a.shape[1] // 2].astype(int)
        assert np.abs(got - expected).max() <= tolerance, f"centre pixel {got.tolist()}, expected {expected}"

    return check


def quadrants() -> np.ndarray:
    """The upright reference picture, 48x32: red / green on top, blue / yellow below."""
    a = np.empty((32, 48, 3), np.uint8)
    a[:16, :24], a[:16, 24:], a[16:, :24], a[16:, 24:] = RED, GREEN, BLUE, YELLOW
    return a


def check_upright(a: np.ndarray) -> None:
    """The loaded image is `quadrants()` the right way up (EXIF orientation applied)."""
    assert a.shape[:2] == (32, 48), f"shape {a.shape[:2]}, expected (32, 48)"
    h, w = a.shape[0] // 4, a.shape[1] // 4
    for (y, x), colour in zip([(h, w), (h, 3 * w), (3 * h, w), (3 * h, 3 * w)], (RED, GREEN, BLUE, YELLOW)):
        got = a[y, x].astype(int)
        assert np.abs(got - colour).max() <= 40, f"pixel at {(y, x)} is {got.tolist()}, expected {colour}"


# How a camera stores the upright picture for each EXIF orientation (the inverse of what a
# viewer applies to show it). From the TIFF/EXIF specification, independent of Pillow.
STORED_FOR_ORIENTATION = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # viewer mirrors horizontally
    3: lambda a: a[::-1, ::-1],  # viewer rotates 180
    4: lambda a: a[::-1, :],  # viewer mirrors vertically
    5: lambda a: a.transpose(1, 0, 2),  # viewer transposes
    6: lambda a: np.rot90(a, 1),  # viewer rotates 90 clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # viewer transverses
    8: lambda a: np.rot90(a, -1),  # viewer rotates 90 counter-clockwise
}


def png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims width x height (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def build(directory: str | os.PathLike) -> list[Case]:
    """Write the corpus into `directory` (created) and return its cases."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes | None = None, reason: str | None = None, check=None) -> Path:
        path = d / name
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(name, path, reason, check))
        return path

    red = Image.new("RGB", (40, 30), RED)
    upright = Image.fromarray(quadrants())
    rng = np.random.default_rng(0)

    # Not images at all, or broken ones.
    add("empty.jpg", b"", "empty")
    add("random-bytes.jpg", rng.bytes(5000), "not an image")
    add("text-renamed.jpg", b"This is a text file that somebody renamed to .jpg\n" * 20, "not an image")
    full_jpeg = encoded(upright.resize((160, 120)), "JPEG", quality=90)
    add("truncated.jpg", full_jpeg[: len(full_jpeg) // 2], "truncated")
    full_png = encoded(Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)), "PNG")
    add("truncated.png", full_png[: len(full_png) // 2], "truncated")
    broken_crc = bytearray(encoded(red, "PNG"))
    broken_crc[29] ^= 0xFF  # inside the IHDR chunk's CRC
    add("bad-checksum.png", bytes(broken_crc), "corrupt")
    png_header_only(add("bomb-20000x20000.png", None, "too large"), 20000, 20000)
    add(
        "svg-drawing.svg",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/></svg>\n',
        "SVG",
    )

    # Odd sizes.
    add("1x1.png", encoded(Image.new("RGB", (1, 1), GREEN), "PNG"), check=colour_near(GREEN, 0))
    add("1x10000.png", encoded(Image.new("RGB", (1, 10000), BLUE), "PNG"), "too narrow")

    # Modes and bit depths.
    deep = np.full((48, 64), 40000, np.uint16)  # 40000/65535 of white: 156 (clipping to 8 bits would give 255)
    add("16-bit-gray.png", encoded(Image.fromarray(deep), "PNG"), check=colour_near((156, 156, 156), 1))
    add("cmyk.jpg", encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"), check=colour_near((255, 0, 0)))
    add("grayscale.png", encoded(Image.new("L", (40, 30), 77), "PNG"), check=colour_near((77, 77, 77), 0))
    palette = Image.new("P", (40, 30), 1)
    palette.putpalette([0, 0, 0, *GREEN] + [0] * 762)
    add("palette.gif", encoded(palette, "GIF"), check=colour_near(GREEN, 0))
    frames = [Image.new("RGB", (40, 30), c).convert("P", palette=Image.Palette.ADAPTIVE) for c in (BLUE, RED, GREEN)]
    add(
        "animated.gif",
        encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        check=colour_near(BLUE, 10),  # the first frame
    )
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = RED
    rgba[:, :20, 3] = 255  # left half opaque red, right half transparent
    add("rgba-half-transparent.png", encoded(Image.fromarray(rgba, "RGBA"), "PNG"), check=_left_red_right_white)
    add("la-transparent.png", encoded(Image.new("LA", (40, 30), (0, 0)), "PNG"), check=colour_near((255, 255, 255), 0))
    add(
        "palette-transparent.png",
        encoded(palette, "PNG", transparency=1),
        check=colour_near((255, 255, 255), 0),
    )

    # EXIF orientations: each file stores the picture as a camera would, the loader must show it upright.
    for orientation, stored in STORED_FOR_ORIENTATION.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        image = Image.fromarray(np.ascontiguousarray(stored(quadrants())))
        add(f"exif-orientation-{orientation}.jpg", encoded(image, "JPEG", quality=95, exif=exif), check=check_upright)

    # Other containers Pillow reads.
    for name, fmt, kwargs in [
        ("image.webp", "WEBP", {"lossless": True}),
        ("image.tiff", "TIFF", {"compression": "tiff_lzw"}),
        ("image.bmp", "BMP", {}),
        ("image.ico", "ICO", {"sizes": [(32, 32)]}),
        ("jpeg-named.png", "JPEG", {"quality": 95}),
    ]:
        add(name, encoded(Image.new("RGB", (32, 32), YELLOW), fmt, **kwargs), check=colour_near(YELLOW, 12))

    # File-system oddities.
    (d / "a-directory.jpg").mkdir(exist_ok=True)
    add("a-directory.jpg", None, "directory")
    link = d / "broken-link.jpg"
    if not link.is_symlink():
        link.symlink_to(d / "does-not-exist.jpg")
    add("broken-link.jpg", None, "broken symbolic link")
    add("missing.jpg", None, "no such file")
    unreadable = add("unreadable.png", encoded(red, "PNG"), "permission denied")
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):  # root reads anything: then it must simply work
        cases[-1] = Case(unreadable.name, unreadable, None, colour_near(RED, 0))
    add("spaces and ünïcødé 名前.png", encoded(red, "PNG"), check=colour_near(RED, 0))
    return cases


def _left_red_right_white(a: np.ndarray) -> None:
    assert np.abs(a[15, 5].astype(int) - RED).max() == 0, f"opaque side is {a[15, 5].tolist()}"
    assert a[15, 35].tolist() == [255, 255, 255], f"transparent side is {a[15, 35].tolist()}, not white"


def main(argv: list[str]) -> int:
    """Write the corpus and print, per file, what the CLI does with it as the content image."""
    import contextlib
    import tempfile

    from painterly.frontends import cli
    from painterly.media import images

    directory = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="painterly-corpus-"))
    cases = build(directory)
    style = directory / "style-for-corpus.png"
    Image.new("RGB", (32, 32), BLUE).save(style)
    print("| file | outcome | message |\n|---|---|---|")
    for case in cases:
        out = directory / f"out-{abs(hash(case.name))}.png"
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main([str(case.path), str(style), "-o", str(out), "--size", "32", "--iterations", "1", "-q"])
        if code == 0:
            loaded = np.asarray(Image.open(out))
            outcome, message = f"works (exit {code})", f"output {loaded.shape[1]}x{loaded.shape[0]}"
            if case.check is not None:
                case.check(np.asarray(images.load(case.path)))
                message += "; loaded pixels checked"
        else:
            outcome = f"refused (exit {code})"
            message = err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else ""
        message = message.replace(str(directory) + os.sep, "")
        print(f"| {case.name} | {outcome} | {message} |")
        out.unlink(missing_ok=True)
    print(f"{len(cases)} files in {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

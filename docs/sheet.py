"""The contact sheets in docs/: images in a grid of rows, each column titled."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def cell(path: Path | str, height: int) -> Image.Image:
    """The image at `path`, RGB, resized to `height` px high."""
    image = Image.open(path).convert("RGB")
    return image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS)


def save_grid(rows: list[list[Image.Image]], titles: list[str] | tuple[str, ...], out: Path) -> Path:
    """`rows` of equally high cells under `titles`, 8 px apart, saved as JPEG at `out`."""
    height = rows[0][0].height
    widths = [max(row[k].width for row in rows) for k in range(len(titles))]
    sheet = Image.new("RGB", (sum(widths) + 8 * (len(widths) - 1), 24 + len(rows) * (height + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for k, title in enumerate(titles):
        draw.text((x + 4, 6), title, fill="black")
        for r, row in enumerate(rows):
            sheet.paste(row[k], (x, 24 + r * (height + 8)))
        x += widths[k] + 8
    sheet.save(out, quality=88)
    return out

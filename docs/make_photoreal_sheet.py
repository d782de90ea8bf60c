"""docs/photoreal-sheet.jpg: photo | style | painterly photoreal | painterly photoreal with the pair's
label images | DPST's published result, one row per pair in ../shared/images/photo/, from the renders
`bench/photoreal.py --keep FOLDER` kept (issue "Photo look transfer").

    .venv/bin/python bench/photoreal.py --configs 'photoreal,photoreal:{"labels": "pair"}' --keep /tmp/prb
    .venv/bin/python docs/make_photoreal_sheet.py /tmp/prb 4 27 45
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "images" / "photo"
ROW = 200  # px: the height of each row
COLUMNS = ("photo", "style", "painterly photoreal", "... with --labels", "DPST (published)")


def cell(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    return image.resize((round(image.width * ROW / image.height), ROW), Image.Resampling.LANCZOS)


def main() -> None:
    folder, pairs = Path(sys.argv[1]), sys.argv[2:]
    rows = [
        [cell(p) for p in (PHOTOS / f"in{n}.png", PHOTOS / f"tar{n}.png", folder / f"pair{n}-0.png",
                           folder / f"pair{n}-1.png", PHOTOS / f"dpst{n}.png")]
        for n in pairs
    ]  # fmt: skip
    widths = [max(row[k].width for row in rows) for k in range(len(COLUMNS))]
    sheet = Image.new("RGB", (sum(widths) + 8 * (len(widths) - 1), 24 + len(rows) * (ROW + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for k, title in enumerate(COLUMNS):
        draw.text((x + 4, 6), title, fill="black")
        for r, row in enumerate(rows):
            sheet.paste(row[k], (x, 24 + r * (ROW + 8)))
        x += widths[k] + 8
    out = Path(__file__).resolve().parent / "photoreal-sheet.jpg"
    sheet.save(out, quality=88)
    print(out)


if __name__ == "__main__":
    main()

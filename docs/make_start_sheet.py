"""docs/start-sheet.jpg: photo | the old default (noise, 128 px, 220 iterations) | the new default
(the photo in the artwork's palette, 181 px, 100 iterations) | artwork, one row per pair, from the
renders `bench/start_image.py --keep FOLDER` kept (issue "Half the passes").

    .venv/bin/python bench/start_image.py --pairs all --configs noise/128/220,default --keep /tmp/study
    .venv/bin/python docs/make_start_sheet.py /tmp/study tubingen:starry_night chelsea:starry_night ...
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from start_image import image_path  # noqa: E402

ROW = 240  # px: the height of each row
COLUMNS = ("photo", "old default: noise, 128 px, 220 its", "new default: palette, 181 px, 100 its", "artwork")


def cell(path: str) -> Image.Image:
    image = Image.open(path).convert("RGB")
    return image.resize((round(image.width * ROW / image.height), ROW), Image.Resampling.LANCZOS)


def main() -> None:
    folder, pairs = Path(sys.argv[1]), [pair.split(":") for pair in sys.argv[2:]]
    rows = []
    for photo, art in pairs:
        old, new = (folder / f"{photo}-{art}-{config}.png" for config in ("noise_128_220", "default"))
        rows.append([cell(image_path(photo, folder)), cell(str(old)), cell(str(new)), cell(image_path(art, folder))])
    widths = [max(row[k].width for row in rows) for k in range(len(COLUMNS))]
    sheet = Image.new("RGB", (sum(widths) + 8 * (len(widths) - 1), 24 + len(rows) * (ROW + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for k, title in enumerate(COLUMNS):
        draw.text((x + 4, 6), title, fill="black")
        for r, row in enumerate(rows):
            sheet.paste(row[k], (x, 24 + r * (ROW + 8)))
        x += widths[k] + 8
    out = Path(__file__).resolve().parent / "start-sheet.jpg"
    sheet.save(out, quality=88)
    print(out)


if __name__ == "__main__":
    main()

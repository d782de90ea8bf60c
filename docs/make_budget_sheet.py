"""docs/budget-sheet.jpg: per pair, `--time-budget` at 1/2 and 1/4 of the default's estimate, on an
idle machine and with a CPU-bound program taking one core, from the renders `bench/budget.py --keep
FOLDER` kept (issue "Honest on a busy machine", must-show 3).

    .venv/bin/python bench/budget.py --shares 0.5 0.25 --machines idle busy --keep /tmp/budget
    .venv/bin/python docs/make_budget_sheet.py /tmp/budget tubingen:starry_night astronaut:the_scream
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROW = 200  # px: the height of each row
RUNS = (("0.5", "idle"), ("0.25", "idle"), ("0.5", "busy"), ("0.25", "busy"))


def cell(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    return image.resize((round(image.width * ROW / image.height), ROW), Image.Resampling.LANCZOS)


def main() -> None:
    folder, pairs = Path(sys.argv[1]), [pair.split(":") for pair in sys.argv[2:]]
    titles = [f"1/{round(1 / float(share))} of the estimate, {machine}" for share, machine in RUNS]
    rows = [[cell(folder / f"{photo}-{art}-{share}-{machine}.png") for share, machine in RUNS] for photo, art in pairs]
    widths = [max(row[k].width for row in rows) for k in range(len(RUNS))]
    sheet = Image.new("RGB", (sum(widths) + 8 * (len(widths) - 1), 24 + len(rows) * (ROW + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for k, title in enumerate(titles):
        draw.text((x + 4, 6), title, fill="black")
        for r, row in enumerate(rows):
            sheet.paste(row[k], (x, 24 + r * (ROW + 8)))
        x += widths[k] + 8
    out = Path(__file__).resolve().parent / "budget-sheet.jpg"
    sheet.save(out, quality=88)
    print(out)


if __name__ == "__main__":
    main()

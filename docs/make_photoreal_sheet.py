"""docs/photoreal-sheet.jpg: photo | style | painterly photoreal | painterly photoreal with the pair's
label images | DPST's published result, one row per pair in ../shared/images/photo/, from the renders
`bench/photoreal.py --keep FOLDER` kept (issue "Photo look transfer").

    .venv/bin/python bench/photoreal.py --configs 'photoreal,photoreal:{"labels": "pair"}' --keep /tmp/prb
    .venv/bin/python docs/make_photoreal_sheet.py /tmp/prb 4 27 45
"""

from __future__ import annotations

import sys
from pathlib import Path

from sheet import cell, save_grid

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "images" / "photo"
ROW = 200  # px: the height of each row
COLUMNS = ("photo", "style", "painterly photoreal", "... with --labels", "DPST (published)")


def main() -> None:
    folder, pairs = Path(sys.argv[1]), sys.argv[2:]
    rows = [
        [cell(p, ROW) for p in (PHOTOS / f"in{n}.png", PHOTOS / f"tar{n}.png", folder / f"pair{n}-0.png",
                           folder / f"pair{n}-1.png", PHOTOS / f"dpst{n}.png")]
        for n in pairs
    ]  # fmt: skip
    out = save_grid(rows, COLUMNS, Path(__file__).resolve().parent / "photoreal-sheet.jpg")
    print(out)


if __name__ == "__main__":
    main()

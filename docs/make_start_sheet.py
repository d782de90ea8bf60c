"""docs/start-sheet.jpg: photo | the old default (noise, 128 px, 220 iterations) | the new default
(the photo in the artwork's palette, 181 px, 100 iterations) | artwork, one row per pair, from the
renders `bench/start_image.py --keep FOLDER` kept (issue "Half the passes").

    .venv/bin/python bench/start_image.py --pairs all --configs noise/128/220,default --keep /tmp/study
    .venv/bin/python docs/make_start_sheet.py /tmp/study tubingen:starry_night chelsea:starry_night ...
"""

from __future__ import annotations

import sys
from pathlib import Path

from sheet import cell, save_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from start_image import image_path  # noqa: E402

ROW = 240  # px: the height of each row
COLUMNS = ("photo", "old default: noise, 128 px, 220 its", "new default: palette, 181 px, 100 its", "artwork")


def main() -> None:
    folder, pairs = Path(sys.argv[1]), [pair.split(":") for pair in sys.argv[2:]]
    rows = []
    for photo, art in pairs:
        old, new = (folder / f"{photo}-{art}-{config}.png" for config in ("noise_128_220", "default"))
        paths = (image_path(photo, folder), str(old), str(new), image_path(art, folder))
        rows.append([cell(path, ROW) for path in paths])
    out = save_grid(rows, COLUMNS, Path(__file__).resolve().parent / "start-sheet.jpg")
    print(out)


if __name__ == "__main__":
    main()

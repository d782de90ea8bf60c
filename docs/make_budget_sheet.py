"""docs/budget-sheet.jpg: per pair, `--time-budget` at 1/2 and 1/4 of the default's estimate, on an
idle machine and with a CPU-bound program taking one core, from the renders `bench/budget.py --keep
FOLDER` kept (issue "Honest on a busy machine", must-show 3).

    .venv/bin/python bench/budget.py --shares 0.5 0.25 --machines idle busy --keep /tmp/budget
    .venv/bin/python docs/make_budget_sheet.py /tmp/budget tubingen:starry_night astronaut:the_scream
"""

from __future__ import annotations

import sys
from pathlib import Path

from sheet import cell, save_grid

ROW = 200  # px: the height of each row
RUNS = (("0.5", "idle"), ("0.25", "idle"), ("0.5", "busy"), ("0.25", "busy"))


def main() -> None:
    folder, pairs = Path(sys.argv[1]), [pair.split(":") for pair in sys.argv[2:]]
    titles = [f"1/{round(1 / float(share))} of the estimate, {machine}" for share, machine in RUNS]
    names = [[f"{photo}-{art}-{share}-{machine}.png" for share, machine in RUNS] for photo, art in pairs]
    rows = [[cell(folder / name, ROW) for name in row] for row in names]
    out = save_grid(rows, titles, Path(__file__).resolve().parent / "budget-sheet.jpg")
    print(out)


if __name__ == "__main__":
    main()

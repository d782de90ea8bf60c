"""What a time budget gives (issues "Honest on a slow machine", must-show 3, and "Honest on a busy
machine", must-show 3).

For each photo + style pair: the estimated time of the default render here, then a render with
`--time-budget` at the given shares of it, on an idle machine and with another CPU-bound process
beside it (`--busy`: a Python busy loop takes one core), in this process through the API (the
budget counts from the render's start): its wall time, the side and iterations its top scale was
planned, the side and iterations it reached there, whether it was upsampled, and the independent
scorer's figures at 512 px (../shared/tools/nst_eval.py content_rel / style_rel).

    .venv/bin/python bench/budget.py
    .venv/bin/python bench/budget.py --shares 0.25 0.5 --machines idle busy --keep /tmp/budget
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from passes import SHARED, scored

PAIRS = ("tubingen:starry_night", "astronaut:the_scream")


class Hog:
    """Another CPU-bound program (a Python busy loop, one core) while the block runs, if `on`."""

    def __init__(self, on: bool):
        self.on, self.process = on, None

    def __enter__(self) -> Hog:
        if self.on:
            self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)  # running before the measurement starts
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def picture(name: str, folder: Path) -> str:
    """A path for `name`: a file in ../shared/images, or one of scikit-image's sample photos."""
    shared = SHARED / "images" / f"{name}.jpg"
    if shared.exists():
        return str(shared)
    from painterly.media import images, samples

    path = folder / f"{name}.png"
    images.save(samples.photo(name), path)
    return str(path)


def budget_run(photo: str, style: str, seconds: float | None, out: Path) -> dict:
    """One render with a time budget of `seconds` (None: the default): wall, planned and reached top."""
    from painterly import api
    from painterly.media import images

    decided = api.plan(photo, style, time_budget=seconds)
    planned = decided.scales[-1]
    per_side, notes, last = collections.Counter(), [], None
    start = time.perf_counter()
    for last in api.render(decided):
        per_side[last.side] += 1
        notes += [last.note] if last.note else []
    wall = time.perf_counter() - start
    images.save(last.image, out)
    top = max(per_side)
    return dict(
        wall=wall, planned=(planned.side, planned.iterations), reached=(top, per_side[top]),
        upsampled=any("upsampled" in n for n in notes), notes=notes,
    )  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", nargs="+", default=PAIRS, help="PHOTO:STYLE names")
    p.add_argument("--shares", nargs="+", type=float, default=(0.25, 0.5), help="of the default's estimate")
    p.add_argument("--machines", nargs="+", default=("idle",), choices=("idle", "busy"))
    p.add_argument("--default", action="store_true", help="also render and score the default run")
    p.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = p.parse_args()
    from painterly import api
    from painterly.core import network, speed

    print(f"CPU: {network.cpu_model()}; kernels {network.kernel_isa()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        shares = [*args.shares, *([1.0] if args.default else [])]
        for pair in args.pairs:
            photo_name, style_name = pair.split(":")
            photo, style = picture(photo_name, folder), picture(style_name, folder)
            default = api.plan(photo, style)
            estimate = speed.plan_seconds(default, speed.measure(default.options))
            for machine in args.machines:
                for share in shares:
                    out = folder / f"{photo_name}-{style_name}-{share:g}-{machine}.png"
                    with Hog(machine == "busy"):
                        run = budget_run(photo, style, share * estimate if share < 1 else None, out)
                    figures = scored(photo, style, str(out), 512)
                    rows.append((pair, machine, share, share * estimate, run, figures))
                    print(f"{pair} {machine} {share:g}: {run['wall']:.0f} s, top {run['reached']} of {run['planned']}, "
                          f"{figures['content_rel']:.2f} / {figures['style_rel']:.2f}; {run['notes'][:3]}")  # fmt: skip
    print("\n| pair | machine | budget | wall | top planned | top reached | upsampled | content_rel | style_rel |")
    print("|---|---|---|---|---|---|---|---|---|")
    for pair, machine, share, seconds, run, f in rows:
        budget = f"{share:g} x est = {seconds:.0f} s" if share < 1 else f"none (default, est {seconds:.0f} s)"
        planned, reached = (f"{n} its at {side} px" for side, n in (run["planned"], run["reached"]))
        print(
            f"| {pair} | {machine} | {budget} | {run['wall']:.0f} s | {planned} | {reached} | "
            f"{'yes' if run['upsampled'] else 'no'} | {f['content_rel']:.2f} | {f['style_rel']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

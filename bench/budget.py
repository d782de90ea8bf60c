"""What a time budget gives (issue "Honest on a slow machine", must-show 3).

For each photo + style pair: the estimated time of the default render here, then the real CLI
with `--time-budget` at the given shares of it (fresh process, idle machine), its wall time and
output size, and the independent scorer's figures at 512 px (../shared/tools/nst_eval.py
content_rel / style_rel), beside the default render's own when `--default` is given.

    .venv/bin/python bench/budget.py
    .venv/bin/python bench/budget.py --shares 0.25 0.5 --default --keep /tmp/budget
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from passes import SHARED, scored

PAIRS = ("tubingen:starry_night", "astronaut:the_scream")


def picture(name: str, folder: Path) -> str:
    """A path for `name`: a file in ../shared/images, or one of scikit-image's sample photos."""
    shared = SHARED / "images" / f"{name}.jpg"
    if shared.exists():
        return str(shared)
    from painterly.media import images, samples

    path = folder / f"{name}.png"
    images.save(samples.photo(name), path)
    return str(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", nargs="+", default=PAIRS, help="PHOTO:STYLE names")
    p.add_argument("--shares", nargs="+", type=float, default=(0.25, 0.5), help="of the default's estimate")
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
            for share in shares:
                out = folder / f"{photo_name}-{style_name}-{share:g}.png"
                budget = ["--time-budget", f"{share * estimate:.0f}"] if share < 1 else []
                start = time.perf_counter()
                cmd = [sys.executable, "-m", "painterly", photo, style, "-o", str(out), "-q", "--overwrite", *budget]
                subprocess.run(cmd, check=True)
                wall = time.perf_counter() - start
                side = max(Image.open(out).size)
                figures = scored(photo, style, str(out), 512)
                rows.append((pair, share, share * estimate, wall, side, figures))
                rel = f"{figures['content_rel']:.2f} / {figures['style_rel']:.2f}"
                print(f"{pair} {share:g}: {wall:.0f} s, {side} px, {rel}")
    print("\n| pair | budget | wall | output | content_rel | style_rel |\n|---|---|---|---|---|---|")
    for pair, share, seconds, wall, side, f in rows:
        budget = f"{share:g} x est = {seconds:.0f} s" if share < 1 else f"none (default, est {seconds:.0f} s)"
        print(f"| {pair} | {budget} | {wall:.0f} s | {side} px | {f['content_rel']:.2f} | {f['style_rel']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

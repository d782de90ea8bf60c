"""The time estimate against the real wall time (issue "Honest on a slow machine", must-show 2).

For each setting, the estimate `painterly` prints before a run (`speed.plan_seconds` from this
machine's measured speed) and the wall time of the same command in a fresh process (imports,
network loading and all), idle machine; then the error. Run it twice, natively and held to the
AVX2 kernels, to cover both (each setting has its own measured speed):

    .venv/bin/python bench/estimate.py
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 .venv/bin/python bench/estimate.py
    .venv/bin/python bench/estimate.py --runs "256" "512" "1024 --iterations 100" "2048 --tile 768 --iterations 30"
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PAINTERLY_SHARED", HERE.parent.parent / "shared"))
RUNS = ("256", "512", "1024 --iterations 100", "2048 --tile 768 --iterations 30")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", default=str(SHARED / "images" / "tubingen.jpg"))
    p.add_argument("--style", default=str(SHARED / "images" / "starry_night.jpg"))
    p.add_argument("--runs", nargs="+", default=RUNS, help="'SIZE [painterly flags]' per run")
    args = p.parse_args()
    from painterly import api
    from painterly.core import network, speed
    from painterly.frontends.cli import flags, render

    print(f"CPU: {network.cpu_model()}; kernels {network.kernel_isa()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            size, *extra = shlex.split(run)
            argv = [args.content, args.style, "-o", str(Path(tmp) / f"{size}.png"), "--size", size, *extra]
            _, opts = flags.parse(render.parser(), argv)
            decided = api.plan(args.content, args.style, opts)
            estimate = speed.plan_seconds(decided, speed.measure(decided.options))
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "painterly", *argv, "-q", "--overwrite"], check=False)
            wall = time.perf_counter() - start
            rows.append((run, estimate, wall, done.returncode))
            print(f"{run:<32} estimate {estimate:7.1f} s  wall {wall:7.1f} s  {(estimate / wall - 1) * 100:+5.0f} %")
    print("\n| run | estimate | wall | error |\n|---|---|---|---|")
    for run, estimate, wall, code in rows:
        failed = "" if code == 0 else f" (exit {code})"
        print(f"| {run} | {estimate:.0f} s | {wall:.0f} s{failed} | {(estimate / wall - 1) * 100:+.0f} % |")
    return 0 if all(abs(e / w - 1) <= 0.25 and c == 0 for _, e, w, c in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The estimate against the wall time on an idle and on a busy machine (issue "Honest on a busy
machine", must-show 2).

The default 512 px render, `runs` times idle and `runs` times with another CPU-bound process
beside it (a Python busy loop: one of the cores taken). Each run is the real CLI in a fresh
process; what it printed before starting is read back: the estimate, and on the busy machine
whether it said so up front (the forecast) or within the run (a note in the first scale), and the
longer time it said. The error is that of what the run said: the busy estimate where it gave one.

    .venv/bin/python bench/busy.py
    .venv/bin/python bench/busy.py --runs 3 --size 512
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from budget import Hog
from passes import SHARED

ABOUT = re.compile(r"about ([\d.]+) (s|min|h)")
UNIT = {"s": 1.0, "min": 60.0, "h": 3600.0}


def said(stderr: str) -> tuple[float, float | None, bool]:
    """The idle estimate, the busy one (None when the forecast did not say busy) and whether the
    run said busy within (a note), read from the CLI's stderr."""
    lines = re.split(r"[\r\n]+", stderr)
    forecast = next(line for line in lines if " here: " in line and "passes of" in line)
    seconds = [float(n) * UNIT[u] for n, u in ABOUT.findall(forecast)]
    busy = seconds[1] if "the CPU is busy" in forecast else None
    within = any("the CPU is busy" in line for line in lines if line is not forecast)
    return seconds[0], busy, within


def run_once(content: str, style: str, size: int, out: Path) -> tuple[float, float, float, float | None, bool]:
    """Wall seconds of one default render (all of it, and from the moment it said its estimate: what
    the estimate is of), and what it said (see `said`)."""
    cmd = [sys.executable, "-m", "painterly", content, style, "-o", str(out), "--size", str(size), "--overwrite"]
    start, told, err = time.perf_counter(), None, b""
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        while chunk := proc.stderr.read1(4096):
            err += chunk
            if told is None and b"passes of" in err:
                told = time.perf_counter()
    end = time.perf_counter()
    if proc.returncode:
        raise SystemExit(f"the render failed: {err.decode()[-400:]}")
    return end - start, end - (told or start), *said(err.decode())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", default=str(SHARED / "images" / "tubingen.jpg"))
    p.add_argument("--style", default=str(SHARED / "images" / "starry_night.jpg"))
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    from painterly.core import network

    print(f"CPU: {network.cpu_model()}; kernels {network.kernel_isa()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o.png"
        for machine in ("idle", "busy"):
            with Hog(machine == "busy"):
                for i in range(args.runs):
                    total, wall, estimate, busy, within = run_once(args.content, args.style, args.size, out)
                    told = busy if busy is not None else estimate
                    rows.append((machine, i + 1, estimate, busy, within, total, wall, told / wall - 1))
                    print(f"{machine} {i + 1}: estimate {estimate:.0f} s, busy {busy}, {within=}, {wall=:.0f}")
    print("\nwall: from the estimate to the end (what the estimate is of); all: from the command's start\n")
    head = ["machine", "run", "estimate", "busy said up front", "said in the run", "all", "wall", "error"]
    print("| " + " | ".join(head) + " |\n" + "|---" * len(head) + "|")
    for machine, i, estimate, busy, within, total, wall, error in rows:
        up_front = f"yes: about {busy:.0f} s" if busy is not None else "no"
        said_within = "yes" if within else "no"
        cells = [machine, i, f"{estimate:.0f} s", up_front, said_within, f"{total:.0f} s", f"{wall:.0f} s"]
        cells.append(f"{error:+.0%}")
        print("| " + " | ".join(map(str, cells)) + " |")
    for machine in ("idle", "busy"):
        errors = [e for m, *_, e in rows if m == machine]
        walls = [w for m, *_, w, _ in rows if m == machine]
        print(f"{machine}: median wall {statistics.median(walls):.0f} s, median error {statistics.median(errors):+.0%}")
    idle_ok = all(abs(e) <= 0.25 for m, *_, e in rows if m == "idle")
    busy_ok = all(b is not None or w for m, _, _, b, w, *_ in rows if m == "busy")
    return 0 if idle_ok and busy_ok else 1


if __name__ == "__main__":
    sys.exit(main())

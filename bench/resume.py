"""Ctrl-C in a tiled print-size run, then --resume (issue "Print-size", must-show 5).

Runs `painterly tubingen starry_night --size SIZE --max-memory MEM` (which tiles the largest
scales), sends Ctrl-C once the progress bar reaches iteration AT (inside a tiled scale), resumes
from the checkpoint, renders the same command uninterrupted, and prints the mean difference.

    .venv/bin/python bench/resume.py --size 2048 --max-memory 3G --at 217
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from passes import SHARED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--max-memory", default="3G")
    ap.add_argument("--at", type=int, default=217, help="the iteration after which Ctrl-C is sent")
    args = ap.parse_args()
    images = SHARED / "images"
    command = [sys.executable, "-m", "painterly", str(images / "tubingen.jpg"), str(images / "starry_night.jpg")]
    command += ["--size", str(args.size), "--max-memory", args.max_memory]
    with tempfile.TemporaryDirectory() as tmp:
        out, full = Path(tmp) / "out.png", Path(tmp) / "full.png"
        started = time.monotonic()
        proc = subprocess.Popen(
            [*command, "-o", str(out)], stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "120"}
        )
        seen = ""
        while proc.poll() is None:
            seen += proc.stderr.read(1)
            if any(int(n) >= args.at for n in re.findall(r"it (\d+)/", seen)):
                break
        proc.send_signal(signal.SIGINT)
        tail = proc.communicate()[1].strip().splitlines()
        print(
            f"interrupted after {time.monotonic() - started:.0f} s (exit {proc.returncode}): {tail[-1] if tail else ''}"
        )
        print("\n".join(line for line in seen.splitlines() if "plan:" in line))
        started = time.monotonic()
        subprocess.run([*command, "-o", str(out), "--resume", f"{out}.ckpt", "-q"], check=True)
        print(f"resumed and finished in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        subprocess.run([*command, "-o", str(full), "-q"], check=True)
        print(f"uninterrupted run: {time.monotonic() - started:.0f} s")
        a, b = (np.asarray(Image.open(p).convert("RGB"), np.float32) for p in (out, full))
        print(f"mean |resumed - uninterrupted| = {np.abs(a - b).mean():.3f} / 255 (max {np.abs(a - b).max():.0f})")


if __name__ == "__main__":
    main()

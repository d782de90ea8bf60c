"""Batch throughput (issue "Many images", must-show 4): 20 small jobs, local vs Ray on this machine.

Ten photos (scikit-image's samples, cropped) in two styles (../shared/images when present, else
generated) at --size 128, 60 iterations: each backend renders the batch into a fresh folder as the
user would (`painterly batch ... -q` in a child process), repeated; then a re-run that must skip
everything. Prints jobs/minute (median over the repeats), seconds, peak RSS of the whole process
tree (driver, Ray's GCS and raylets, workers; sampled every 0.1 s) and the pass time of this CPU
(bench/passes.py's unit, timed here).

    .venv/bin/python bench/batch.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import artwork_like  # noqa: E402
from passes import SHARED, cpu, pass_time  # noqa: E402

BACKENDS = {
    "local (1 job at a time, 2 threads)": ["--backend", "local"],
    "ray (2 tasks x 1 CPU)": ["--backend", "ray", "--cpus-per-job", "1"],
    "ray (1 task x 2 CPUs)": ["--backend", "ray", "--cpus-per-job", "2"],
}


def make_inputs(folder: Path) -> list[Path]:
    """Ten photos in folder/photos and two style images; returns the styles."""
    from skimage import data

    photos = folder / "photos"
    photos.mkdir()
    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    for i in range(10):
        image = sources[i % len(sources)]
        h, w = image.shape[:2]
        crop = image[: h - (i // 5) * h // 4, (i // 5) * w // 4 :]
        Image.fromarray(np.ascontiguousarray(crop)).save(photos / f"photo{i:02d}.png")
    styles = [SHARED / "images" / n for n in ("starry_night.jpg", "the_scream.jpg")]
    if not all(s.exists() for s in styles):
        styles = [folder / f"art{i}.png" for i in range(2)]
        for i, path in enumerate(styles):
            artwork_like(256, 256, seed=i).save(path)
    return styles


def run(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (GiB, summed over the process and its descendants) of a child command."""
    started = time.monotonic()
    proc = psutil.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        peak = max(peak, total)
        time.sleep(0.1)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.read().decode()[-2000:]}")
    return seconds, peak / 2**30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=60)
    args = ap.parse_args()
    model, flags = cpu()
    unit = pass_time(bf16=any(f in flags for f in ("avx512_bf16", "amx_bf16")))
    print(f"CPU: {model} ({' '.join(flags)}), {psutil.cpu_count()} cores; pass {unit:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        styles = make_inputs(folder)
        base = [sys.executable, "-m", "painterly", "batch", str(folder / "photos")]
        base += [a for s in styles for a in ("--style", str(s))]
        base += ["--size", str(args.size), "--iterations", str(args.iterations), "-q"]
        print(
            f"20 jobs (10 photos x 2 styles) at {args.size} px, {args.iterations} iterations; {args.repeats} runs each"
        )
        print(f"{'backend':<36} {'jobs/min':>9} {'s (median)':>10} {'runs s':>22} {'peak RSS GiB':>13} {'re-run s':>9}")
        for name, extra in BACKENDS.items():
            times, peaks = [], []
            for r in range(args.repeats):
                seconds, peak = run([*base, *extra, "-o", str(folder / f"out-{len(times)}-{r}-{extra[1]}{extra[-1]}")])
                times.append(seconds)
                peaks.append(peak)
            rerun, _ = run([*base, *extra, "-o", str(folder / f"out-0-0-{extra[1]}{extra[-1]}")])
            median = statistics.median(times)
            runs = " ".join(f"{t:.1f}" for t in times)
            print(f"{name:<36} {20 * 60 / median:>9.1f} {median:>10.1f} {runs:>22} {max(peaks):>13.2f} {rerun:>9.1f}")


if __name__ == "__main__":
    main()

"""Seconds per iteration and peak RSS of painterly's optimisation, per size and compute setting.

Each configuration runs in a fresh process (so peak RSS is its own) on synthetic-free real
photos from scikit-image, single scale, L-BFGS. Prints a table; medians over --repeats.

    python bench/speed.py --sizes 256,512,1024 --iterations 10 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CONFIGS = {
    "fp32-nchw": dict(precision="fp32", channels_last=False),
    "fp32-cl": dict(precision="fp32", channels_last=True),
    "bf16-nchw": dict(precision="bf16", channels_last=False),
    "bf16-cl": dict(precision="bf16", channels_last=True),
}

CHILD = r"""
import json, resource, sys, time
import painterly
from painterly.media import samples
size, iterations, config = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
content, style = samples.photo("chelsea"), samples.photo("immunohistochemistry")
t0 = time.perf_counter()
times, last = [], None
for step in painterly.stylize_iter(content, style, size=size, iterations=iterations, multiscale=False, **config):
    times.append(time.perf_counter())
    last = step
per_it = (times[-1] - times[0]) / (len(times) - 1)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(per_it=per_it, evals=last.evaluations / iterations, rss=rss, total=time.perf_counter() - t0,
                      loss=last.loss)))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="256,512,1024")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {','.join(CONFIGS)}")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'size':>5} {'config':10} {'s/iter':>8} {'iter/s':>7} {'evals/it':>8} {'peak RSS MiB':>12} {'runs':>4}")
    for size in sizes:
        for name in args.configs.split(","):
            runs = []
            for _ in range(args.repeats):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(size), str(args.iterations), json.dumps(CONFIGS[name])],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            per_it = statistics.median(r["per_it"] for r in runs)
            rss = statistics.median(r["rss"] for r in runs)
            evals = statistics.median(r["evals"] for r in runs)
            print(
                f"{size:5d} {name:10} {per_it:8.3f} {1 / per_it:7.2f} {evals:8.2f} {rss:12.0f} {len(runs):4d}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""What one tiled evaluation costs at print sizes, per tile size (issue "Print-size").

For each tile size, a fresh process builds the objective of tubingen + starry_night at SIZE px
(targets tile by tile) and times EVALS evaluations of the objective and its gradient (two passes
over the tiles: Grams, then gradients). Prints seconds, passes (the unit of bench/passes.py,
timed in this run) per evaluation and per megapixel, and peak RSS. Medians.

    .venv/bin/python bench/tiles.py --size 4096 --tiles 512,768,1024
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from passes import SHARED, cpu, pass_time

EVALUATE = r"""
import json, resource, sys, time
import torch
import painterly
from painterly.core import evaluate, network, objective, sizes
from painterly.media import images
content, style, size, tile, evals = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
opts = painterly.Options(size=size, tile=tile)
c = images.load(content)
wh = sizes.output_size(c, size)
device = network.pick_device("auto")
t0 = time.perf_counter()
target = objective.build(c, [images.load(style)], opts, wh, device, tile=tile)
build = time.perf_counter() - t0
x = images.to_tensor(c.resize(wh, images.RESAMPLE)).to(device)
times = []
for k in range(evals):
    t0 = time.perf_counter()
    evaluate.loss_and_grad(target, x, tile, (16 * k, 32 * k))
    times.append(time.perf_counter() - t0)
print(json.dumps(dict(build=build, evaluation=sorted(times)[len(times) // 2], size=wh,
                      rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--tiles", default="512,768,1024")
    ap.add_argument("--evals", type=int, default=3)
    args = ap.parse_args()
    model, flags = cpu()
    unit = pass_time(bf16=any(f in flags for f in ("avx512_bf16", "amx_bf16")))
    print(f"CPU: {model} ({' '.join(flags)}); pass {unit:.3f} s")
    images = SHARED / "images"
    print(f"{'tile':>5} {'WxH':>10} {'build s':>8} {'eval s':>7} {'passes/eval':>11} {'passes/MP':>9} {'peak RSS':>9}")
    for tile in (int(t) for t in args.tiles.split(",")):
        out = subprocess.run(
            [sys.executable, "-c", EVALUATE, str(images / "tubingen.jpg"), str(images / "starry_night.jpg"),
             str(args.size), str(tile), str(args.evals)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        w, h = r["size"]
        passes = r["evaluation"] / unit
        print(
            f"{tile:>5} {w}x{h:<5} {r['build']:>8.1f} {r['evaluation']:>7.1f} {passes:>11.0f} "
            f"{passes / (w * h / 1e6):>9.1f} {r['rss'] / 1024:>7.2f} G"
        )


if __name__ == "__main__":
    main()

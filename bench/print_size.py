"""A print-size render, scale by scale (issue "Print-size", must-show 2).

Renders tubingen + starry_night at SIZE px in a fresh process with the default plan (or
--max-memory) and prints, per scale: side, tile, iterations, seconds, passes (the unit of
bench/passes.py, timed in this run) and its peak RSS; then the totals and what the same
size would need on the whole image (the memory estimate).

    .venv/bin/python bench/print_size.py --size 4096 --out /tmp/big.png --crop docs/print-4096-crop.jpg
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from passes import SHARED, cpu, pass_time

RENDER = r"""
import json, sys, time
t0 = time.perf_counter()
import painterly
from painterly import api
from painterly.media import images
from painterly.core import resources
content, style, out, size, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
plan = api.plan(content, style, size=size, **extra)
w, h = plan.size
def peak():  # GiB: the high-water mark of resident memory since the last reset, then reset it
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return hwm
ends = [sum(s.iterations for s in plan.scales[: k + 1]) for k in range(len(plan.scales))]
rows, started, last, counts, notes = [], time.perf_counter(), None, [], []
for last in api.render(plan):
    counts.append(last.evaluations)  # the scale's evaluations so far (a new scale starts from 0)
    notes += [last.note] if last.note else []
    if last.iteration in ends:  # a scale's last step: its build, balance and iterations are done
        now = time.perf_counter()
        per = [b - a for a, b in zip([0] + counts[:-1], counts)]
        rows.append(dict(seconds=now - started, rss=peak(), evaluations=last.evaluations, per_iteration=per,
                         notes=notes))
        started, counts, notes = now, [], []
images.save(last.image, out, plan.metadata(last), plan.options.bit_depth, plan.dpi)
scales = [dict(side=s.side, tile=s.tile, iterations=s.iterations, estimate=s.memory) for s in plan.scales]
whole = resources.estimate(w, h, plan.options.lbfgs_history, True)[1]
print(json.dumps(dict(wall=time.perf_counter() - t0, rows=rows, scales=scales, whole=whole, size=[w, h])))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--out", default="/tmp/painterly-print.png")
    ap.add_argument("--crop", default=None, help="also write a 1024x768 crop at 100%% (sky and roofs) here")
    ap.add_argument("--painterly", default="{}", help="more options as JSON, e.g. '{\"max_memory\": 6e9}'")
    args = ap.parse_args()
    model, flags = cpu()
    unit = pass_time(bf16=any(f in flags for f in ("avx512_bf16", "amx_bf16")))
    fp32 = pass_time(bf16=False)
    print(f"CPU: {model} ({' '.join(flags)}); pass {unit:.3f} s (fp32 pass {fp32:.3f} s)")
    images = SHARED / "images"
    out = subprocess.run(
        [sys.executable, "-c", RENDER, str(images / "tubingen.jpg"), str(images / "starry_night.jpg"), args.out,
         str(args.size), args.painterly],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{'side':>5} {'tile':>5} {'its':>4} {'evals':>5} {'seconds':>8} {'passes':>7} {'peak RSS':>9} {'estimate':>9}"
    )
    for row, scale in zip(r["rows"], r["scales"]):
        print(
            f"{scale['side']:>5} {scale['tile'] or '-':>5} {scale['iterations']:>4} {row['evaluations']:>5} "
            f"{row['seconds']:>8.1f} {row['seconds'] / unit:>7.0f} {row['rss']:>7.2f} G "
            f"{scale['estimate'] / 2**30:>7.2f} G"
        )
    w, h = r["size"]
    print(
        f"{w}x{h}: {r['wall']:.0f} s = {r['wall'] / unit:.0f} passes ({r['wall'] / fp32:.0f} fp32 passes), "
        f"peak RSS {max(x['rss'] for x in r['rows']):.2f} GiB; on the whole image it would need "
        f"about {r['whole'] / 2**30:.0f} GiB"
    )

    if args.crop:
        from PIL import Image

        with Image.open(args.out) as im:
            x, y = round(im.width * 0.45), round(im.height * 0.2)
            im.convert("RGB").crop((x, y, x + 1024, y + 768)).save(args.crop, quality=90)
        print(f"100% crop: {args.crop}")


if __name__ == "__main__":
    main()

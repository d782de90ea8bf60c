"""Photo to photo (issue "Photo look transfer", must-show 1-3): for each pair in ../shared/images/photo/
(inN.png the photo, tarN.png the look, seg_*N.png DPST's label images, dpstN.png DPST's published
result), painterly's renders at 700 px and DPST's result, scored by ../shared/tools/photoreal.py
(affine / colour / regional / edges, regions from the pair's label images), with wall time, passes
(wall over this machine's pass, timed in the same run) and peak RSS; each render in a fresh process.

    .venv/bin/python bench/photoreal.py
    .venv/bin/python bench/photoreal.py --configs 'photoreal,photoreal:{"labels": "pair"},:{"size": 512}' --keep /tmp/pr
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from passes import SHARED, TOOLS, cpu, pass_time

PHOTOS = SHARED / "images" / "photo"
RENDER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from painterly import api
from painterly.core.presets import with_preset
from painterly.media import images
content, style, out, preset, changes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
last = None
for last in api.render(api.plan(content, style, with_preset(preset or None, changes))):
    pass
images.save(images.to_image(last.image), out)
print(json.dumps(dict(wall=time.perf_counter() - t0, iterations=last.iteration,
                      rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def render(n: str, out: Path, config: str, size: int) -> dict:
    """One render of pair `n` with `config` ('PRESET' or 'PRESET:{json changes}'; "labels": "pair" takes
    the pair's label images; an empty PRESET is the default) in a fresh process: wall, RSS."""
    preset, _, changes = config.partition(":")
    values = {"size": size, **json.loads(changes or "{}")}
    if values.get("labels") == "pair":
        values["labels"] = [str(PHOTOS / f"seg_in{n}.png"), str(PHOTOS / f"seg_tar{n}.png")]
    photo, look, extra = PHOTOS / f"in{n}.png", PHOTOS / f"tar{n}.png", json.dumps(values)
    done = subprocess.run([sys.executable, "-c", RENDER, str(photo), str(look), str(out), preset, extra],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        sys.exit(f"render failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scores(n: str, outputs: list[Path]) -> list[dict]:
    """photoreal.py's figures for `outputs` of pair `n`, regions from the pair's label images."""
    cmd = [sys.executable, str(TOOLS / "photoreal.py"), "--content", str(PHOTOS / f"in{n}.png"),
           "--style", str(PHOTOS / f"tar{n}.png"), "--json", "--regions", str(PHOTOS / f"seg_in{n}.png"),
           str(PHOTOS / f"seg_tar{n}.png"), *map(str, outputs)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.strip().splitlines()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    pairs = sorted((f.stem[2:] for f in PHOTOS.glob("in*.png")), key=int)
    p.add_argument("--pairs", nargs="+", default=pairs)
    p.add_argument("--configs", default="photoreal", help="comma-separated PRESET or PRESET:{json changes}")
    p.add_argument("--size", type=int, default=700)
    p.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = p.parse_args()
    model, flags = cpu()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    fp32 = pass_time(False)
    unit = pass_time(True) if native else fp32
    print(f"# CPU {model}; pass (512x384 fwd+bwd) {unit:.3f} s {'bf16' if native else 'fp32'}, fp32 {fp32:.3f} s")
    configs = [c for c in re.split(r",(?![^{]*})", args.configs) if c]  # commas inside {...} stay
    print("| pair | render | wall s | passes | fp32 passes | peak RSS MiB | affine | colour | regional | edges |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in args.pairs:
            runs = {}
            for k, config in enumerate(configs):
                out = folder / f"pair{n}-{k}.png"
                runs[config] = (out, render(n, out, config, args.size))
            outputs = [out for out, _ in runs.values()] + [PHOTOS / f"dpst{n}.png"]
            for (config, (_, run)), s in zip([*runs.items(), ("DPST (published)", (None, None))], scores(n, outputs)):
                timing = ["-"] * 4
                if run:
                    wall = run["wall"]
                    timing = [f"{wall:.0f}", f"{wall / unit:.1f}", f"{wall / fp32:.1f}", f"{run['rss']:.0f}"]
                figures = [f"{s[key]:.2f}" for key in ("affine", "colour", "regional", "edges")]
                print("| " + " | ".join([n, config, *timing, *figures]) + " |", flush=True)


if __name__ == "__main__":
    main()

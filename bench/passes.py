"""The cost of a render in passes, whatever the CPU (issue "Fast and clean").

A pass = one forward + backward of VGG-19 up to conv5_1 on a 512x384 image, channels_last, in
the precision the machine does natively (bf16 autocast where the CPU has avx512_bf16 or AMX,
fp32 elsewhere), timed here in the same run. A render's cost in passes = its wall time (model
load included, in a fresh process) / the pass time. Also prints peak RSS, the independent
scorer's figures (../shared/tools/nst_eval.py) and grain (../shared/tools/grain.py). Medians.

    .venv/bin/python bench/passes.py                       # tubingen + starry_night, 512 px, 3 runs
    .venv/bin/python bench/passes.py --sizes 512,1024 --repeats 1 --styles starry_night,the_scream
    .venv/bin/python bench/passes.py --painterly '{"precision": "fp32"}'
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PAINTERLY_SHARED", HERE.parent.parent / "shared"))  # images/ and tools/
TOOLS = SHARED / "tools"

RENDER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import painterly
from painterly.media import images
content, style, out, size, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
last = None
for last in painterly.stylize_iter(content, style, size=size, **extra):
    pass
images.save(images.to_image(last.image), out)
print(json.dumps(dict(wall=time.perf_counter() - t0, iterations=last.iteration, evaluations=last.evaluations,
                      rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def cpu() -> tuple[str, list[str]]:
    """The CPU's model name and the flags that decide the precision."""
    from painterly.core import network

    flags = network.cpu_flags()
    return network.cpu_model() or platform.processor(), [
        f for f in ("avx2", "avx512f", *network.BF16_FLAGS) if f in flags
    ]


def pass_time(bf16: bool, repeats: int = 5, device: str = "cpu") -> float:
    """Median seconds of one VGG-19 forward+backward (to conv5_1) on 512x384, channels_last."""
    import torch

    from painterly.core import network, options, vgg

    net = network.build(options.Options(), ["conv5_1"], torch.device(device))
    x = torch.rand(1, 3, 384, 512, device=device).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    times = []
    for k in range(repeats + 3):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            out = net(vgg.preprocess(x), ["conv5_1"])["conv5_1"]
        out.float().pow(2).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        if k >= 3:  # the first are warm-ups
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RENDER, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"render failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scored(content: str, style: str, image: str, size: int) -> dict:
    """nst_eval's content_rel, style_rel and total at `size`, and grain.py's hf, of `image`."""
    out = subprocess.run(
        [sys.executable, str(TOOLS / "nst_eval.py"), "--content", content, "--style", style,
         "--size", str(min(size, 512)), "--json", image],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(TOOLS))
    import grain

    return dict(
        content_rel=figures["content_rel"],
        style_rel=figures["style_rel"],
        total=figures["total"],
        hf=grain.measure(image, min(size, 512))["hf"],
        style_hf=grain.measure(style, min(size, 512))["hf"],
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", default=str(SHARED / "images" / "tubingen.jpg"))
    p.add_argument("--styles", default="starry_night", help="names in ../shared/images or paths, comma-separated")
    p.add_argument("--sizes", default="512")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--painterly", default="{}", help='extra options as JSON, e.g. \'{"precision": "fp32"}\'')
    p.add_argument("--keep", type=Path, help="copy the outputs here")
    args = p.parse_args()
    import torch

    model, flags = cpu()
    if torch.cuda.is_available():  # painterly's default then runs there, in bf16 where supported
        native, device = torch.cuda.is_bf16_supported(), "cuda"
        print(f"# GPU {torch.cuda.get_device_name()}; CPU {model}; torch {torch.__version__}")
    else:
        torch.set_num_threads(2)
        native, device = "avx512_bf16" in flags or "amx_bf16" in flags, "cpu"
        print(f"# CPU {model}; flags {' '.join(flags)}; torch {torch.__version__}, 2 threads")
    fp32 = pass_time(False, device=device)
    bf16 = pass_time(True, device=device) if native else None
    unit = bf16 if native else fp32
    print(f"# pass (VGG-19 fwd+bwd to conv5_1, 512x384, channels_last): fp32 {fp32:.4f} s", end="")
    print(f", bf16 {bf16:.4f} s (the unit)" if native else " (the unit; no native bf16)")
    print(
        "| style | size | wall s | passes | iterations | evaluations | peak RSS MiB | content_rel | style_rel "
        "| total | hf | style hf |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.styles.split(","):
        style = name if "/" in name else str(SHARED / "images" / f"{name}.jpg")
        for size in (int(s) for s in args.sizes.split(",")):
            runs = []
            with tempfile.TemporaryDirectory() as tmp:
                for r in range(args.repeats):
                    out = f"{tmp}/{Path(style).stem}-{size}-{r}.png"
                    runs.append({**child(args.content, style, out, str(size), args.painterly), "out": out})
                runs.sort(key=lambda r: r["wall"])
                median = runs[len(runs) // 2]
                s = scored(args.content, style, median["out"], size)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    Path(args.keep / Path(median["out"]).name).write_bytes(Path(median["out"]).read_bytes())
            wall = median["wall"]
            rss = statistics.median(r["rss"] for r in runs)
            print(
                f"| {Path(style).stem} | {size} | {wall:.1f} | {wall / unit:.1f} | {median['iterations']} | "
                f"{median['evaluations']} | {rss:.0f} | {s['content_rel']:.3f} | {s['style_rel']:.3f} | "
                f"{s['total']:.3g} | {s['hf']:.4f} | {s['style_hf']:.4f} |"
            )


if __name__ == "__main__":
    main()

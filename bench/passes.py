"""The cost of a render in passes, whatever the CPU (issue "Fast and clean").

A pass = one forward + backward of VGG-19 up to conv5_1 on a 512x384 image, channels_last, in
the precision the machine does natively (bf16 autocast where the CPU has avx512_bf16 or AMX,
fp32 elsewhere), timed here in the same run. A render's cost in passes = its wall time (model
load included, in a fresh process) / the pass time. Also prints peak RSS, the independent
scorer's figures (../shared/tools/nst_eval.py, at the render's size up to --score-size) and grain
(../shared/tools/grain.py). Passes are given in the native unit and in fp32 passes. Medians.

    .venv/bin/python bench/passes.py                       # tubingen + starry_night, 512 px, 3 runs
    .venv/bin/python bench/passes.py --pairs six --repeats 1   # the issue "Half the passes" six pairs
    .venv/bin/python bench/passes.py --sizes 1024,2048 --repeats 1 --preset classic --score-size 2048
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

# Shared images and scikit-image's photos, with three different artworks (issue "Half the passes").
PAIRS = (
    ("tubingen", "starry_night"),
    ("tubingen", "the_scream"),
    ("chelsea", "starry_night"),
    ("astronaut", "shipwreck"),
    ("coffee", "the_scream"),
    ("rocket", "shipwreck"),
)


def image_path(name: str, folder: Path) -> str:
    """A path as given, a shared image's path, or a scikit-image photo written as PNG into `folder`."""
    if "/" in name:
        return name
    shared = SHARED / "images" / f"{name}.jpg"
    if shared.exists():
        return str(shared)
    from painterly.media import samples

    path = folder / f"{name}.png"
    samples.photo(name).save(path)
    return str(path)


RENDER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import painterly
from painterly.core.presets import with_preset
from painterly.media import images
content, style, out, size, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
options = with_preset(extra.pop("preset", None), extra)
last = None
for last in painterly.stylize_iter(content, style, options, size=size):
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


def scored(content: str, style: str, image: str, size: int, cap: int = 512) -> dict:
    """nst_eval's content_rel, style_rel and total at `size` (at most `cap`), and grain.py's hf, of `image`."""
    out = subprocess.run(
        [sys.executable, str(TOOLS / "nst_eval.py"), "--content", content, "--style", style,
         "--size", str(min(size, cap)), "--json", image],
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
    p.add_argument("--pairs", default="tubingen:starry_night",
                   help="PHOTO:ART,... (names in ../shared/images, scikit-image photos or paths) or 'six'")  # fmt: skip
    p.add_argument("--sizes", default="512")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--preset", help="a painterly preset, e.g. classic (the default before the palette start)")
    p.add_argument("--painterly", default="{}", help='extra options as JSON, e.g. \'{"precision": "fp32"}\'')
    p.add_argument("--score-size", type=int, default=512, help="nst_eval and grain at min(size, this)")
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
    print(f"# preset {args.preset or '(default)'}; options {args.painterly}; scored at up to {args.score_size} px")
    print(
        "| photo | artwork | size | wall s | passes | fp32 passes | iterations | evaluations | peak RSS MiB "
        "| content_rel | style_rel | total | hf | artwork hf |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    extra = json.dumps({**json.loads(args.painterly), **({"preset": args.preset} if args.preset else {})})
    pairs = PAIRS if args.pairs == "six" else [tuple(pair.split(":")) for pair in args.pairs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for photo_name, art_name in pairs:
            content, style = image_path(photo_name, Path(tmp)), image_path(art_name, Path(tmp))
            for size in (int(s) for s in args.sizes.split(",")):
                runs = []
                for r in range(args.repeats):
                    out = f"{tmp}/{Path(content).stem}-{Path(style).stem}-{size}-{r}.png"
                    runs.append({**child(content, style, out, str(size), extra), "out": out})
                runs.sort(key=lambda r: r["wall"])
                median = runs[len(runs) // 2]
                s = scored(content, style, median["out"], size, args.score_size)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    Path(args.keep / Path(median["out"]).name).write_bytes(Path(median["out"]).read_bytes())
                wall = median["wall"]
                rss = statistics.median(r["rss"] for r in runs)
                print(
                    f"| {Path(content).stem} | {Path(style).stem} | {size} | {wall:.1f} | {wall / unit:.1f} | "
                    f"{wall / fp32:.1f} | {median['iterations']} | {median['evaluations']} | {rss:.0f} | "
                    f"{s['content_rel']:.3f} | {s['style_rel']:.3f} | {s['total']:.3g} | {s['hf']:.4f} | "
                    f"{s['style_hf']:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()

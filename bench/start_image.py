"""Where a render starts (issue "Half the passes"): start image x first scale x iterations, on six
photo + artwork pairs, each render's cost in passes and its figures.

Start images, each made here and given to the render as `--init FILE` (so today's code runs them):
`noise` (white noise), `photo`, `hist` (the photo recoloured to the artwork by per-channel
histogram matching, scikit-image), `lab` (the photo's LAB mean and covariance moved to the
artwork's). A config is `START/FIRST_SCALE/ITERATIONS`, or `default` (whatever painterly's default
is in this checkout). Each render runs once in a fresh process: wall / the pass time measured here
= passes (fp32 and native are the same unit on a CPU without native bf16; both are printed), and
nst_eval (512 px) and grain score it. Medians are not taken: one run each.

    .venv/bin/python bench/start_image.py --pairs all --configs noise/128/220,hist/181/100
    .venv/bin/python bench/start_image.py --pairs tubingen:starry_night --configs photo/181/100,lab/181/100
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from passes import PAIRS, child, cpu, image_path, pass_time, scored


def start_image(kind: str, content: str, style: str, folder: Path) -> str | None:
    """The start image file of `kind` for this pair (None: painterly's own noise start)."""
    from skimage import color, exposure

    if kind == "noise":
        return None
    photo = np.asarray(Image.open(content).convert("RGB"), dtype=np.float64) / 255
    art = np.asarray(Image.open(style).convert("RGB"), dtype=np.float64) / 255
    if kind == "photo":
        made = photo
    elif kind == "hist":
        made = exposure.match_histograms(photo, art, channel_axis=-1)
    elif kind == "lab":
        a, b = color.rgb2lab(photo).reshape(-1, 3), color.rgb2lab(art).reshape(-1, 3)
        ca, cb = np.linalg.cholesky(np.cov(a.T) + 1e-6 * np.eye(3)), np.linalg.cholesky(np.cov(b.T) + 1e-6 * np.eye(3))
        moved = (a - a.mean(0)) @ np.linalg.inv(ca).T @ cb.T + b.mean(0)
        made = color.lab2rgb(moved.reshape(photo.shape))
    else:
        raise SystemExit(f"unknown start {kind!r}")
    path = folder / f"start-{kind}-{Path(content).stem}-{Path(style).stem}.png"
    Image.fromarray((np.clip(made, 0, 1) * 255).round().astype(np.uint8)).save(path)
    return str(path)


def options_of(config: str, content: str, style: str, folder: Path) -> dict:
    """painterly options for a config `START/FIRST_SCALE/ITERATIONS` (or `default`: none)."""
    if config == "default":
        return {}
    kind, first, iterations = config.split("/")
    init = start_image(kind, content, style, folder)
    return {"min_scale": int(first), "iterations": int(iterations), "init": init or "noise"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default="tubingen:starry_night", help="PHOTO:ART,... or 'all' (the six)")
    p.add_argument("--configs", default="noise/128/220,hist/181/100")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--keep", type=Path, help="copy the outputs here")
    args = p.parse_args()
    import torch

    torch.set_num_threads(2)
    model, flags = cpu()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    fp32 = pass_time(False)
    unit = pass_time(True) if native else fp32
    print(f"# CPU {model}; flags {' '.join(flags)}; pass: fp32 {fp32:.3f} s, native {unit:.3f} s")
    print("| photo | artwork | config | wall s | passes | fp32 passes | iterations | evaluations | content_rel "
          "| style_rel | total | hf | artwork hf |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    pairs = PAIRS if args.pairs == "all" else [tuple(pair.split(":")) for pair in args.pairs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for photo_name, art_name in pairs:
            content, style = image_path(photo_name, folder), image_path(art_name, folder)
            for config in args.configs.split(","):
                extra = options_of(config, content, style, folder)
                out = folder / f"{photo_name}-{art_name}-{config.replace('/', '_')}.png"
                run = child(content, style, str(out), str(args.size), json.dumps(extra))
                s = scored(content, style, str(out), args.size)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / out.name).write_bytes(out.read_bytes())
                print(f"| {photo_name} | {art_name} | {config} | {run['wall']:.1f} | {run['wall'] / unit:.1f} | "
                      f"{run['wall'] / fp32:.1f} | {run['iterations']} | {run['evaluations']} | "
                      f"{s['content_rel']:.3f} | {s['style_rel']:.3f} | {s['total']:.3g} | {s['hf']:.4f} | "
                      f"{s['style_hf']:.4f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""Seams of a tiled render (issue "Print-size", must-show 3).

Renders tubingen + starry_night at SIZE px twice, on the whole image and with --tile TILE at every
scale larger than a tile, and measures the mean image gradient (|difference of neighbouring
pixels|, 0..255) across tile borders against everywhere else: across the borders of the unshifted
grid (multiples of TILE) and across every place a moved grid can put a border (multiples of 16 px).
A seam shows as a ratio above 1. Also writes a 100% crop around a grid corner of both renders.

    .venv/bin/python bench/seams.py --size 1024 --tile 384 --crop /tmp/seams.png
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

import painterly
from passes import SHARED


def ratio(image: np.ndarray, period: int) -> float:
    """Mean |gradient| across the borders at multiples of `period` px over the mean elsewhere."""
    a = image.astype(np.float32)
    cols = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))  # boundary k: between px k and k+1
    rows = np.abs(np.diff(a, axis=0)).mean(axis=(1, 2))
    at = [np.r_[g[period - 1 :: period]] for g in (cols, rows)]
    off = [np.delete(g, np.s_[period - 1 :: period]) for g in (cols, rows)]
    return float(np.concatenate(at).mean() / np.concatenate(off).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--tile", type=int, default=384)
    ap.add_argument("--crop", default="/tmp/painterly-seams.png")
    args = ap.parse_args()
    content, style = SHARED / "images" / "tubingen.jpg", SHARED / "images" / "starry_night.jpg"
    renders = {}
    for name, tile in (("whole", 0), ("tiled", args.tile)):
        renders[name] = np.asarray(painterly.stylize(content, style, size=args.size, tile=tile))
    print(f"{'render':>6} {f'borders of {args.tile} px':>20} {'borders of 16 px':>17}")
    for name, image in renders.items():
        print(f"{name:>6} {ratio(image, args.tile):>20.3f} {ratio(image, 16):>17.3f}")
    t, half = args.tile, 128  # a 256 px crop centred on the corner of four tiles
    crops = [Image.fromarray(r[t - half : t + half, t - half : t + half]) for r in renders.values()]
    sheet = Image.new("RGB", (2 * 2 * half + 8, 2 * half), "white")
    for k, c in enumerate(crops):
        sheet.paste(c, (k * (2 * half + 8), 0))
    sheet.save(args.crop)
    diff = np.abs(renders["whole"].astype(np.float32) - renders["tiled"].astype(np.float32)).mean()
    print(f"mean |whole - tiled| = {diff:.2f} / 255; crops (whole | tiled, corner at {t},{t}): {args.crop}")


if __name__ == "__main__":
    main()

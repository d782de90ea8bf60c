"""Does a large render look painted at 100%? (issue "Prints that look painted at 100%").

Renders the content in the style at each size in a fresh process (bench/print_size.py's render:
per-scale seconds and peak RSS) and compares the texture scale of the output at 100% with the
artwork's at its own pixels: the luminance power spectrum, averaged over Hann-windowed 128 px
tiles (Welch) and summed in log-spaced bands over 1/64 .. 1/2 cycles/px, normalised to sum 1.

- distance: the mean |log10 p_out - log10 p_art| over the bands (0 = the artwork's texture scale);
- fine band: log10 of the output's share of power in 1/8 .. 1/2 cycles/px over the artwork's
  (0 = as much fine detail as the artwork; -1 = ten times too little).

Also writes a 100% crop sheet per run (the output's crop beside the artwork's at native pixels).

    .venv/bin/python bench/print_look.py --sizes 1024,2048              # tubingen + starry_night
    .venv/bin/python bench/print_look.py --sizes 1024 --style-side 400  # the artwork downscaled first
    .venv/bin/python bench/print_look.py --measure out.png              # an image already made
    .venv/bin/python bench/print_look.py --measure before.png after.png --sheet crops.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from passes import SHARED, cpu, pass_time
from print_size import RENDER

TILE = 128  # px: Welch segments (the lowest band, 1/64 cycles/px, is two periods of one)
EDGES = np.geomspace(1 / 64, 1 / 2, 13)  # 12 bands, cycles/px
FINE = 1 / 8  # cycles/px: the fine band starts here (strokes' edges and bristle marks)
MAX_TILES = 400
CROP = 512  # px: the side of each crop on the sheet


def band_powers(image: Image.Image) -> np.ndarray:
    """The luminance power in each of the EDGES bands, normalised to sum 1."""
    y = np.asarray(image.convert("L"), np.float64) / 255.0
    h, w = y.shape
    starts = [(r, c) for r in range(0, h - TILE + 1, TILE // 2) for c in range(0, w - TILE + 1, TILE // 2)]
    if not starts:
        raise SystemExit(f"an image of {w}x{h} px is smaller than one {TILE} px tile")
    picked = [starts[k] for k in np.linspace(0, len(starts) - 1, min(len(starts), MAX_TILES)).round().astype(int)]
    window = np.outer(np.hanning(TILE), np.hanning(TILE))
    power = np.zeros((TILE, TILE))
    for r, c in picked:
        t = y[r : r + TILE, c : c + TILE]
        power += np.abs(np.fft.fft2((t - t.mean()) * window)) ** 2
    f = np.fft.fftfreq(TILE)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    band = np.digitize(radius, EDGES) - 1
    sums = np.array([power[band == k].sum() for k in range(len(EDGES) - 1)])
    return sums / sums.sum()


def texture_figures(output: Image.Image, artwork: Image.Image) -> tuple[float, float]:
    """(distance, fine band) of `output` against `artwork`, both at their own pixels (see the module)."""
    p, a = band_powers(output), band_powers(artwork)
    fine = EDGES[:-1] >= FINE
    return float(np.mean(np.abs(np.log10(p) - np.log10(a)))), float(np.log10(p[fine].sum() / a[fine].sum()))


def crop_sheet(outputs: list[tuple[str, Image.Image]], artwork: Image.Image, path: Path) -> None:
    """Each output's CROP px square at 100% (sky and roofs: the same place in each) beside the
    artwork's (its centre) at native pixels, titled."""
    crops = []
    for title, output in outputs:
        x, y = round(output.width * 0.45), round(output.height * 0.2)
        crops.append((title, output.convert("RGB").crop((x, y, x + CROP, y + CROP))))
    cx, cy = (artwork.width - CROP) // 2, (artwork.height - CROP) // 2
    crops.append(("the artwork at its own pixels", artwork.convert("RGB").crop((cx, cy, cx + CROP, cy + CROP))))
    sheet = Image.new("RGB", (len(crops) * (CROP + 8) - 8, CROP + 24), "white")
    for k, (title, crop) in enumerate(crops):
        sheet.paste(crop, (k * (CROP + 8), 24))
        ImageDraw.Draw(sheet).text((k * (CROP + 8) + 4, 6), title, fill="black")
    sheet.save(path)


def render(content: Path, style: Path, out: Path, size: int, extra: dict) -> dict:
    """One render in a fresh process: wall s, per-scale seconds and peak RSS (bench/print_size.py)."""
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(content), str(style), str(out), str(size), json.dumps(extra)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content", default=str(SHARED / "images" / "tubingen.jpg"))
    ap.add_argument("--style", default=str(SHARED / "images" / "starry_night.jpg"))
    ap.add_argument("--sizes", default="1024,2048", help="output long sides, px (4096 when asked)")
    ap.add_argument("--style-side", type=int, default=0, help="downscale the artwork to this long side first")
    ap.add_argument("--painterly", default="{}", help="more options as JSON, e.g. '{\"iterations\": 100}'")
    ap.add_argument("--out", default="/tmp/print-look", help="folder for the renders and crop sheets")
    ap.add_argument("--measure", nargs="*", default=[], help="only measure these images against --style")
    ap.add_argument("--sheet", type=Path, help="with --measure: write their 100%% crops and the artwork's here")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    artwork = Image.open(args.style).convert("RGB")
    style = Path(args.style)
    if args.style_side:
        artwork.thumbnail((args.style_side, args.style_side), Image.LANCZOS)
        style = out / f"style-{args.style_side}.png"
        artwork.save(style)
    print(
        f"{'image':<34} {'style px':>8} {'wall s':>7} {'passes':>6} {'fp32':>5} {'RSS GiB':>7} "
        f"{'distance':>8} {'fine':>6}"
    )
    reference = Image.open(args.style).convert("RGB")  # fine texture is judged against the full artwork
    for path in args.measure:
        d, f = texture_figures(Image.open(path), reference)
        print(f"{Path(path).name:<34} {max(artwork.size):>8} {'':>7} {'':>6} {'':>5} {'':>7} {d:>8.2f} {f:>6.2f}")
    if args.measure:
        if args.sheet:
            crop_sheet([(f"{Path(p).stem} at 100%", Image.open(p)) for p in args.measure], reference, args.sheet)
        return
    model, flags = cpu()
    unit = pass_time(bf16=any(f in flags for f in ("avx512_bf16", "amx_bf16")))
    fp32 = pass_time(bf16=False)
    photo = Image.open(args.content)
    d, f = texture_figures(photo, reference)
    print(f"{'the photo itself':<34} {max(artwork.size):>8} {'':>7} {'':>6} {'':>5} {'':>7} {d:>8.2f} {f:>6.2f}")
    for size in (int(s) for s in args.sizes.split(",")):
        name = f"look-{size}-style{args.style_side or 'native'}"
        r = render(Path(args.content), style, out / f"{name}.png", size, json.loads(args.painterly))
        image = Image.open(out / f"{name}.png")
        d, f = texture_figures(image, reference)
        crop_sheet([(f"{name} at 100%", image)], reference, out / f"{name}-crops.png")
        rss = max(row["rss"] for row in r["rows"])
        for row, scale in zip(r["rows"], r["scales"]):  # where the time and memory go, per scale
            print(
                f"#   {scale['side']:>5} px  {scale['iterations']:>3} iterations  tiles {scale['tile'] or '-':>4}  "
                f"{row['seconds']:>6.0f} s = {row['seconds'] / unit:>4.0f} passes  peak RSS {row['rss']:.2f} GiB  "
                f"evaluations {row['evaluations']} ({' '.join(map(str, row['per_iteration']))})"
                + (f"  notes: {'; '.join(row['notes'])}" if row["notes"] else "")
            )
        print(
            f"{name:<34} {max(artwork.size):>8} {r['wall']:>7.0f} {r['wall'] / unit:>6.0f} {r['wall'] / fp32:>5.0f} "
            f"{rss:>7.2f} {d:>8.2f} {f:>6.2f}"
        )
    print(f"# CPU {model}; pass {unit:.2f} s, fp32 pass {fp32:.2f} s; crop sheets in {out}")


if __name__ == "__main__":
    main()

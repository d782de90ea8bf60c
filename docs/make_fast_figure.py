"""Make docs/fast-512.jpg (content | style | default 512 px render) and docs/fast-crops.png (100% crops
of sky: each render beside the same-size crop of its style image at 512 px).

    .venv/bin/python bench/passes.py --styles starry_night,the_scream,shipwreck --repeats 1 --keep /tmp/keep512
    .venv/bin/python docs/make_fast_figure.py /tmp/keep512
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
HERE = Path(__file__).resolve().parent
STYLES = ("starry_night", "the_scream", "shipwreck")
CROP = (0, 0, 192, 128)  # px of the 512 px images: the sky at the top left
GAP = 6


def fit(image: Image.Image, height: int) -> Image.Image:
    return image.convert("RGB").resize((round(image.width * height / image.height), height), Image.LANCZOS)


def row(tiles: list[Image.Image], labels: list[str]) -> Image.Image:
    height = max(t.height for t in tiles) + 16
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + GAP * (len(tiles) - 1), height), "white")
    draw, x = ImageDraw.Draw(sheet), 0
    for tile, label in zip(tiles, labels):
        sheet.paste(tile, (x, 16))
        draw.text((x + 2, 2), label, fill="black")
        x += tile.width + GAP
    return sheet


def main() -> None:
    renders = Path(sys.argv[1])
    out = {name: Image.open(next(renders.glob(f"{name}-512-*.png"))).convert("RGB") for name in STYLES}
    content = Image.open(SHARED / "tubingen.jpg")
    style = Image.open(SHARED / "starry_night.jpg")
    row([fit(content, 384), fit(style, 384), out["starry_night"]], ["content", "style", "default, 512 px"]).save(
        HERE / "fast-512.jpg", quality=92
    )
    rows = []
    for name in STYLES:
        art = Image.open(SHARED / f"{name}.jpg").convert("RGB")
        f = 512 / max(art.size)  # as grain.py measures it
        at_512 = art.resize((round(art.width * f), round(art.height * f)), Image.LANCZOS)
        rows.append(row([out[name].crop(CROP), at_512.crop(CROP)], [f"render ({name}), 100%", "style, 100%"]))
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + GAP * 2), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + GAP
    sheet.save(HERE / "fast-crops.png")


if __name__ == "__main__":
    main()

"""Make docs/gallery.png: every artist control side by side, from scikit-image's sample images.

    .venv/bin/python docs/make_gallery.py [--size 128] [--iterations 150]

Content: the cat photo; style A: the immunohistochemistry micrograph; style B: the Hubble deep
field. Each tile is one `painterly.stylize` call with one control changed from the defaults.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import painterly
from painterly.media import samples

TILE_LABEL_HEIGHT = 28


def tiles(size: int, iterations: int, masks_dir: Path) -> list[tuple[str, dict, list]]:
    content = samples.photo("chelsea")
    a, b = samples.photo("immunohistochemistry"), samples.photo("hubble_deep_field")
    w, h = content.size
    left = np.zeros((h, w), np.uint8)
    left[:, : w // 2] = 255
    Image.fromarray(left).save(masks_dir / "left.png")
    Image.fromarray(255 - left).save(masks_dir / "right.png")
    base = dict(size=size, iterations=iterations)
    return [
        ("content", None, [content]),
        ("style A", None, [a]),
        ("style B", None, [b]),
        ("defaults (A)", base, [content, a]),
        ("preserve luminance", {**base, "preserve_colors": "luminance"}, [content, a]),
        ("preserve histogram", {**base, "preserve_colors": "histogram"}, [content, a]),
        ("style-scale 0.5", {**base, "style_scale": 0.5}, [content, a]),
        ("style-scale 2", {**base, "style_scale": 2.0}, [content, a]),
        ("tv-weight 100", {**base, "tv_weight": 100.0}, [content, a]),
        ("ratio 1e-2", {**base, "ratio": 1e-2}, [content, a]),
        ("blend A,B 1:1", {**base}, [content, [a, b]]),
        (
            "masks: A left,\nB right",
            {**base, "style_masks": (str(masks_dir / "left.png"), str(masks_dir / "right.png"))},
            [content, [a, b]],
        ),
        ("adam, 3x iterations", {**base, "optimizer": "adam", "iterations": 3 * iterations}, [content, a]),
        ("init content", {**base, "init": "content"}, [content, a]),
        ("layer weights\n32,16,4,2,1", {**base, "style_layer_weights": (32, 16, 4, 2, 1)}, [content, a]),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--columns", type=int, default=5)
    args = p.parse_args()
    rendered = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, options, inputs in tiles(args.size, args.iterations, Path(tmp)):
            start = time.monotonic()
            if options is None:
                image = inputs[0].copy()
                image.thumbnail((args.size, args.size), Image.LANCZOS)
            else:
                image = painterly.stylize(inputs[0], inputs[1], **options)
            print(f"{label.replace(chr(10), ' '):36s} {time.monotonic() - start:6.1f} s", flush=True)
            rendered.append((label, image))
    cell_w = max(im.width for _, im in rendered)
    cell_h = max(im.height for _, im in rendered) + TILE_LABEL_HEIGHT
    rows = -(-len(rendered) // args.columns)
    sheet = Image.new("RGB", (args.columns * (cell_w + 4), rows * (cell_h + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(rendered):
        x, y = (i % args.columns) * (cell_w + 4), (i // args.columns) * (cell_h + 4)
        sheet.paste(image, (x + (cell_w - image.width) // 2, y))
        draw.multiline_text((x + 2, y + cell_h - TILE_LABEL_HEIGHT + 2), label, fill="black", spacing=2)
    sheet.save(Path(__file__).with_name("gallery.png"))


if __name__ == "__main__":
    main()

"""How large each image is rendered: the output's (W, H) for a long side, and the style's long side.

Torch-free, below both the plan (which checks the sizes) and the objective (which resizes to them).
"""

from __future__ import annotations

import math

from PIL import Image

from .options import Options

MIN_SIDE = 16  # px: the shortest image side VGG-19 takes (it halves the image 4 times before conv5_1)


def output_size(image: Image.Image, side: int) -> tuple[int, int]:
    """(W, H) of `image`'s aspect ratio with long side `side` px."""
    w, h = image.size
    f = side / max(w, h)
    return max(1, round(w * f)), max(1, round(h * f))


def style_side(size: tuple[int, int], options: Options, style: Image.Image | None = None) -> int:
    """Long side (px) a style image is resized to for an output of `size` (W, H): the output's
    long side x style_scale, and for `style`, never so small that its short side drops under MIN_SIDE."""
    side = max(MIN_SIDE, round(max(size) * options.style_scale))
    return side if style is None else max(side, math.ceil(MIN_SIDE * max(style.size) / min(style.size)))

"""How large each image is rendered: the output's (W, H) for a long side, and the style's long side.

Torch-free, below both the plan (which checks the sizes) and the objective (which resizes to them).
"""

from __future__ import annotations

import math

from PIL import Image

from .ladder import PRINT_DETAIL

MIN_SIDE = 16  # px: the shortest image side VGG-19 takes (it halves the image 4 times before conv5_1)


def output_size(image: Image.Image, side: int) -> tuple[int, int]:
    """(W, H) of `image`'s aspect ratio with long side `side` px."""
    w, h = image.size
    f = side / max(w, h)
    return max(1, round(w * f)), max(1, round(h * f))


def style_side(size: tuple[int, int], style_scale: float, style: Image.Image | None = None) -> int:
    """Long side (px) a style image is resized to for an output of `size` (W, H): the output's
    long side x `style_scale` (--style-scale), and for `style`, never so small that its short side drops
    under MIN_SIDE."""
    side = max(MIN_SIDE, round(max(size) * style_scale))
    return side if style is None else max(side, math.ceil(MIN_SIDE * max(style.size) / min(style.size)))


def print_balance(size: tuple[int, int]) -> float:
    """The factor on the terms summed over positions (alpha, the TV and temporal weights) at an output of
    `size` (W, H): 1 up to PRINT_DETAIL px, then (PRINT_DETAIL / long side)^2. Eq. 1 and TV sum over
    positions while the style loss (1/M^2) does not, so at fixed weights each 2x of side weighs the photo
    and the smoothing 4x more against the style: a 4096 px print would be 4x more photographic and
    smoother than the same render at 2048 px, and its strokes' finest detail is what gives way (docs/NOTES.md,
    "Prints that look painted at 100%, the print balance"). Above PRINT_DETAIL the balance stays the 2048 px
    one, so a print is that render, finer."""
    return min(1.0, (PRINT_DETAIL / max(size)) ** 2)

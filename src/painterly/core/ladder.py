"""The coarse-to-fine ladder's shape: where it starts, how it climbs, the sides it visits.

Torch-free, so that `--help` quotes the numbers the run uses (`plan.schedule` climbs the same ladder).
"""

from __future__ import annotations

import math

MULTISCALE_FROM = 256  # px: outputs this large and larger are rendered coarse-to-fine by default
MIN_SCALE = 128  # px: the smallest scale of a coarse-to-fine run from noise (the classic preset)
FIRST_SCALE = 181  # px: the default's first scale; from the palette start the picture forms there
LADDER = math.sqrt(2)  # each scale's side over the one before: twice the pixels
# px: above this (print sizes) each rung is twice the side of the one below (4x the pixels). The finest
# scale redraws the brush texture at its resolution after an upsample and needs about as many iterations
# from a 2x as from a sqrt(2) step, so one 2x step spends the time of two sqrt(2) steps on one scale, and
# the brush texture comes out finer in the same time (bench/print_look.py; figures in docs/NOTES.md, "Prints
# that look painted at 100%, the 4096 px step").
PRINT_DETAIL = 2048


def sides(size: int, smallest: int = MIN_SCALE) -> list[int]:
    """The long sides (px) a coarse-to-fine run to `size` visits, coarse to fine: `size` divided by
    2 while above PRINT_DETAIL, then by LADDER, while the result stays at least `smallest`."""
    visited = [size]
    while (below := round(visited[0] / _step(visited[0]))) >= smallest:
        visited.insert(0, below)
    return visited


def _step(side: int) -> float:
    """The ratio of `side` to the rung below it."""
    return 2.0 if side > PRINT_DETAIL else LADDER

"""The coarse-to-fine ladder's shape: where it starts, how it climbs, the sides it visits.

Torch-free, so that `--help` quotes the numbers the run uses (`plan.schedule` climbs the same ladder).
"""

from __future__ import annotations

import math

MULTISCALE_FROM = 256  # px: outputs this large and larger are rendered coarse-to-fine by default
MIN_SCALE = 128  # px: the smallest scale of a coarse-to-fine run
LADDER = math.sqrt(2)  # each scale's side over the one before: twice the pixels


def sides(size: int, smallest: int = MIN_SCALE) -> list[int]:
    """The long sides (px) a coarse-to-fine run to `size` visits, coarse to fine: `size` divided by
    LADDER while the result stays at least `smallest`."""
    visited = [size]
    while round(visited[0] / LADDER) >= smallest:
        visited.insert(0, round(visited[0] / LADDER))
    return visited

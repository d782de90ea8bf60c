"""Where the tiles of an image lie: cores, halos and grid offsets (print sizes). Pure layout.

A tile's *core* lies on a 16 px grid, where the network's four poolings line up with the whole
image's, and its crop adds a halo wide enough for the receptive field of conv5_1, so the core's
features computed from the crop equal the whole image's at the same positions. `evaluate` runs
the objective over these views; this module only says where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .resources import TILE_HALO

STRIDE = 16  # px: the network halves the image four times before conv5_1
HALO = TILE_HALO  # px: the receptive field of conv5_1 is 156 px wide, so 78 px either side reach a core


@dataclass(frozen=True)
class Tile:
    """Rows/columns (px) of a tile's core and of the crop (core + halo) the network sees."""

    core: tuple[int, int, int, int]  # y0, y1, x0, x1
    crop: tuple[int, int, int, int]


def layout(height: int, width: int, tile: int, halo: int = HALO, offset: tuple[int, int] = (0, 0)) -> list[Tile]:
    """Cores of about `tile` px covering H x W (on the STRIDE grid, the grid shifted by `offset` px so
    seams move between steps), each with its crop: the core widened by `halo`, clipped to the image."""
    tile = max(STRIDE, tile // STRIDE * STRIDE)

    def cuts(size: int, shift: int) -> list[int]:
        start = -(shift // STRIDE * STRIDE % tile)
        edges = [e for e in range(start, size, tile) if 0 < e < size]
        return [0, *edges, size]

    def around(a: int, b: int, size: int) -> tuple[int, int]:
        return max(0, (a - halo) // STRIDE * STRIDE), min(size, b + halo)

    ys, xs = cuts(height, offset[0]), cuts(width, offset[1])
    return [
        Tile((y0, y1, x0, x1), (*around(y0, y1, height), *around(x0, x1, width)))
        for y0, y1 in zip(ys, ys[1:])
        for x0, x1 in zip(xs, xs[1:])
    ]


def stride(layer: str) -> int:
    """How many px of the image one position of `layer` (convB_K) spans: the image halved B-1 times."""
    return 2 ** (int(layer[4]) - 1)


def core_of(feature: torch.Tensor, layer: str, t: Tile, size: tuple[int, int]) -> torch.Tensor:
    """The part of `feature` (the crop's map at `layer`) that is the tile's core, for an image of
    `size` (H, W) px; a core at the image's edge keeps the map's last rows, as the whole image's map does."""
    s = stride(layer)
    y0, y1, x0, x1 = t.core
    cy0, _, cx0, _ = t.crop
    rows = slice((y0 - cy0) // s, (y1 - cy0) // s if y1 < size[0] else feature.shape[2])
    cols = slice((x0 - cx0) // s, (x1 - cx0) // s if x1 < size[1] else feature.shape[3])
    return feature[:, :, rows, cols]


def at_core(whole: torch.Tensor | None, t: Tile, layer: str, core: torch.Tensor) -> torch.Tensor | None:
    """The part of `whole` (a map of the whole image at `layer`: [..., H_l, W_l]) under the tile's
    core, whose features are `core` [1,N,h,w]; None stays None."""
    if whole is None:
        return None
    r0, c0 = t.core[0] // stride(layer), t.core[2] // stride(layer)
    return whole[..., r0 : r0 + core.shape[2], c0 : c0 + core.shape[3]]

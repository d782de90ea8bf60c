"""The objective evaluated tile by tile, with the style statistics of the whole image (print sizes).

Each evaluation runs the network on overlapping crops: a tile's *core* (on a 16 px grid, where the
network's four poolings line up with the whole image's) plus a halo wide enough for the receptive
field of conv5_1, so the core's features equal the whole image's. Pass 1 (no gradients) sums
each style layer's Gram over the cores: the global G_l. Then dL/dG_l = beta w_l (G_l - A_l) /
(2 N^2 M^2) is known, and pass 2 back-propagates, tile by tile, <dL/dG_l, F_core^T F_core> plus
the core's content term; the gradients summed over the tiles are the whole image's, exactly.
Memory is one tile's activations, not the image's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import losses
from .objective import Losses, Objective
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


def _core(feature: torch.Tensor, layer: str, t: Tile, size: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of `feature` (the crop's map at `layer`) that are the tile's core; a core
    at the image's edge keeps the map's last rows, as the whole image's map does."""
    s = stride(layer)
    y0, y1, x0, x1 = t.core
    cy0, _, cx0, _ = t.crop
    return (
        slice((y0 - cy0) // s, (y1 - cy0) // s if y1 < size[0] else feature.shape[2]),
        slice((x0 - cx0) // s, (x1 - cx0) // s if x1 < size[1] else feature.shape[3]),
    )


def loss_and_grad(
    objective: Objective, image: torch.Tensor, tile: int, offset: tuple[int, int] = (0, 0)
) -> tuple[Losses, torch.Tensor]:
    """The objective at `image` (RGB 0..1 [1,3,H,W]) and its gradient, tile by tile (see the module)."""
    if objective.masks is not None:
        raise NotImplementedError("tiled evaluation with style masks")
    x = image.detach().clamp(0.0, 1.0)
    h, w = x.shape[2:]
    tiles = layout(h, w, tile, offset=offset)
    full = {k: (h // stride(k), w // stride(k)) for k in objective.layers}
    grams = {k: torch.zeros_like(a) for k, a in objective.style_targets.items()}
    content = 0.0
    with torch.no_grad():  # pass 1: the global Grams (and the content loss, which is local)
        for t in tiles:
            feats = objective.features(_crop(x, t), objective.layers)
            for k in objective.style_layers:
                core = _flat(feats[k], _core(feats[k], k, t, (h, w)))
                grams[k] += core.t() @ core
            content += float(_content(objective, feats, t, (h, w)))
    coefficient = {}
    style = 0.0
    for k, weight in objective.style_layers.items():
        n, m = grams[k].shape[0], full[k][0] * full[k][1]
        diff = grams[k] - objective.style_targets[k]
        style += weight * float(diff.pow(2).sum()) / (4.0 * n * n * m * m)
        coefficient[k] = diff * (objective.beta * weight / (2.0 * n * n * m * m))
    grad = torch.zeros_like(x)
    for t in tiles:  # pass 2: back-propagate each core's share
        crop = _crop(x, t).requires_grad_(True)
        feats = objective.features(crop, objective.layers)
        share = objective.alpha * _content(objective, feats, t, (h, w))
        for k in objective.style_layers:
            core = _flat(feats[k], _core(feats[k], k, t, (h, w)))
            share = share + (coefficient[k] * (core.t() @ core)).sum()
        share.backward()
        y0, y1, x0, x1 = t.crop
        grad[:, :, y0:y1, x0:x1] += crop.grad
    tv = 0.0
    if objective.tv_weight:
        whole = x.clone().requires_grad_(True)
        tv_loss = losses.tv_loss(whole)
        (objective.tv_weight * tv_loss).backward()
        grad += whole.grad
        tv = float(tv_loss.detach())
    grad *= (image >= 0) & (image <= 1)  # as the untiled objective's clamp: no gradient outside 0..1
    total = objective.alpha * content + objective.beta * style + objective.tv_weight * tv
    return Losses(torch.tensor(total), content, style, tv), grad


def _crop(x: torch.Tensor, t: Tile) -> torch.Tensor:
    y0, y1, x0, x1 = t.crop
    return x[:, :, y0:y1, x0:x1].contiguous()


def _flat(feature: torch.Tensor, core: tuple[slice, slice]) -> torch.Tensor:
    """A core's features as M_core x N float32."""
    part = feature[:, :, core[0], core[1]]
    return part.permute(0, 2, 3, 1).reshape(-1, part.shape[1]).float()


def _content(objective: Objective, feats: dict[str, torch.Tensor], t: Tile, size: tuple[int, int]) -> torch.Tensor:
    """The content loss over a tile's core: eq. 1 restricted to the core's positions."""
    total = torch.zeros((), device=next(iter(feats.values())).device)
    y0, _, x0, _ = t.core
    for k, weight in objective.content_layers.items():
        rows, cols = _core(feats[k], k, t, size)
        part = feats[k][:, :, rows, cols].float()
        r0, c0 = y0 // stride(k), x0 // stride(k)
        target = objective.content_targets[k][:, :, r0 : r0 + part.shape[2], c0 : c0 + part.shape[3]].float()
        total = total + weight * 0.5 * (part - target).pow(2).sum()
    return total

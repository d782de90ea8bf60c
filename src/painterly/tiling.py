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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from . import losses
from .losses import Losses
from .resources import TILE_HALO

if TYPE_CHECKING:
    from .objective import Objective

Features = Callable[[torch.Tensor, list[str]], dict[str, torch.Tensor]]  # RGB 0..1 image -> feature maps

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


def cores(
    features: Features, image: torch.Tensor, layers: list[str], tile: int, offset: tuple[int, int] = (0, 0)
) -> Iterator[tuple[Tile, dict[str, torch.Tensor]]]:
    """Each tile of `image` ([1,3,H,W]) with its core's feature maps: the whole image's features at
    the core's positions."""
    h, w = image.shape[2:]
    for t in layout(h, w, tile, offset=offset):
        y0, y1, x0, x1 = t.crop
        feats = features(image[:, :, y0:y1, x0:x1], layers)
        yield t, {k: _core(f, k, t, (h, w)) for k, f in feats.items()}


def grams(features: Features, image: torch.Tensor, layers: list[str], tile: int) -> dict[str, torch.Tensor]:
    """Each layer's Gram matrix G = F F^T of the whole image (float32 N x N), summed over tile cores."""
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for _, feats in cores(features, image, layers, tile):
            for k in layers:
                out[k] = out[k] + losses.gram(feats[k]) if k in out else losses.gram(feats[k])
    return out


def feature_maps(features: Features, image: torch.Tensor, layers: list[str], tile: int) -> dict[str, torch.Tensor]:
    """The whole image's feature maps at `layers`, assembled from tile cores (no gradients)."""
    h, w = image.shape[2:]
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for t, feats in cores(features, image, layers, tile):
            for k, f in feats.items():
                s = stride(k)
                if k not in out:
                    out[k] = f.new_zeros(1, f.shape[1], h // s, w // s)
                y0, x0 = t.core[0] // s, t.core[2] // s
                out[k][:, :, y0 : y0 + f.shape[2], x0 : x0 + f.shape[3]] = f
    return out


def style_grams(
    objective: Objective, image: torch.Tensor, tile: int, offset: tuple[int, int] = (0, 0)
) -> tuple[dict[str, list[torch.Tensor]], float]:
    """Pass 1 (no gradients): per style layer, the Gram of each of the objective's regions (the whole
    image, or one per style mask) summed over the tile cores; and the content loss, which is local."""
    grams: dict[str, list[torch.Tensor]] = {}
    content = 0.0
    with torch.no_grad():
        for t, feats in cores(objective.features, image, objective.layers, tile, offset):
            for k in objective.style_layers:
                parts = [losses.gram(feats[k], at_core(m, t, k, feats[k])) for m, _, _ in objective.regions(k)]
                grams[k] = [g + p for g, p in zip(grams[k], parts)] if k in grams else parts
            content += float(_content(objective, feats, t))
    return grams, content


def style_energies(objective: Objective, grams: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """E_l (eq. 4, summed over the regions) of each style layer, from `style_grams`."""
    return {
        k: sum(float(losses.gram_loss(g, a, m)) for g, (_, a, m) in zip(grams[k], objective.regions(k)))
        for k in objective.style_layers
    }


def loss_and_grad(
    objective: Objective, image: torch.Tensor, tile: int, offset: tuple[int, int] = (0, 0)
) -> tuple[Losses, torch.Tensor]:
    """The objective at `image` (RGB 0..1 [1,3,H,W]) and its gradient, tile by tile (see the module);
    `offset` (px) shifts the tile grid."""
    x = image.detach().clamp(0.0, 1.0)
    h, w = x.shape[2:]
    grams, content = style_grams(objective, x, tile, offset)
    energies = style_energies(objective, grams)
    style = sum(weight * energies[k] for k, weight in objective.style_layers.items())
    coefficient = {  # dL/dG per layer and region: beta w_l (G - A) / (2 N^2 M^2)
        k: [
            (g - a) * (objective.beta * weight / (2.0 * g.shape[0] ** 2 * m**2))
            for g, (_, a, m) in zip(grams[k], objective.regions(k))
        ]
        for k, weight in objective.style_layers.items()
    }
    grad = torch.zeros_like(x)
    for t in layout(h, w, tile, offset=offset):  # pass 2: back-propagate each core's share
        y0, y1, x0, x1 = t.crop
        crop = x[:, :, y0:y1, x0:x1].clone().requires_grad_(True)  # its own leaf: no image-sized gradient per tile
        feats = {k: _core(f, k, t, (h, w)) for k, f in objective.features(crop, objective.layers).items()}
        share = objective.alpha * _content(objective, feats, t)
        for k in objective.style_layers:
            for c, (mask, _, _) in zip(coefficient[k], objective.regions(k)):
                share = share + (c * losses.gram(feats[k], at_core(mask, t, k, feats[k]))).sum()
        share.backward()
        grad[:, :, y0:y1, x0:x1] += crop.grad
    whole = x.clone().requires_grad_(True)
    pixels = objective.pixel_terms(whole)  # TV and temporal: no network, the whole image at once
    if pixels.requires_grad:
        pixels.backward()
        grad += whole.grad
    grad *= (image >= 0) & (image <= 1)  # as the untiled objective's clamp: no gradient outside 0..1
    pixels_value = float(pixels.detach())
    total = objective.alpha * content + objective.beta * style + pixels_value
    return Losses(torch.tensor(total), content, style, pixels_value), grad


def _core(feature: torch.Tensor, layer: str, t: Tile, size: tuple[int, int]) -> torch.Tensor:
    """The part of `feature` (the crop's map at `layer`) that is the tile's core; a core at the
    image's edge keeps the map's last rows, as the whole image's map does."""
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


def _content(objective: Objective, feats: dict[str, torch.Tensor], t: Tile) -> torch.Tensor:
    """The content loss over a tile's core (`feats`: the core's maps): eq. 1 at the core's positions."""
    total = torch.zeros((), device=next(iter(feats.values())).device)
    for k, weight in objective.content_layers.items():
        target = at_core(objective.content_targets[k], t, k, feats[k])
        total = total + weight * losses.content_loss(feats[k], target)
    return total

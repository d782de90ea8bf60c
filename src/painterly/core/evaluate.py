"""The loss and gradient of an image for an `Objective`: the one evaluation path of a render.

The image is seen as views (`features.views`): the whole image as one view, or, at print sizes,
overlapping tiles whose cores cover it (`tiling`). One view: one forward and backward pass through
the network with autograd. Several: pass 1 (no gradients) sums each style layer's Gram over the
cores, the global G_l; then dL/dG_l = beta w_l (G_l - A_l) / (2 N^2 M^2) is known, and pass 2
back-propagates, tile by tile, <dL/dG_l, F_core^T F_core> plus the core's content term; the
gradients summed over the tiles are the whole image's, exactly, in one tile's memory. The layer
balancing and the scale-free errors read the image through the same views.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import heap, losses, tiling
from .features import tiled, views
from .losses import Losses
from .objective import Objective

# 1 would make every layer contribute alike; that over-serves conv1_1/conv5_1 and leaves conv4_1,
# which the paper's objective weighs most, under-matched; 0.5 leaves the style short (docs/NOTES.md,
# "Fast and clean").
BALANCE_EXPONENT = 0.75


def loss_and_grad(
    objective: Objective,
    image: torch.Tensor,
    tile: int = 0,
    offset: tuple[int, int] = (0, 0),
    scale: Callable[[float], float] = lambda loss: 1.0,
) -> tuple[Losses, torch.Tensor | None]:
    """The objective at `image` (RGB 0..1 [1,3,H,W]) and the gradient of scale(loss) x loss, as one
    view or in tiles of `tile` px (0: never) whose grid `offset` (px) shifts. `scale` is asked once the
    loss is known (the optimiser divides by the first loss). The gradient is None where the loss is
    not finite on the one-view path."""
    if tiled(image, tile):
        return _tiled_loss_and_grad(objective, image, tile, offset, scale)
    leaf = image.detach().requires_grad_(True)
    with torch.enable_grad():
        result = objective(leaf)
        loss = float(result.total.detach())
        factor = scale(loss)
        if math.isfinite(loss):
            (result.total * factor).backward()
    return result, leaf.grad


def _tiled_loss_and_grad(
    objective: Objective, image: torch.Tensor, tile: int, offset: tuple[int, int], scale: Callable[[float], float]
) -> tuple[Losses, torch.Tensor]:
    x = image.detach()  # clamped crop by crop (as the one-view objective): no image-sized copy
    h, w = x.shape[2:]
    grams, content = style_grams(objective, x, tile, offset)
    energies = style_energies(objective, grams)
    style = sum(weight * energies[k] for k, weight in objective.style_layers.items())
    coefficient = {  # dL/dG per layer and region: beta w_l (G - A) / (2 N^2 M^2)
        k: [
            (g - a) * (objective.weights.style * weight / (2.0 * g.shape[0] ** 2 * m**2))
            for g, (_, a, m) in zip(grams[k], objective.regions(k))
        ]
        for k, weight in objective.style_layers.items()
    }
    grad = torch.zeros_like(x)
    for t in tiling.layout(h, w, tile, offset=offset):  # pass 2: back-propagate each core's share
        y0, y1, x0, x1 = t.crop
        crop = x[:, :, y0:y1, x0:x1].clamp(0.0, 1.0).requires_grad_(True)  # its own leaf: a crop-sized gradient
        feats = {k: tiling.core_of(f, k, t, (h, w)) for k, f in objective.features(crop, objective.layers).items()}
        share = objective.weights.content * _content(objective, feats, t)
        for k in objective.style_layers:
            for c, (mask, _, _) in zip(coefficient[k], objective.regions(k)):
                share = share + (c * losses.gram(feats[k], tiling.at_core(mask, t, k, feats[k]))).sum()
        share.backward()
        grad[:, :, y0:y1, x0:x1] += crop.grad
        heap.release_freed()
    # In place from here on: at print sizes each image-sized temporary is 0.14 GiB (4096 x 3072 px).
    whole = x.clamp(0.0, 1.0).requires_grad_(True)
    pixels = objective.pixel_terms(whole)  # TV and temporal: no network, the whole image at once
    if pixels.requires_grad:
        pixels.backward()
        grad += whole.grad
    del whole
    grad.masked_fill_((image < 0) | (image > 1), 0.0)  # as the one-view objective's clamp: none outside 0..1
    pixels_value = float(pixels.detach())
    total = objective.weights.total(content, style, pixels_value)
    result = Losses(torch.tensor(total), content, style, pixels_value)
    return result, grad.mul_(scale(float(result.total)))


def style_grams(
    objective: Objective, image: torch.Tensor, tile: int, offset: tuple[int, int] = (0, 0)
) -> tuple[dict[str, list[torch.Tensor]], float]:
    """Pass 1 (no gradients): per style layer, the Gram of each of the objective's regions (the whole
    image, or one per style mask) summed over the tile cores; and the content loss, which is local."""
    grams: dict[str, list[torch.Tensor]] = {}
    content = 0.0
    with torch.no_grad():
        for t, feats in views(objective.features, image, objective.layers, tile, offset):
            for k in objective.style_layers:
                parts = [losses.gram(feats[k], tiling.at_core(m, t, k, feats[k])) for m, _, _ in objective.regions(k)]
                grams[k] = [g + p for g, p in zip(grams[k], parts)] if k in grams else parts
            content += float(_content(objective, feats, t))
            heap.release_freed()
    return grams, content


def style_energies(objective: Objective, grams: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """E_l (eq. 4, summed over the regions) of each style layer, from `style_grams`."""
    return {
        k: sum(float(losses.gram_loss(g, a, m)) for g, (_, a, m) in zip(grams[k], objective.regions(k)))
        for k in objective.style_layers
    }


def _content(objective: Objective, feats: dict[str, torch.Tensor], t: tiling.Tile) -> torch.Tensor:
    """The content loss over a tile's core (`feats`: the core's maps): eq. 1 at the core's positions."""
    total = torch.zeros((), device=next(iter(feats.values())).device)
    for k, weight in objective.content_layers.items():
        target = tiling.at_core(objective.content_targets[k], t, k, feats[k])
        total = total + weight * losses.content_loss(feats[k], target)
    return total


def balance(objective: Objective, image: torch.Tensor) -> dict[str, float]:
    """Re-weigh the objective's style layers towards equal contributions to the style loss at `image`
    (RGB 0..1, [1,3,H,W]): w'_l ~ w_l * (T / (sum_j w_j * E_l))^BALANCE_EXPONENT with T = sum_j w_j E_j,
    scaled so the style loss at `image` stays T. Returns the new weights (keep them to resume exactly).

    With the plain network and the paper's w_l = 1/5, conv4_1 carries almost all of the style
    loss, so the large strokes (conv5_1) and the fine texture (conv1_1) go unmatched; the paper's
    normalised network balanced the layers instead. Measured at each scale's start image, the
    weights follow the run (from noise at the first scale, near-converged at the fine ones).
    """
    image = image.clamp(0.0, 1.0)
    e = style_energies(objective, style_grams(objective, image, objective.tile or max(image.shape[2:]))[0])
    layers = objective.style_layers
    total = sum(w * e[layer] for layer, w in layers.items())
    if total <= 0:  # `image` already has the style's Grams (the style is the photo): nothing to balance
        return dict(layers)
    share = total / sum(layers.values())
    raw = {layer: w * (share / e[layer]) ** BALANCE_EXPONENT if e[layer] > 0 else w for layer, w in layers.items()}
    norm = total / sum(raw[layer] * e[layer] for layer in raw)
    objective.style_layers = {layer: w * norm for layer, w in raw.items()}
    return dict(objective.style_layers)


def relative_errors(objective: Objective, image: torch.Tensor) -> tuple[float, float]:
    """(content_rel, style_rel) of `image` [1,3,H,W], scale-free, from one forward pass:
    |F - P| / |P| over the content layers (how far from the photo), and the mean over the
    style layers of |G - A| / |A| (how far the texture statistics are from the artwork's)."""
    image = image.clamp(0.0, 1.0)
    tile = objective.tile if tiled(image, objective.tile) else max(image.shape[2:])  # one tile: the whole image
    diff, g = 0.0, {}
    with torch.no_grad():
        for t, feats in views(objective.features, image, objective.layers, tile):
            for k in objective.content_layers:
                target = tiling.at_core(objective.content_targets[k], t, k, feats[k])
                diff += float((feats[k].float() - target.float()).pow(2).sum())
            for k in objective.style_targets:
                g[k] = g[k] + losses.gram(feats[k]) if k in g else losses.gram(feats[k])
    norm = sum(float(objective.content_targets[k].float().pow(2).sum()) for k in objective.content_layers)
    targets = objective.style_targets
    rels = [float((g[k] - a).norm() / a.norm()) if a.norm() > 0 else math.nan for k, a in targets.items()]
    return (math.sqrt(diff / norm) if norm > 0 else math.nan), sum(rels) / len(rels)

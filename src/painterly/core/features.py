"""An image's VGG-19 feature maps: on the whole image, or tile by tile with the whole image's values.

`Features` runs the network on an RGB 0..1 image. `views` runs it on each crop of a tiling
(`tiling.layout`) and keeps the tile's core, whose maps equal the whole image's there;
`feature_maps` and `grams` assemble the whole image's maps and Gram matrices from those views
without gradients: the objective's targets, for images of any size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from . import losses, tiling
from .vgg import VGG19, preprocess


class Features:
    """The network's feature maps of an RGB 0..1 image [1,3,H,W]: layer -> [1,N,H_l,W_l], in bf16
    autocast when asked (CPUs that pay for it, CUDA), in channels-last memory when asked."""

    def __init__(self, net: VGG19, bf16: bool = False, channels_last: bool = True):
        self.net = net
        self.bf16 = bf16
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def _autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        device = next(self.net.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16)

    def __call__(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        x = preprocess(image).contiguous(memory_format=self.memory_format)
        with self._autocast():
            return self.net(x, layers)


def tiled(image: torch.Tensor, tile: int) -> bool:
    """Whether `image` [1,3,H,W] goes through the network in tiles of `tile` px (0: never)."""
    return 0 < tile < max(image.shape[2:])


def views(
    features: Features, image: torch.Tensor, layers: list[str], tile: int, offset: tuple[int, int] = (0, 0)
) -> Iterator[tuple[tiling.Tile, dict[str, torch.Tensor]]]:
    """Each tile of `image` ([1,3,H,W]) with its core's feature maps: the whole image's features at
    the core's positions (a tile as large as the image: one view, the whole image). Pixels are clamped
    to 0..1 crop by crop, as the objective sees them."""
    h, w = image.shape[2:]
    for t in tiling.layout(h, w, tile, offset=offset):
        y0, y1, x0, x1 = t.crop
        feats = features(image[:, :, y0:y1, x0:x1].clamp(0.0, 1.0), layers)
        yield t, {k: tiling.core_of(f, k, t, (h, w)) for k, f in feats.items()}


def feature_maps(features: Features, image: torch.Tensor, layers: list[str], tile: int) -> dict[str, torch.Tensor]:
    """The whole image's feature maps at `layers` (no gradients), assembled from tile cores when the
    image is larger than `tile` px."""
    if not tiled(image, tile):
        with torch.no_grad():
            return {k: f.detach() for k, f in features(image, layers).items()}
    h, w = image.shape[2:]
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for t, feats in views(features, image, layers, tile):
            for k, f in feats.items():
                s = tiling.stride(k)
                if k not in out:
                    out[k] = f.new_zeros(1, f.shape[1], h // s, w // s)
                y0, x0 = t.core[0] // s, t.core[2] // s
                out[k][:, :, y0 : y0 + f.shape[2], x0 : x0 + f.shape[3]] = f
    return out


def grams(features: Features, image: torch.Tensor, layers: list[str], tile: int) -> dict[str, torch.Tensor]:
    """Each layer's Gram matrix G = F F^T of the whole image (float32 N x N, no gradients), summed
    over tile cores when the image is larger than `tile` px."""
    if not tiled(image, tile):
        return {k: losses.gram(f) for k, f in feature_maps(features, image, layers, tile).items()}
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for _, feats in views(features, image, layers, tile):
            for k in layers:
                out[k] = out[k] + losses.gram(feats[k]) if k in out else losses.gram(feats[k])
    return out

"""The paper's total objective for one content image and one or more style images (eq. 7).

Targets (content features P, style Grams A) are computed once; calling the objective on an
image gives alpha * L_content + beta * L_style (+ tv) as float32 scalars.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from . import images, losses, network, tiling
from .losses import Losses
from .options import Options
from .plan import style_side
from .vgg import VGG19, preprocess

# 1 would make every layer contribute alike; that over-serves conv1_1/conv5_1 and leaves conv4_1,
# which the paper's objective weighs most, under-matched (nst_eval total 7.0e10 vs 5.5e10 at 0.75,
# tubingen + starry_night, 512 px; style_rel 0.12 vs 0.14). 0.5 leaves the style short (0.23).
BALANCE_EXPONENT = 0.75


class Objective:
    """L_total = alpha * sum_l c_l L_content,l + beta * sum_l w_l E_l + tv_weight * TV.

    `content_layers`/`style_layers` map layer -> per-layer weight (the paper: conv4_2 -> 1;
    conv1_1..conv5_1 -> 1/5). Images are RGB 0..1 tensors [1,3,H,W] on the network's device.
    Several styles are blended (their Grams averaged with `blend` weights), or, with `masks`
    ([H,W] in 0..1, one per style), each style is matched only inside its region.
    """

    def __init__(
        self,
        net: VGG19,
        content: torch.Tensor,
        styles: list[torch.Tensor],
        content_layers: dict[str, float],
        style_layers: dict[str, float],
        content_weight: float = 1.0,
        style_weight: float = 1e3,
        blend: list[float] | None = None,
        tv_weight: float = 0.0,
        bf16: bool = False,
        channels_last: bool = True,
        masks: list[torch.Tensor] | None = None,
        tile: int = 0,
        temporal: tuple[torch.Tensor, torch.Tensor] | None = None,
        temporal_weight: float = 0.0,
    ):
        self.net = net
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.alpha = content_weight
        self.beta = style_weight
        self.tv_weight = tv_weight
        self.bf16 = bf16
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.layers = sorted(set(content_layers) | set(style_layers))
        self.tile = tile
        self.temporal = temporal if temporal_weight else None  # (warped previous frame, reliable pixels)
        self.temporal_weight = temporal_weight
        blend = blend or [1.0] * len(styles)
        blend = [b / sum(blend) for b in blend]
        self.content_targets = self.feature_maps(content, list(content_layers))
        shape = {layer: _shape(content, layer) for layer in style_layers}
        per_position = []  # per style and layer: the Gram per position, A / M_a
        for style in styles:
            g = self.grams(style, list(style_layers))
            per_position.append({layer: g[layer] / math.prod(_shape(style, layer)) for layer in style_layers})
        self.style_targets = {
            layer: losses.scaled_gram(sum(b * p[layer] for b, p in zip(blend, per_position)), math.prod(shape[layer]))
            for layer in style_layers
        }
        self.masks = None
        self._regions = {layer: [(None, self.style_targets[layer], math.prod(shape[layer]))] for layer in style_layers}
        if masks is not None:
            self.masks = {layer: [_resize_mask(m, shape[layer]) for m in masks] for layer in style_layers}
            self._regions = {
                layer: [_region(m, p[layer]) for m, p in zip(self.masks[layer], per_position)] for layer in style_layers
            }

    def regions(self, layer: str) -> list[tuple[torch.Tensor | None, torch.Tensor, float]]:
        """Where the style is matched at `layer`, one entry per region: (the region's weights [H_l,W_l],
        None for the whole map; the target Gram A for its positions; the number of positions M)."""
        return self._regions[layer]

    def _tiled(self, image: torch.Tensor) -> bool:
        return 0 < self.tile < max(image.shape[2:])

    def feature_maps(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """The feature maps of an RGB 0..1 image [1,3,H,W] (no gradients), tile by tile when larger than `tile`."""
        if self._tiled(image):
            return tiling.feature_maps(self.features, image, layers, self.tile)
        with torch.no_grad():
            return {k: f.detach() for k, f in self.features(image, layers).items()}

    def grams(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Gram matrices (float32 N x N) of an RGB 0..1 image [1,3,H,W], tile by tile when it is larger than `tile`."""
        if self._tiled(image):
            return tiling.grams(self.features, image, layers, self.tile)
        return {k: losses.gram(f) for k, f in self.feature_maps(image, layers).items()}

    def _style_loss(self, feats: dict[str, torch.Tensor], layer: str) -> torch.Tensor:
        if self.masks is None:
            return losses.style_layer_loss(feats[layer], self.style_targets[layer])
        return sum(losses.gram_loss(losses.gram(feats[layer], m), a, n) for m, a, n in self.regions(layer))

    def _autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        device = next(self.net.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16)

    def features(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """VGG features of an RGB 0..1 image [1,3,H,W]."""
        x = preprocess(image).contiguous(memory_format=self.memory_format)
        with self._autocast():
            return self.net(x, layers)

    def __call__(self, image: torch.Tensor) -> Losses:
        # Evaluate the image as it would be saved: clamping keeps the loss bounded even where a
        # line search probes far outside the pixel range.
        image = image.clamp(0.0, 1.0)
        feats = self.features(image, self.layers)
        content = sum(
            (
                w * losses.content_loss(feats[layer], self.content_targets[layer])
                for layer, w in self.content_layers.items()
            ),
            torch.zeros((), device=image.device),
        )
        style = sum(
            (w * self._style_loss(feats, layer) for layer, w in self.style_layers.items()),
            torch.zeros((), device=image.device),
        )
        pixels = self.pixel_terms(image)
        total = self.alpha * content + self.beta * style + pixels
        return Losses(total, float(content.detach()), float(style.detach()), float(pixels.detach()))

    def pixel_terms(self, image: torch.Tensor) -> torch.Tensor:
        """The terms on the pixels themselves (no network): tv_weight * TV + temporal_weight * temporal."""
        total = torch.zeros((), device=image.device)
        if self.tv_weight:
            total = total + self.tv_weight * losses.tv_loss(image)
        if self.temporal is not None:
            total = total + self.temporal_weight * losses.temporal_loss(image, *self.temporal)
        return total

    def balance(self, image: torch.Tensor) -> dict[str, float]:
        """Re-weigh the style layers towards equal contributions to the style loss at `image` (RGB 0..1,
        [1,3,H,W]): w'_l ~ w_l * (T / (sum_j w_j * E_l))^BALANCE_EXPONENT with T = sum_j w_j E_j, scaled
        so the style loss at `image` stays T. Returns the new weights (keep them to resume exactly).

        With the plain network and the paper's w_l = 1/5, conv4_1 carries almost all of the style
        loss, so the large strokes (conv5_1) and the fine texture (conv1_1) go unmatched; the paper's
        normalised network balanced the layers instead. Measured at each scale's start image, the
        weights follow the run (from noise at the first scale, near-converged at the fine ones).
        """
        image = image.clamp(0.0, 1.0)
        e = tiling.style_energies(self, tiling.style_grams(self, image, self.tile or max(image.shape[2:]))[0])
        total = sum(w * e[layer] for layer, w in self.style_layers.items())
        if total <= 0:  # `image` already has the style's Grams (the style is the photo): nothing to balance
            return dict(self.style_layers)
        share = total / sum(self.style_layers.values())
        raw = {
            layer: w * (share / e[layer]) ** BALANCE_EXPONENT if e[layer] > 0 else w
            for layer, w in self.style_layers.items()
        }
        norm = total / sum(raw[layer] * e[layer] for layer in raw)
        self.style_layers = {layer: w * norm for layer, w in raw.items()}
        return dict(self.style_layers)

    def relative_errors(self, image: torch.Tensor) -> tuple[float, float]:
        """(content_rel, style_rel) of `image` [1,3,H,W], scale-free, from one forward pass:
        |F - P| / |P| over the content layers (how far from the photo), and the mean over the
        style layers of |G - A| / |A| (how far the texture statistics are from the artwork's)."""
        image = image.clamp(0.0, 1.0)
        tile = self.tile if self._tiled(image) else max(image.shape[2:])  # one tile: the whole image
        diff, g = 0.0, {}
        with torch.no_grad():
            for t, feats in tiling.cores(self.features, image, self.layers, tile):
                for k in self.content_layers:
                    target = tiling.at_core(self.content_targets[k], t, k, feats[k])
                    diff += float((feats[k].float() - target.float()).pow(2).sum())
                for k in self.style_targets:
                    g[k] = g[k] + losses.gram(feats[k]) if k in g else losses.gram(feats[k])
        norm = sum(float(self.content_targets[k].float().pow(2).sum()) for k in self.content_layers)
        rels = [
            float((g[k] - a).norm() / a.norm()) if a.norm() > 0 else math.nan for k, a in self.style_targets.items()
        ]
        return (math.sqrt(diff / norm) if norm > 0 else math.nan), sum(rels) / len(rels)


def build(
    content: Image.Image,
    styles: Sequence[Image.Image],
    options: Options,
    size: tuple[int, int],
    device: torch.device,
    masks: Sequence[Image.Image] | None = None,
    tile: int = 0,
    temporal: tuple[Image.Image, Image.Image] | None = None,
) -> Objective:
    """The objective for an output of `size` (W, H): the content (and masks) resized to it, the
    styles to `size`'s long side x style_scale (see `plan.style_side`); images larger than
    `tile` px (> 0) go through the network tile by tile. `temporal` (video): the previous stylised
    frame warped onto this one and where that can be trusted (L image, white = reliable)."""
    layers = list(options.content_layers) + list(options.style_layers)
    net = network.build(options, layers, device)
    content_t = images.to_tensor(content.resize(size, images.RESAMPLE)).to(device)
    style_ts = [images.to_tensor(images.resize_long_side(s, style_side(size, options, s))).to(device) for s in styles]
    mask_ts = None
    if masks is not None:
        mask_ts = [images.to_tensor(m.resize(size, Image.BILINEAR))[0, 0].to(device) for m in masks]
    return Objective(
        net,
        content_t,
        style_ts,
        options.content_weights_per_layer(),
        options.style_weights_per_layer(),
        options.content_weight,
        options.style_weight,
        list(options.style_blend_weights) if options.style_blend_weights else None,
        options.tv_weight,
        network.use_bf16(options, device),
        options.channels_last,
        mask_ts,
        tile,
        _temporal_tensors(temporal, size, device),
        options.temporal_weight,
    )


def _temporal_tensors(
    temporal: tuple[Image.Image, Image.Image] | None, size: tuple[int, int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    if temporal is None:
        return None
    warped, reliable = (im.resize(size, images.RESAMPLE) for im in temporal)
    return images.to_tensor(warped).to(device), images.to_tensor(reliable.convert("RGB"))[:, :1].to(device)


def _shape(image: torch.Tensor, layer: str) -> tuple[int, int]:
    """(H, W) of `layer`'s feature map for `image` [1,3,H,W]: the image halved (rounding down) per pooling."""
    s = tiling.stride(layer)
    return image.shape[2] // s, image.shape[3] // s


def _region(mask: torch.Tensor, per_position_gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """A style mask's region (see `Objective.regions`): the style's Gram rescaled to the M_r = sum(m)
    positions the mask weighs (spatial control, Gatys et al. 2017)."""
    mass = float(mask.sum().clamp(min=1e-6))
    return mask, losses.scaled_gram(per_position_gram, mass), mass


def _resize_mask(mask: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A [H,W] mask averaged down to a layer's [H_l, W_l] grid."""
    return F.interpolate(mask[None, None].float(), size=tuple(shape), mode="area")[0, 0]

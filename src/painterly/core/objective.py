"""The paper's total objective for one content image and one or more style images (eq. 7).

Targets (content features P, style Grams A) are computed once; calling the objective on an
image gives alpha * L_content + beta * L_style (+ tv) as float32 scalars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from ..media import images
from . import features, losses, network, tiling
from .features import Features
from .losses import Losses
from .matting import Matting
from .options import Options
from .sizes import print_balance, style_side
from .vgg import VGG19

if TYPE_CHECKING:
    from .inputs import Inputs
    from .plan import Scale

# An enlarged style's texture is its scan's blur, seen as soft rounded cells at 100%. These layers'
# statistics come from the style at its own pixels (with conv1_1-conv3_1 alone the cells remain; with
# conv4_1 too, brush marks: bench/print_look.py, docs/NOTES.md "Prints that look painted at 100%"); conv5_1,
# the strokes' layout, from the style at the output's scale, so `--style-scale` keeps setting stroke size.
FINE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")


@dataclass(frozen=True)
class Weights:
    """The multiplier of each term: eq. 7's alpha (`content`) and beta (`style`), and the terms on the
    pixels (`Objective.pixel_terms`): TV, the video's temporal term, the photorealism (matting) term
    and the region colour term. A new term adds its weight here, its loss in `pixel_terms` (or
    `losses`), and its option in options.py."""

    content: float = 1.0
    style: float = 1e3
    tv: float = 0.0
    temporal: float = 0.0
    photo: float = 0.0
    colour: float = 0.0

    @classmethod
    def of(cls, options: Options, balance: float = 1.0) -> Weights:
        """The run's weights: the terms summed over positions (all but the style's) times `balance`
        (`sizes.print_balance`)."""
        return cls(
            content=options.content_weight * balance,
            style=options.style_weight,
            tv=options.tv_weight * balance,
            temporal=options.temporal_weight * balance,
            photo=options.photo_weight * balance,
            colour=options.colour_weight * balance,
        )

    def total(
        self, content: float | torch.Tensor, style: float | torch.Tensor, pixels: float | torch.Tensor
    ) -> float | torch.Tensor:
        """Eq. 7 and the pixel terms: alpha * L_content + beta * L_style + the weighted pixel terms (both
        evaluation paths, one view and tiles, add up here)."""
        return self.content * content + self.style * style + pixels


class Objective:
    """L_total = alpha * sum_l c_l L_content,l + beta * sum_l w_l E_l + the pixel terms (`Weights`).

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
        *,
        content_layers: dict[str, float],
        style_layers: dict[str, float],
        weights: Weights | None = None,
        blend: list[float] | None = None,
        bf16: bool = False,
        channels_last: bool = True,
        masks: list[torch.Tensor] | None = None,
        tile: int = 0,
        temporal: tuple[torch.Tensor, torch.Tensor] | None = None,
        native_styles: list[torch.Tensor | None] | None = None,
        style_regions: list[torch.Tensor] | None = None,
    ):
        self.net = net
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.weights = weights = weights or Weights()
        self.features = Features(net, bf16, channels_last)
        self.layers = sorted(set(content_layers) | set(style_layers))
        self.tile = tile
        self.temporal = temporal if weights.temporal else None  # (warped previous frame, reliable pixels)
        self.matting = Matting(content) if weights.photo else None  # the photorealism term (DPST)
        blend = blend or [1.0] * len(styles)
        blend = [b / sum(blend) for b in blend]
        self.content_targets = features.feature_maps(self.features, content, list(content_layers), tile)
        shape = {layer: _shape(content, layer) for layer in style_layers}
        per_position = []  # per style and layer: the Gram per position, A / M_a
        for k, style in enumerate(styles):
            region = style_regions[k] if style_regions else None
            per_position.append(self._per_position(style, list(style_layers), region))
            if native_styles and native_styles[k] is not None:  # an enlarged style: fine layers from its pixels
                fine = [layer for layer in style_layers if layer in FINE_LAYERS]
                per_position[-1].update(self._per_position(native_styles[k], fine, region))
        self.style_targets = {
            layer: losses.scaled_gram(sum(b * p[layer] for b, p in zip(blend, per_position)), math.prod(shape[layer]))
            for layer in style_layers
        }
        self.colours = _colour_targets(masks, styles, style_regions) if weights.colour else []
        self.masks = None
        self._regions = {layer: [(None, self.style_targets[layer], math.prod(shape[layer]))] for layer in style_layers}
        if masks is not None:
            self.masks = {layer: [_resize_mask(m, shape[layer]) for m in masks] for layer in style_layers}
            self._regions = {
                layer: [_region(m, p[layer]) for m, p in zip(self.masks[layer], per_position)] for layer in style_layers
            }

    def _per_position(
        self, style: torch.Tensor, layers: list[str], region: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The style's Gram per position at `layers`: of the whole image, or of `region` ([H,W] 0..1)."""
        if region is None:
            g = features.grams(self.features, style, layers, self.tile)
            return {layer: g[layer] / math.prod(_shape(style, layer)) for layer in layers}
        maps = features.feature_maps(self.features, style, layers, self.tile)
        masks = {layer: _resize_mask(region, _shape(style, layer)) for layer in layers}
        return {layer: losses.gram(maps[layer], m) / float(m.sum().clamp(min=1e-6)) for layer, m in masks.items()}

    def regions(self, layer: str) -> list[tuple[torch.Tensor | None, torch.Tensor, float]]:
        """Where the style is matched at `layer`, one entry per region: (the region's weights [H_l,W_l],
        None for the whole map; the target Gram A for its positions; the number of positions M)."""
        return self._regions[layer]

    def _style_loss(self, feats: dict[str, torch.Tensor], layer: str) -> torch.Tensor:
        if self.masks is None:
            return losses.style_layer_loss(feats[layer], self.style_targets[layer])
        return sum(losses.gram_loss(losses.gram(feats[layer], m), a, n) for m, a, n in self.regions(layer))

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
        total = self.weights.total(content, style, pixels)
        return Losses(total, float(content.detach()), float(style.detach()), float(pixels.detach()))

    def pixel_terms(self, image: torch.Tensor) -> torch.Tensor:
        """The terms on the pixels themselves (no network), weighted: TV, the temporal term, the
        photorealism term and each region's colour statistics."""
        w, total = self.weights, torch.zeros((), device=image.device)
        if w.tv:
            total = total + w.tv * losses.tv_loss(image)
        if self.temporal is not None:
            total = total + w.temporal * losses.temporal_loss(image, *self.temporal)
        if self.matting is not None:
            total = total + w.photo * self.matting.loss(image)
        for mask, mean, cov in self.colours:
            total = total + w.colour * losses.colour_loss(image, mask, mean, cov)
        return total


def build(
    content: Image.Image,
    styles: Sequence[Image.Image],
    options: Options,
    size: tuple[int, int],
    device: torch.device,
    *,
    masks: Sequence[Image.Image] | None = None,
    tile: int = 0,
    temporal: tuple[Image.Image, Image.Image] | None = None,
    regions: Sequence[tuple[Image.Image, Image.Image]] | None = None,
) -> Objective:
    """The objective for an output of `size` (W, H): the content (and masks) resized to it, the
    styles to `size`'s long side x style_scale (see `sizes.style_side`); images larger than
    `tile` px (> 0) go through the network tile by tile. `temporal` (video): the previous stylised
    frame warped onto this one and where that can be trusted (L image, white = reliable). `regions`
    (--labels, one style): each photo region matched to its style region's Gram."""
    style_regions = None
    if regions:
        styles, masks = [styles[0]] * len(regions), [photo.convert("RGB") for photo, _ in regions]
        style_regions = [look for _, look in regions]
    layers = list(options.content_layers) + list(options.style_layers)
    net = network.build(options, layers, device)
    content_t = images.to_tensor(content.resize(size, images.RESAMPLE)).to(device)
    sides = [style_side(size, options.style_scale, s) for s in styles]
    style_ts = [images.to_tensor(images.resize_long_side(s, side)).to(device) for s, side in zip(styles, sides)]
    native_ts = [images.to_tensor(s).to(device) if side > max(s.size) else None for s, side in zip(styles, sides)]
    balance = print_balance(size) if options.print_balance else 1.0  # the terms summed over positions
    mask_ts = None
    if masks is not None:
        mask_ts = [images.to_tensor(m.resize(size, Image.BILINEAR))[0, 0].to(device) for m in masks]
    return Objective(
        net,
        content_t,
        style_ts,
        content_layers=options.content_weights_per_layer(),
        style_layers=options.style_weights_per_layer(),
        weights=Weights.of(options, balance),
        blend=list(options.style_blend_weights) if options.style_blend_weights else None,
        bf16=network.use_bf16(options.precision, device),
        channels_last=options.channels_last,
        masks=mask_ts,
        tile=tile,
        temporal=_temporal_tensors(temporal, size, device),
        native_styles=native_ts,
        style_regions=_style_masks(style_regions, style_ts),
    )


def for_scale(
    inputs: Inputs, content: Image.Image, styles: Sequence[Image.Image], options: Options, scale: Scale, device
) -> Objective:
    """`build` for one scale of a plan: `content` and `styles` as the run prepared them, the masks,
    video frames and paired regions from `inputs`."""
    masks, temporal = inputs.masks, inputs.temporal
    return build(
        content, styles, options, scale.size, device, masks=masks, tile=scale.tile, temporal=temporal,
        regions=inputs.regions,
    )  # fmt: skip


def _colour_targets(
    masks: list[torch.Tensor] | None, styles: list[torch.Tensor], style_regions: list[torch.Tensor] | None
) -> list[tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]]:
    """(photo region [H,W] or None for the whole image, target mean [3], target covariance [3,3]) per
    region pair: each photo region's colours go towards its style region's, or all towards the whole style's."""
    pairs = zip(masks, styles, style_regions) if masks and style_regions else [(None, styles[0], None)]
    return [(m, *losses.colour_stats(s, r)[:2]) for m, s, r in pairs]


def _style_masks(regions: list[Image.Image] | None, styles: list[torch.Tensor]) -> list[torch.Tensor] | None:
    """Each style region ("L") as [H,W] 0..1 at its style tensor's size, or None."""
    if regions is None:
        return None
    return [
        images.to_tensor(r.convert("RGB").resize((s.shape[3], s.shape[2]), Image.BILINEAR))[0, 0].to(s.device)
        for r, s in zip(regions, styles)
    ]


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

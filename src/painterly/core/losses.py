"""The paper's losses (Gatys, Ecker & Bethge 2016, eq. 1-7), each a small function.

Feature maps are [1, N, H, W] tensors: N filters, M = H*W positions. Losses are float32
scalars even when the features come from a bfloat16 network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Losses:
    """Weighted loss terms for one image; `total` carries the gradient."""

    total: torch.Tensor
    content: float
    style: float
    pixels: float  # the weighted terms on the pixels: tv_weight * TV + temporal_weight * temporal


def flatten(features: torch.Tensor) -> torch.Tensor:
    """[1,N,H,W] feature map -> F in R^{N x M} (float32)."""
    return features.reshape(features.shape[1], -1).float()


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: L_content = 1/2 * sum_ij (F_ij - P_ij)^2."""
    return 0.5 * (flatten(features) - flatten(target)).pow(2).sum()


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 3: G_ij = sum_k F_ik F_jk, an N x N matrix (unnormalised); with `mask` ([H,W] in 0..1)
    each position k counts m_k times: the Gram of a region (Gatys et al. 2017)."""
    f = features.reshape(features.shape[1], -1)  # in the network's precision, as `_StyleLoss`
    return ((f if mask is None else f * mask.reshape(1, -1).to(f.dtype)) @ f.t()).float()


def gram_loss(g: torch.Tensor, target_gram: torch.Tensor, positions: int) -> torch.Tensor:
    """Eq. 4 from the Gram itself: E_l = 1/(4 N^2 M^2) * sum_ij (G_ij - A_ij)^2 over M `positions`."""
    n = g.shape[0]
    return (g - target_gram).pow(2).sum() / (4.0 * n * n * positions * positions)


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Eq. 4: E_l = 1/(4 N^2 M^2) * sum_ij (G_ij - A_ij)^2.

    `target_gram` A must count the same M positions as `features` (see `scaled_gram`). The
    gradient is eq. 6, dE_l/dF = (G - A) F / (N^2 M^2), in one matrix product (see `_StyleLoss`).
    """
    n = features.shape[1]
    m = features.shape[2] * features.shape[3]
    return _StyleLoss.apply(features, target_gram, 1.0 / (4.0 * n * n * m * m))


class _StyleLoss(torch.autograd.Function):
    """scale * |F F^T - A|^2 with the paper's closed-form gradient: autograd would spend two
    matrix products on F F^T's backward and a sum of both, where (G - A) being symmetric needs one."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, target: torch.Tensor, scale: float) -> torch.Tensor:
        _, n, h, w = features.shape
        # F^T as M x N: a view (no copy) of channels-last features, whose channels are innermost
        ft = features.permute(0, 2, 3, 1).reshape(h * w, n)
        # Both products in the network's precision: a bf16 product accumulates in fp32 and is about twice
        # as fast as fp32 on CPUs with bf16 units, and the Gram's rounding is noise the difference G - A
        # does not follow (docs/NOTES.md, "Half the passes: the Grams in bf16").
        diff = (ft.t() @ ft).float() - target
        ctx.save_for_backward(ft, diff)
        ctx.scale, ctx.shape = scale, (1, h, w, n)
        return diff.pow(2).sum() * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        ft, diff = ctx.saved_tensors
        grad_ft = ft @ (diff * (4.0 * ctx.scale * grad)).to(ft.dtype)  # (G - A) F, transposed
        return grad_ft.reshape(ctx.shape).permute(0, 3, 1, 2), None, None


def scaled_gram(per_position_gram: torch.Tensor, positions: float) -> torch.Tensor:
    """A style Gram rescaled to `positions` positions.

    A style image of another size than the output (M_a != M) has its Gram divided by M_a and
    multiplied by M, so both count the same positions; with equal sizes this is the paper's A.
    """
    return per_position_gram * positions


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation of an RGB 0..1 image [1,3,H,W]: the sum of squared differences of
    neighbouring pixels, measured in 0..255 units (the network's input scale)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx.float().pow(2).sum() + dy.float().pow(2).sum()) * 255.0**2


def temporal_loss(image: torch.Tensor, target: torch.Tensor, reliable: torch.Tensor) -> torch.Tensor:
    """Ruder et al. 2016, eq. 7, in 0..255 units like `tv_loss`: sum_ij c_ij (x_ij - w_ij)^2 between an
    RGB 0..1 image [1,3,H,W] and the previous stylised frame warped onto it, where the flow is
    `reliable` (c [1,1,H,W] in 0..1)."""
    return (reliable * (image.float() - target).pow(2)).sum() * 255.0**2


def colour_stats(
    image: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean [3], covariance [3,3], weight) of an RGB 0..1 image [1,3,H,W]'s colours in 0..255 units,
    weighted by `mask` ([H,W] in 0..1; None: every pixel); weight = the mask's sum in pixels."""
    rgb = image[0].float().flatten(1) * 255.0  # [3, H*W]
    w = torch.ones_like(rgb[0]) if mask is None else mask.float().flatten()
    mass = w.sum().clamp(min=1e-6)
    mean = (rgb * w).sum(1) / mass
    centred = rgb - mean[:, None]
    return mean, (centred * w) @ centred.T / mass, mass


def colour_loss(image: torch.Tensor, mask: torch.Tensor | None, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """How far the colours of `image` under `mask` are from a target mean and covariance (0..255 units):
    the region's pixel count x (|mean difference|^2 + |covariance difference|_F), a sum over pixels as
    `tv_loss` is."""
    m, c, mass = colour_stats(image, mask)
    return mass * ((m - mean).pow(2).sum() + (c - cov).pow(2).sum().add(1e-6).sqrt())

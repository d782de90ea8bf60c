"""The paper's losses (Gatys, Ecker & Bethge 2016, eq. 1-7), each a small function.

Feature maps are [1, N, H, W] tensors: N filters, M = H*W positions. Losses are float32
scalars even when the features come from a bfloat16 network.
"""

from __future__ import annotations

import torch


def flatten(features: torch.Tensor) -> torch.Tensor:
    """[1,N,H,W] feature map -> F in R^{N x M} (float32)."""
    return features.reshape(features.shape[1], -1).float()


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: L_content = 1/2 * sum_ij (F_ij - P_ij)^2."""
    return 0.5 * (flatten(features) - flatten(target)).pow(2).sum()


def gram(features: torch.Tensor) -> torch.Tensor:
    """Eq. 3: G_ij = sum_k F_ik F_jk, an N x N matrix (unnormalised)."""
    f = flatten(features)
    return f @ f.t()


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor, target_positions: int) -> torch.Tensor:
    """Eq. 4: E_l = 1/(4 N^2 M^2) * sum_ij (G_ij - A_ij)^2.

    `target_gram` A was computed over `target_positions` M_a positions. When the style
    image has a different size than the output (M_a != M), A is rescaled by M/M_a so both
    Grams count the same number of positions; with equal sizes this is exactly eq. 4.
    """
    n = features.shape[1]
    m = features.shape[2] * features.shape[3]
    g = gram(features) / m
    a = target_gram / target_positions
    return (g - a).pow(2).sum() / (4.0 * n * n)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation of an RGB 0..1 image [1,3,H,W]: the sum of squared differences of
    neighbouring pixels, measured in 0..255 units (the network's input scale)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx.float().pow(2).sum() + dy.float().pow(2).sum()) * 255.0**2

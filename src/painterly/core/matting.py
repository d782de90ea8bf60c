"""The photorealism term of Deep Photo Style Transfer (Luan et al. 2017): sum_c V_c^T M_I V_c, where
V_c is one colour channel of the output (flattened) and M_I the matting Laplacian of the photo I
(Levin, Lischinski & Weiss 2008). It is 0 exactly when, in every small window, the output is an
affine function of the photo's colours: a recoloured photo, not a painted one.

M_I is never built: M_I p comes from box filters (the guided-filter algebra of He, Sun & Tang 2010),
so the term and its gradient (2 M_I V_c, by autograd) cost O(pixels) on any device. In each window
w_k fully inside the image, a = (Sigma_k + eps/|w| U)^-1 cov_k(I, p) and b = mean_k(p) - a . mu_k are
the best affine fit of p from I; (M_I p)_i = sum over the windows k holding i of p_i - a_k . I_i - b_k.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RADIUS = 1  # 3x3 windows, as Levin et al. and DPST
# Regularises each window's colour covariance (colours in 0..1): a flat window's fit falls back to
# its mean rather than amplifying noise. Levin et al. and DPST use 1e-7.
EPS = 1e-7


# The final projection's regulariser (colours 0..1, divided by the window's pixel count as EPS): large
# enough that a flat stretch of the photo (a sky) takes the output's local mean instead of fitting
# noise, small enough that the photo's edges stay sharp (bench/photoreal.py, figures in docs/NOTES.md).
AFFINE_EPS = 1e-2


class Matting:
    """The matting Laplacian of `photo` ([1,3,H,W] RGB 0..1), applied without building it."""

    def __init__(self, photo: torch.Tensor, *, radius: int = RADIUS, eps: float = EPS):
        self.radius, self.size = radius, (2 * radius + 1) ** 2
        guide = photo.detach().double()  # a flat window's inverse covariance is ~|w|/eps: float32 cancels to < 0
        self.guide = guide[0]  # [3,H,W]
        self.mean = self._window_mean(guide)[0]  # [3,h,w] over the valid windows, h = H - 2r
        outer = self._window_mean(guide[:, :, None] * guide[:, None])[0]  # [3,3,h,w]
        covariance = outer - self.mean[:, None] * self.mean[None]
        regular = covariance.permute(2, 3, 0, 1) + eps / self.size * torch.eye(3, device=guide.device)
        self.inverse = torch.linalg.inv(regular)  # [h,w,3,3]
        self.count = self._windows_holding(torch.ones_like(self.mean[None, :1]))[0, 0]  # [H,W]

    def apply(self, p: torch.Tensor) -> torch.Tensor:
        """M_I p for `p` [C,H,W] float64 (each channel on its own): [C,H,W]."""
        mean_p = self._window_mean(p[:, None])[:, 0]  # [C,h,w]
        mean_ip = self._window_mean(self.guide[None] * p[:, None])  # [C,3,h,w]
        covariance = mean_ip - self.mean[None] * mean_p[:, None]
        a = torch.einsum("hwij,cjhw->cihw", self.inverse, covariance)  # [C,3,h,w]
        b = mean_p - (a * self.mean[None]).sum(1)  # [C,h,w]
        a_sum = self._windows_holding(a.flatten(0, 1)[None])[0].unflatten(0, a.shape[:2])  # [C,3,H,W]
        b_sum = self._windows_holding(b[None])[0]  # [C,H,W]
        return self.count * p - (a_sum * self.guide[None]).sum(1) - b_sum

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        """sum_c V_c^T M_I V_c for `image` [1,C,H,W] (0 for a locally affine recolouring of the photo)."""
        p = image[0].double()
        return (p * self.apply(p)).sum().to(image.dtype)

    def _window_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over each window fully inside the image: [..., H, W] -> [..., H - 2r, W - 2r]."""
        pooled = F.avg_pool2d(x.reshape(-1, 1, *x.shape[-2:]), 2 * self.radius + 1, stride=1)
        return pooled.reshape(*x.shape[:-2], *pooled.shape[-2:])

    def _windows_holding(self, x: torch.Tensor) -> torch.Tensor:
        """For values per valid window [1,C,h,w]: at each pixel, the sum over the windows that hold it
        [1,C,H,W]."""
        r = self.radius
        padded = F.pad(x, (2 * r, 2 * r, 2 * r, 2 * r))
        return F.avg_pool2d(padded, 2 * r + 1, stride=1) * self.size


def locally_affine(image: torch.Tensor, photo: torch.Tensor, *, radius: int, eps: float = AFFINE_EPS) -> torch.Tensor:
    """`image` [1,3,H,W] (RGB 0..1) made a locally affine recolouring of `photo` ([1,3,H,W], the same
    size): in each window of 2 * radius + 1 px the best affine map of the photo's colours onto the image's,
    averaged over the windows holding each pixel (He, Sun & Tang's guided filter with the photo as guide).
    What the matting term asks for, reached in one step: texture the photo's colours cannot explain goes,
    each stretch keeps its colours. With M_I from the same windows that is p - (M_I p) / count."""
    matting = Matting(photo, radius=radius, eps=eps)
    p = image[0].double()
    return (p - matting.apply(p) / matting.count).clamp(0.0, 1.0).to(image.dtype)[None]

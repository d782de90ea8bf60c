"""The losses against values computed by hand from the paper's equations."""

import pytest
import torch

from painterly.core import losses

pytestmark = pytest.mark.numerics  # .ci/run runs these again on the AVX2 kernels


def fmap(values, h, w):
    """[N, M] nested list -> feature map [1, N, h, w]."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, len(values), h, w)


def test_content_loss_is_half_sum_of_squares():
    f = fmap([[1.0, 2.0], [3.0, 4.0]], 1, 2)
    p = fmap([[0.0, 0.0], [3.0, 6.0]], 1, 2)
    # 1/2 * (1 + 4 + 0 + 4)
    assert losses.content_loss(f, p).item() == 4.5


def test_gram_values_shape_and_symmetry():
    f = fmap([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]], 1, 3)
    g = losses.gram(f)
    assert g.shape == (2, 2)
    assert torch.equal(g, g.t())
    assert g.tolist() == [[5.0, 2.0], [2.0, 10.0]]


def test_gram_of_real_sized_map_is_symmetric_psd():
    f = torch.rand(1, 16, 8, 8)
    g = losses.gram(f)
    assert g.shape == (16, 16)
    assert torch.allclose(g, g.t())
    assert torch.linalg.eigvalsh(g.double()).min() > -1e-6


def test_style_layer_loss_matches_eq4():
    # N = 1 filter, M = 2 positions: G = 1 + 4 = 5, A = 3 -> (5-3)^2 / (4 * 1 * 4) = 0.25
    f = fmap([[1.0, 2.0]], 1, 2)
    assert losses.style_layer_loss(f, torch.tensor([[3.0]])).item() == 0.25


def test_style_gram_of_other_size_is_rescaled_per_position():
    # a style Gram from 4 positions, A = 6, counts as 3 over the output's 2 positions
    assert losses.scaled_gram(torch.tensor([[6.0]]) / 4, 2).item() == 3.0


def test_style_loss_zero_for_identical_statistics():
    f = torch.rand(1, 8, 4, 4)
    assert losses.style_layer_loss(f, losses.gram(f)).item() < 1e-10


def test_a_region_gram_with_a_full_mask_is_eq4():
    f = torch.rand(1, 4, 3, 5)
    target = torch.rand(4, 4)
    full = losses.gram_loss(losses.gram(f, torch.ones(3, 5)), target, 15)
    assert torch.allclose(full, losses.style_layer_loss(f, target))


def test_a_region_gram_ignores_positions_outside_the_mask():
    f = torch.rand(1, 4, 2, 2)
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    g = losses.gram(f[..., :1, :])
    changed = f.clone()
    changed[..., 1, :] = 100.0
    assert losses.gram_loss(losses.gram(f, mask), g, 2).item() < 1e-10
    assert losses.gram_loss(losses.gram(changed, mask), g, 2).item() < 1e-10


def test_tv_loss():
    image = torch.zeros(1, 3, 2, 2)
    image[0, :, 0, 0] = 1.0
    # each channel: one horizontal and one vertical difference of 1 (= 255 in 0..255 units)
    assert losses.tv_loss(image).item() == 6.0 * 255**2

"""Tiled evaluation (issue "Print-size", must-show 1): the same objective and gradient as the whole image."""

from __future__ import annotations

import pytest
import torch

import painterly
from conftest import artwork_like, photo_like
from painterly import tiling
from painterly.objective import build


@pytest.mark.parametrize(
    ("width", "height", "tile", "offset"),
    [(256, 192, 128, (0, 0)), (250, 187, 96, (5, 37)), (512, 384, 128, (0, 0))],
)
def test_tiled_objective_and_gradient_equal_the_whole_image(width, height, tile, offset):
    options = painterly.Options(size=width, precision="fp32", tv_weight=20.0)
    objective = build(photo_like(width, height), [artwork_like(96, 96)], options, (width, height), torch.device("cpu"))
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    whole = x.clone().requires_grad_(True)
    expected = objective(whole)
    expected.total.backward()
    losses, grad = tiling.loss_and_grad(objective, x, tile, offset)
    assert len(tiling.layout(height, width, tile, offset=offset)) >= 4
    assert float(losses.total) == pytest.approx(float(expected.total.detach()), rel=1e-5)
    assert float((grad - whole.grad).norm() / whole.grad.norm()) < 1e-4


def test_a_tiled_run_follows_the_untiled_one():
    # From the content, not from noise: from noise the first line search divides loss differences of
    # 1e-5 relative, so float32 rounding (1e-7) alone sends two exact evaluations different ways.
    options = dict(size=128, iterations=5, precision="fp32", multiscale=False, init="content")
    whole = [s.loss for s in painterly.stylize_iter(photo_like(128, 96), artwork_like(), **options)]
    tiled = [s.loss for s in painterly.stylize_iter(photo_like(128, 96), artwork_like(), tile=64, **options)]
    assert tiled == pytest.approx(whole, rel=1e-3)


def test_tiles_cut_the_memory_estimate():
    from painterly import resources

    whole = resources.estimate(2048, 1536, 20, bf16=True)[1]
    tiled = resources.estimate(2048, 1536, 20, bf16=True, tile=512)[1]
    assert tiled < whole / 2


def test_the_memory_guard_proposes_tiles_instead_of_refusing():
    plan = painterly.api.plan(photo_like(), artwork_like(), size=2048, max_memory=4 * 2**30)
    assert plan.options.size == 2048 and plan.options.tile > 0  # the size asked for, in tiles
    assert plan.memory <= 4 * 2**30
    assert any("tiles of" in note for note in plan.notes)
    untiled = painterly.api.plan(photo_like(), artwork_like(), size=2048, max_memory=64 * 2**30)
    assert untiled.options.tile == 0  # tiles only where the whole image does not fit

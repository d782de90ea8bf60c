"""The fast defaults (issue "Fast and clean") and the paper preset that keeps the paper's method."""

from __future__ import annotations

import pytest
import torch

import painterly
from conftest import artwork_like, photo_like
from painterly import losses, network
from painterly.objective import build
from painterly.options import with_preset
from painterly.plan import schedule


def test_paper_preset_is_the_papers_method():
    paper = with_preset("paper")
    assert schedule(paper) == [(512, 1000)]  # one scale
    assert (paper.init, paper.optimizer, paper.line_search) == ("noise", "lbfgs", True)
    assert (paper.content_weight, paper.style_weight) == (1.0, 1e3)  # alpha/beta = 1e-3
    assert paper.content_weights_per_layer() == {"conv4_2": 1.0}
    assert paper.style_weights_per_layer() == {f"conv{b}_1": 0.2 for b in range(1, 6)}  # w_l = 1/5
    assert (paper.balance_layers, paper.tv_weight, paper.precision) == (False, 0.0, "fp32")
    assert (paper.pooling, paper.network) == ("avg", "plain")


def test_balancing_makes_the_style_layers_count_alike():
    opts = painterly.Options(size=64)
    objective = build(photo_like(), [artwork_like()], opts, (64, 48), torch.device("cpu"))
    start = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))

    def contributions():
        with torch.no_grad():
            feats = objective.features(start, list(objective.style_layers))
            return [w * float(objective._style_loss(feats, k)) for k, w in objective.style_layers.items()]

    before = contributions()
    objective.balance(start)
    after = contributions()
    assert sum(after) == pytest.approx(sum(before), rel=1e-3)  # the same style loss in total
    assert max(after) / min(after) < (max(before) / min(before)) ** 0.5  # much closer to equal


def test_style_loss_gradient_is_the_papers_eq6():
    torch.manual_seed(0)
    features = torch.rand(1, 16, 6, 5).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    target = losses.gram(torch.rand(1, 16, 6, 5))
    loss = losses.style_layer_loss(features, target)
    loss.backward()
    f = features.detach().reshape(16, -1)
    expected = ((f @ f.t() - target) @ f / (16**2 * 30**2)).reshape(1, 16, 6, 5)  # eq. 6 for F > 0
    assert torch.allclose(features.grad, expected, rtol=1e-4, atol=1e-9)
    reference = (losses.gram(features.detach()) - target).pow(2).sum() / (4 * 16**2 * 30**2)
    assert torch.allclose(loss, reference, rtol=1e-5)


def test_precision_follows_the_hardware(monkeypatch):
    opts = painterly.Options()
    monkeypatch.setattr(network, "cpu_flags", lambda: {"avx2", "fma"})
    network.cpu_bf16_pays.cache_clear()
    assert not network.use_bf16(opts, torch.device("cpu"))  # AVX2 only: bf16 would be emulated
    assert network.use_bf16(opts.replace(precision="bf16"), torch.device("cpu"))  # asked for: obeyed
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert network.pick_device("auto").type == "cuda"
    assert network.use_bf16(opts, torch.device("cuda"))
    assert not network.use_bf16(opts.replace(precision="fp32"), torch.device("cuda"))
    network.cpu_bf16_pays.cache_clear()


def test_fixed_step_lbfgs_converges_from_noise_with_one_evaluation_per_iteration():
    steps = list(painterly.stylize_iter(photo_like(), artwork_like(), size=64, iterations=40))
    assert steps[-1].loss * 10 < steps[0].loss
    assert steps[-1].evaluations <= 40 + 10  # the first steps search; after that one pass per iteration


def test_the_memory_guard_knows_bf16_needs_less():
    from painterly import resources

    bf16 = resources.estimate(2048, 1536, 20, bf16=True)[1]
    fp32 = resources.estimate(2048, 1536, 20, bf16=False)[1]
    assert bf16 < 8 * 2**30 < fp32  # a 2048 px bf16 render (6.95 GiB measured) passes --max-memory 8G
    assert bf16 > 6.95 * 2**30  # and the estimate stays above what was measured

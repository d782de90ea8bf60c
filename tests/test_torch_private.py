"""What the optimiser relies on that torch does not document (core/torch_private.py): if a torch
release changes one of these, this file fails, not a render that quietly goes wrong."""

from __future__ import annotations

import subprocess
import sys

import torch

from painterly.core import torch_private


def quadratic(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((x - target) ** 2 * torch.linspace(1, 10, x.numel()).view_as(x)).sum()


def test_an_in_place_change_bumps_the_version_and_reading_does_not():
    x = torch.zeros(4)
    before = torch_private.version(x)
    _ = x.sum()
    assert torch_private.version(x) == before
    x.add_(1)
    assert torch_private.version(x) > before


def test_lbfgs_reads_its_line_search_setting_at_every_step():
    """Switched between steps of one optimiser: a searched step evaluates more than once, a fixed one once."""
    target = torch.linspace(-1, 1, 16)
    x = torch.zeros(16, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=0.1, max_iter=1, history_size=5, line_search_fn=None)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = quadratic(x, target)
        loss.backward()
        return loss

    for searching in (True, False, True, False):
        torch_private.set_line_search(opt, searching)
        before = len(calls)
        opt.step(closure)
        counted = len(calls) - before
        assert counted > 1 if searching else counted == 1


def test_lbfgs_keeps_its_inverse_curvature_after_a_step():
    target = torch.linspace(-1, 1, 16)
    x = torch.zeros(16, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=1, line_search_fn="strong_wolfe")
    assert torch_private.inverse_curvature(opt, x) is None

    def closure():
        opt.zero_grad()
        loss = quadratic(x, target)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    value = torch_private.inverse_curvature(opt, x)
    assert value is not None and 0 < value < 1  # the quadratic's curvature is 2..20: its inverse below 1


def test_the_default_optimiser_made_and_stepped_by_the_run_does_not_import_torch_s_compiler():
    """torch._dynamo costs about a second of every fresh process; a render never compiles. (Adam's step
    imports it anyway: `--optimizer adam` pays the second.)"""
    script = (
        "import sys, torch\n"
        "from painterly.core import optimize\n"
        "from painterly.core.losses import Losses\n"
        "def objective(x):\n"
        "    loss = (x.clamp(0, 1) - 0.3).pow(2).sum()\n"
        "    return Losses(loss, float(loss.detach()), 0.0, 0.0)\n"
        "list(optimize.iterate(objective, torch.full((1, 3, 8, 8), 0.5), 12))\n"
        "raw = torch.optim.Optimizer.add_param_group.__wrapped__\n"
        "print('torch._dynamo' in sys.modules, hasattr(raw, '__dynamo_disable'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # not imported, and torch left as it was

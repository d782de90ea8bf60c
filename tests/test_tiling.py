"""Tiled evaluation (issue "Print-size", must-show 1): the same objective and gradient as the whole image."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import painterly
from conftest import artwork_like, photo_like
from painterly.core import evaluate, tiling
from painterly.core.objective import build


@pytest.mark.numerics
@pytest.mark.parametrize(
    ("width", "height", "tile", "offset"),
    [(250, 187, 96, (5, 37)), (384, 288, 96, (0, 0))],  # a moved grid on odd sizes; crops cut on all sides
)
def test_tiled_objective_and_gradient_equal_the_whole_image(width, height, tile, offset):
    options = painterly.Options(size=width, precision="fp32", tv_weight=20.0)
    objective = build(photo_like(width, height), [artwork_like(96, 96)], options, (width, height), torch.device("cpu"))
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    whole = x.clone().requires_grad_(True)
    expected = objective(whole)
    expected.total.backward()
    losses, grad = evaluate.loss_and_grad(objective, x, tile, offset)
    assert len(tiling.layout(height, width, tile, offset=offset)) >= 4
    assert float(losses.total) == pytest.approx(float(expected.total.detach()), rel=1e-5)
    assert float((grad - whole.grad).norm() / whole.grad.norm()) < 1e-4


@pytest.mark.numerics
def test_style_masks_tiled_equal_the_whole_image():
    width, height = 256, 192
    options = painterly.Options(size=width, precision="fp32")
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 3] = 255  # a hard edge inside a tile: the regions' Grams are cut by the cores
    masks = [Image.fromarray(left).convert("RGB"), Image.fromarray(255 - left).convert("RGB")]
    styles = [artwork_like(96, 96), artwork_like(80, 80, seed=3).transpose(Image.Transpose.ROTATE_90)]
    objective = build(photo_like(width, height), styles, options, (width, height), torch.device("cpu"), masks=masks)
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    whole = x.clone().requires_grad_(True)
    expected = objective(whole)
    expected.total.backward()
    losses, grad = evaluate.loss_and_grad(objective, x, 96, (16, 48))
    assert float(losses.total) == pytest.approx(float(expected.total.detach()), rel=1e-5)
    assert float((grad - whole.grad).norm() / whole.grad.norm()) < 1e-4


@pytest.mark.numerics
def test_a_tiled_run_follows_the_untiled_one():
    """The optimiser loop on tiles (moving grid, gradient assembled per tile) gives the whole image's
    picture. Tiled and whole evaluations agree to ~1e-7 (above), so a run is compared by what a user
    sees, with Adam: its trajectory carries such a difference along unamplified. L-BFGS with a unit
    step does not: a 1e-6 relative perturbation of the whole image's own gradient moved its picture by
    22/255 (mean) in 20 iterations, as much as tiling did, on AVX-512 and AVX2 kernels alike.
    Measured here (96x48, 48 px tiles, fp32, 12 iterations; AMD Zen 5 with its AVX-512 kernels and with
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2): loss equal to 1e-5, mean pixel difference
    0.00/255, the same as a 1e-6 gradient perturbation; a tiling without halos differs by 35 % in loss
    and 18/255 in pixels."""
    options = dict(size=96, iterations=12, precision="fp32", multiscale=False, init="content", optimizer="adam")
    whole = list(painterly.stylize_iter(photo_like(96, 48), artwork_like(), **options))[-1]
    tiled = list(painterly.stylize_iter(photo_like(96, 48), artwork_like(), tile=48, **options))[-1]
    assert tiled.loss == pytest.approx(whole.loss, rel=1e-3)
    assert float((tiled.image - whole.image).abs().mean()) * 255 < 0.5


def test_tiles_cut_the_memory_estimate():
    from painterly.core import resources

    for bf16 in (True, False):  # the image-sized buffers stay; the network's activations shrink to a tile's
        whole = resources.estimate(2048, 1536, 4, bf16=bf16)[1]
        tiled = resources.estimate(2048, 1536, 4, bf16=bf16, tile=512)[1]
        assert tiled < whole / 2


def test_the_memory_guard_proposes_tiles_instead_of_refusing():
    plan = painterly.api.plan(photo_like(), artwork_like(), size=2048, max_memory=4 * 2**30)
    assert plan.options.size == 2048 and plan.options.tile > 0  # the size asked for, in tiles
    assert plan.memory <= 4 * 2**30
    assert any("tiles of" in note for note in plan.notes)
    untiled = painterly.api.plan(photo_like(), artwork_like(), size=2048, max_memory=64 * 2**30)
    assert untiled.options.tile == 0  # tiles only where the whole image does not fit


def test_the_tile_grid_moves_at_every_evaluation(monkeypatch):
    """No seams: the tiled objective and gradient are the whole image's (above), and the grid moves at
    every evaluation, so the little rounding that differs at a tile border never settles in one place
    (frozen, it left a faint grid: 1.03x the gradient across borders vs 1.015 moving, at 1024 px).
    bench/seams.py measures the seams of a 1024 px render; the picture is not measured here."""
    offsets = []
    loss_and_grad = evaluate.loss_and_grad

    def recording(objective, image, tile, offset, scale):
        offsets.append(offset)
        return loss_and_grad(objective, image, tile, offset, scale)

    monkeypatch.setattr(evaluate, "loss_and_grad", recording)
    list(painterly.stylize_iter(photo_like(96, 48), artwork_like(), size=96, tile=48, iterations=6, optimizer="adam"))
    assert len(offsets) == 6 and all(0 <= dy < 48 and 0 <= dx < 48 for dy, dx in offsets)
    assert all(a != b for a, b in zip(offsets, offsets[1:]))  # a new grid each time
    assert len({dy for dy, _ in offsets}) > 2 and len({dx for _, dx in offsets}) > 2  # in both directions


def test_ctrl_c_in_a_tiled_scale_and_resume_match_an_uninterrupted_run(tmp_path, style_path):
    from painterly.frontends.cli import main

    out, content = tmp_path / "out.png", tmp_path / "wide.png"
    photo_like(96, 48).save(content)  # two 48 px tiles
    # Adam: one evaluation per iteration (L-BFGS's checkpoint and resume are tested in test_cli.py)
    args = [str(content), str(style_path), "--size", "96", "--tile", "48", "--iterations", "16", "--optimizer", "adam"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly", *args, "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    deadline, seen = time.monotonic() + 240, ""
    while time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.read(1)
        if any(int(n) >= 6 for n in re.findall(r"it (\d+)/", seen)):  # 96 px in 48 px tiles
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, rest
    stopped_at = int(painterly.media.images.read_metadata(out)["iteration"])
    assert 6 <= stopped_at < 16
    assert main([*args, "-o", str(out), "--resume", str(tmp_path / "out.png.ckpt"), "-q"]) == 0
    assert main([*args, "-o", str(tmp_path / "full.png"), "-q"]) == 0
    resumed = np.asarray(Image.open(out), np.float32)
    full = np.asarray(Image.open(tmp_path / "full.png"), np.float32)
    assert np.abs(resumed - full).mean() < 1.0  # < 1/255


def test_show_plan_prints_tiles_per_scale_and_renders_nothing(tmp_path, content_path, style_path, capsys):
    from painterly.frontends.cli import main

    out = tmp_path / "big.png"
    args = [str(content_path), str(style_path), "-o", str(out), "--size", "2048", "--max-memory", "3G", "--show-plan"]
    assert main(args) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "plan:" in line]
    assert not out.exists()
    assert "photo content.png (64x48), artwork style.png (64x64)" in lines[0]
    assert "whole image" in lines[1] and "tiles of" in lines[-2]  # small scales whole, the largest in tiles
    assert "2048x" in lines[-2] and "GiB" in lines[-1]


def test_scales_that_fit_run_whole_and_the_rest_in_tiles():
    plan = painterly.api.plan(photo_like(), artwork_like(), size=4096, max_memory=6 * 2**30)
    tiled = [s.side for s in plan.scales if s.tile]
    assert tiled and tiled[-1] == 4096 and all(s.tile == 0 for s in plan.scales if s.side <= 1024)
    assert plan.memory <= 6 * 2**30 and max(s.memory for s in plan.scales) == plan.memory
    assert plan.scales[-1].iterations >= 9  # print sizes still redraw the texture at full size
    # L-BFGS keeps a short history above 2048 px: 4 pairs (1.1 GiB at 4096 px) leave room for the network
    assert plan.scales[-1].history == 4 and plan.scales[-2].history == 9


def test_each_scale_takes_the_largest_tiles_that_fit():
    """Larger tiles repeat less of the 80 px halo (the crops cover 1.45x the image in tiles of 768 px,
    1.7x in tiles of 512), so a scale below the top one that fits larger tiles than the top needs runs
    faster in them."""
    from painterly.core import plan as planning
    from painterly.core import resources

    limit = 6 * 2**30
    plan = painterly.api.plan(photo_like(), artwork_like(), size=4096, max_memory=limit)
    bf16 = planning._bf16(plan.options)
    for s in (s for s in plan.scales if s.tile):
        assert s.memory <= limit
        larger = [t for t in (0, *planning.TILES) if (t == 0 or s.tile < t < s.side)]
        assert not any(resources.fits(*s.size, s.history, limit, bf16, t) for t in larger), s
    small = painterly.api.plan(photo_like(), artwork_like(), size=4096, max_memory=limit, tile=384)
    assert all(s.tile == 384 for s in small.scales if s.side > 384)  # a tile the user chose is kept

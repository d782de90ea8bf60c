"""End-to-end runs on tiny images with the real network: the objective falls, the output is new,
the seed makes it deterministic, and the optimiser survives divergence."""

import math

import numpy as np
import pytest
import torch

import painterly
from conftest import artwork_like, photo_like
from painterly.core import optimize
from painterly.core.objective import Losses
from painterly.core.plan import FEW_ITERATIONS, schedule
from painterly.core.render import initial_image
from painterly.errors import DivergedError, OptionsError
from painterly.media import images

SMALL = dict(size=64, iterations=40)


def run(content, style, **options):
    steps = list(painterly.stylize_iter(content, style, **{**SMALL, **options}))
    return steps


@pytest.mark.numerics
def test_objective_falls_tenfold_and_output_is_new(content_path, style_path):
    start = run(content_path, style_path, iterations=0)[-1].loss
    steps = run(content_path, style_path)
    assert len(steps) == SMALL["iterations"]
    assert steps[-1].loss * 10 <= start
    out = np.asarray(images.to_image(steps[-1].image), np.float32)
    content = np.asarray(images.load(content_path).resize(out.shape[1::-1]), np.float32)
    style = np.asarray(images.load(style_path).resize(out.shape[1::-1]), np.float32)
    assert np.abs(out - content).mean() > 10
    assert np.abs(out - style).mean() > 10


@pytest.mark.numerics
def test_same_seed_same_image_other_seed_other_image(content_path, style_path):
    # from noise (fewer than FEW_ITERATIONS from noise start from the photo, where no seed is drawn)
    few = dict(size=48, iterations=FEW_ITERATIONS, init="noise")
    a = painterly.stylize(content_path, style_path, seed=1, **few)
    b = painterly.stylize(content_path, style_path, seed=1, **few)
    c = painterly.stylize(content_path, style_path, seed=2, **few)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_the_public_plan_and_render_give_the_same_image_as_stylize(content_path, style_path):
    decided = painterly.plan(content_path, style_path, size=48, iterations=6, seed=3)
    *_, last = painterly.render(decided)
    alone = painterly.stylize(content_path, style_path, size=48, iterations=6, seed=3)
    assert decided.size == alone.size and np.array_equal(np.asarray(images.to_image(last.image)), np.asarray(alone))


def test_the_library_scores_at_the_largest_outputs_size_like_the_cli(content_path, style_path, tmp_path):
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    painterly.stylize(content_path, style_path, size=40, iterations=2).save(small)
    painterly.stylize(content_path, style_path, size=56, iterations=2).save(large)
    by_default = painterly.score(content_path, style_path, [small, large])
    assert by_default == painterly.score(content_path, style_path, [small, large], size=56)
    assert by_default != painterly.score(content_path, style_path, [small, large], size=512)


def test_api_accepts_paths_pil_and_arrays_and_calls_back(content_path):
    seen = []
    image = painterly.stylize(
        photo_like(), np.asarray(artwork_like()), size=48, iterations=5, callback=lambda s: seen.append(s.iteration)
    )
    assert image.size == (48, 36) and image.mode == "RGB"
    assert seen == [1, 2, 3, 4, 5]


def test_init_from_content_starts_close_to_content(content_path, style_path):
    noise = run(content_path, style_path, iterations=0)[-1]
    content = run(content_path, style_path, iterations=0, init="content")[-1]
    assert content.content == 0.0
    assert noise.content > 0


def test_image_stays_in_pixel_range(content_path, style_path):
    steps = run(content_path, style_path, iterations=15)
    assert steps[-1].image.min() >= 0 and steps[-1].image.max() <= 1


@pytest.mark.numerics
def test_more_style_weight_means_less_style_loss(content_path, style_path):
    content_heavy = run(content_path, style_path, content_weight=1.0, style_weight=1.0)[-1]
    style_heavy = run(content_path, style_path, content_weight=1.0, style_weight=1e4)[-1]
    assert style_heavy.style < content_heavy.style
    assert style_heavy.content > content_heavy.content


def test_bad_options_are_refused():
    with pytest.raises(OptionsError, match="unknown style layer"):
        painterly.Options(style_layers=("conv9_9",)).validate()
    with pytest.raises(OptionsError, match="3 values for 5 layers"):
        painterly.Options(style_layer_weights=(1, 2, 3)).validate()
    with pytest.raises(OptionsError, match="size"):
        painterly.Options(size=3).validate()
    with pytest.raises(
        OptionsError, match=r"seed must be from 0 to 9223372036854775807, got 1208925819614629174706176"
    ):
        painterly.Options(seed=2**80).validate()  # the bound it broke, not ">= 0"
    with pytest.raises(OptionsError, match="max-memory must be a number of bytes"):
        painterly.Options(max_memory="6G").validate()  # the API's bytes, not a TypeError deep in the planner


@pytest.mark.numerics
def test_score_prefers_the_stylised_image(content_path, style_path, tmp_path):
    out = tmp_path / "out.png"
    painterly.stylize(content_path, style_path, size=64, iterations=40).save(out)
    noise = tmp_path / "noise.png"
    images.to_image(initial_image("noise", photo_like(), [], None, (64, 48), 0)).save(noise)
    stylised, random = painterly.score(content_path, style_path, [out, noise], size=64)
    assert stylised.total < random.total / 5
    assert math.isclose(stylised.total, stylised.content + 1e3 * stylised.style, rel_tol=1e-5)


def quadratic(target):
    def objective(x):
        loss = (x.clamp(0, 1) - target).pow(2).sum()
        return Losses(loss, float(loss.detach()), 0.0, 0.0)

    return objective


@pytest.mark.numerics
def test_lbfgs_solves_a_quadratic():
    target = torch.rand(1, 3, 8, 8)
    steps = list(optimize.iterate(quadratic(target), torch.full((1, 3, 8, 8), 0.5), 10))
    assert steps[-1].loss < 1e-8


@pytest.mark.numerics
def test_divergence_is_rolled_back_not_returned():
    target = torch.rand(1, 3, 8, 8)
    calls = {"n": 0}
    base = quadratic(target)

    def flaky(x):
        calls["n"] += 1
        result = base(x)
        if calls["n"] > 3:  # from the 4th evaluation on, the objective blows up
            bad = result.total * float("nan")
            return Losses(bad, math.nan, 0.0, 0.0)
        return result

    with pytest.raises(DivergedError) as info:
        list(optimize.iterate(flaky, torch.full((1, 3, 8, 8), 0.5), 20))
    best = info.value.best_image
    assert torch.isfinite(best).all()
    assert (best - target).pow(2).sum() < (0.5 - target).pow(2).sum()


def test_coarse_to_fine_schedule():
    # sqrt(2) steps from 181 px; iterations fall as side^-1.5, so each finer scale costs a little more
    assert schedule(painterly.Options(size=512)) == [(181, 46), (256, 28), (362, 16), (512, 10)]
    classic = painterly.Options(size=512, min_scale=128, iterations=220)  # the classic preset's noise start
    assert schedule(classic) == [(128, 97), (181, 57), (256, 34), (362, 20), (512, 12)]
    assert schedule(painterly.Options(size=512, iterations=500, multiscale=False)) == [(512, 500)]
    assert schedule(painterly.Options(size=256, iterations=300)) == [(181, 188), (256, 112)]
    big = schedule(painterly.Options(size=2048))
    assert [s for s, _ in big][-3:] == [1024, 1448, 2048]
    assert min(n for _, n in big) >= 7  # every scale up to PRINT_DETAIL gets steps to put texture back
    huge = schedule(painterly.Options(size=4096))
    # above PRINT_DETAIL one 2x step (no 2896 rung); the top scales keep 9 iterations (the first scale gives them)
    assert [(s, n) for s, n in huge if s >= 1024] == [(1024, 9), (1448, 9), (2048, 9), (4096, 9)]
    assert sum(n for _, n in huge) == 100
    assert schedule(painterly.Options(size=255, iterations=300)) == [(255, 300)]
    assert sum(n for _, n in schedule(painterly.Options(size=2048, iterations=777))) == 777


def test_multiscale_run_ends_at_full_size(content_path, style_path):
    steps = run(content_path, style_path, size=260, iterations=8, min_scale=128)
    assert [s.iteration for s in steps] == list(range(1, 9))
    assert {s.side for s in steps} == {130, 184, 260}
    assert {s.side for s in run(content_path, style_path, size=260, iterations=8)} == {184, 260}  # from 181 px
    assert steps[-1].image.shape[-2:] == (195, 260)


def test_time_budget_stops_the_run(content_path, style_path):
    """A budget plans the iterations that fit here, and the run does all of them (its top scale is never
    cut; time left goes to the top scale, so it may do more, never fewer, whatever this machine's speed)."""
    decided = painterly.plan(
        content_path, style_path, **{**SMALL, "size": 48, "iterations": 100000, "time_budget": 3.0}
    )
    planned = sum(s.iterations for s in decided.scales)
    steps = list(painterly.render(decided))
    assert 0 < planned <= steps[-1].iteration <= steps[-1].iterations < 100000


def test_a_line_search_step_costs_its_trials_and_no_evaluation_more():
    """L-BFGS evaluates the start of every step; after a line search that point is the accepted trial,
    evaluated already (the paper's preset searched at every iteration and paid one pass more each)."""
    torch.manual_seed(0)
    target = torch.rand(1, 3, 16, 16)
    weights = torch.linspace(1, 30, target.numel()).view_as(target)

    def objective(x):
        loss = ((x.clamp(0, 1) - target).pow(2) * weights).sum()
        return Losses(loss, float(loss.detach()), 0.0, 0.0)

    steps = list(optimize.iterate(objective, torch.full((1, 3, 16, 16), 0.5), 10, line_search=True))
    assert steps[-1].loss < 0.05 * steps[0].loss
    assert steps[-1].evaluations <= 14  # 22 when the accepted trial was evaluated again


@pytest.mark.numerics
def test_stop_tolerance_ends_a_stalled_scale(content_path, style_path):
    steps = run(content_path, style_path, size=48, iterations=200, stop_tolerance=0.9)
    assert 11 <= len(steps) <= 15  # the loss cannot fall by 90% per 10 iterations for long


@pytest.mark.numerics
def test_a_stalled_line_search_resets_lbfgs_and_a_converged_run_stops_early():
    # Half the target lies outside 0..1, where the clamped objective has a floor it cannot go below.
    target = torch.rand(1, 3, 8, 8)
    target[..., :4] += 1.0
    steps = list(optimize.iterate(quadratic(target), torch.full((1, 3, 8, 8), 0.5), 300))
    floor = (target.clamp(0, 1) - target).pow(2).sum().item()
    assert steps[-1].loss == pytest.approx(floor, rel=1e-3)
    assert "converged" in steps[-1].note and len(steps) < 300  # stops instead of repeating a failing search
    assert steps[-1].evaluations < 3 * len(steps) + 40


def test_a_picture_styled_by_itself_comes_back_as_itself(tmp_path):
    # A square power-of-two image makes the style loss at the start exactly 0 at every layer
    # (issue 25: "float division by zero" in the layer balancing).
    path = tmp_path / "photo.png"
    photo_like(64, 64).save(path)
    out = painterly.stylize(path, path, size=64, iterations=10, init="content")
    photo = np.asarray(images.load(path), np.float32)
    assert out.size == (64, 64)
    assert np.abs(np.asarray(out, np.float32) - photo).mean() < 5


@pytest.mark.numerics
def test_every_upsampled_scale_gains_from_its_first_iteration(content_path, style_path, monkeypatch):
    # L-BFGS' own first step (1/|g|_1) would move the pixels by 1 in all: a wasted iteration per scale.
    starts = {}
    closure = optimize._Tracker.closure

    def first_loss(tracker):
        value = closure(tracker)
        starts.setdefault(tracker.x.shape[-1], float(tracker.last.total.detach()))
        return value

    monkeypatch.setattr(optimize._Tracker, "closure", first_loss)
    steps = run(content_path, style_path, size=260, iterations=40, min_scale=128)
    firsts = {}
    for s in steps:
        firsts.setdefault(s.side, s.loss)
    assert len(firsts) == 3
    gains = [firsts[side] / starts[side] for side in sorted(firsts)[1:]]
    # L-BFGS' own first step leaves the loss at ~0.999; the carried one 0.63-0.96 per scale (the last
    # curvature of the scale below is noisy), 0.71-0.82 on average over both
    assert sum(gains) / len(gains) < 0.85 and max(gains) < 0.98, gains


@pytest.mark.parametrize(
    ("settings", "modes"),
    [
        ({"line_search": False, "search_first": 2}, ["search", "search", "fixed", "fixed"]),  # from the initial image
        ({"line_search": False, "first_step": 0.5}, ["seeded", "fixed", "fixed", "fixed"]),  # an upsampled scale
        ({"line_search": True}, ["search"] * 4),  # --line-search, the paper's
    ],
)
def test_each_l_bfgs_iteration_moves_in_the_mode_its_scale_start_asks_for(settings, modes):
    target = torch.rand(1, 3, 8, 8)
    descent = optimize._Descent(quadratic(target), torch.full((1, 3, 8, 8), 0.5), optimizer="lbfgs", lr=1.0,
                                history=10, **settings)  # fmt: skip
    seen = []
    for _ in modes:
        seen.append(descent.mode())
        descent.step(last=False)
    assert seen == modes

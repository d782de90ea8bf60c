"""Honest about time (issue "Honest on a slow machine"): an estimate from this machine's measured
speed before the run, and a time budget that plans the run instead of cutting its scales short."""

from __future__ import annotations

import json

import pytest

from conftest import SLOW_PASS, artwork_like, photo_like
from painterly import Options, api
from painterly.core import network, speed
from painterly.core.plan import MIN_ITERATIONS
from painterly.frontends.cli import main

SLOW = speed.Speed(**SLOW_PASS)


def test_show_plan_gives_the_time_on_this_machine_not_a_fixed_model(slow_machine, pictures, tmp_path, capsys):
    assert main([*pictures, "-o", str(tmp_path / "o.png"), "--size", "512", "--show-plan"]) == 0
    err = capsys.readouterr().err
    decided = api.plan(*pictures, size=512)
    seconds = speed.plan_seconds(decided, SLOW)
    assert f"{speed.describe(seconds)} here: {seconds / SLOW.pass_seconds:.0f} passes of 4.0 s" in err
    assert "--size 256 takes" in err  # a long run says what a smaller one would take
    assert "2-core CPU" not in err


def test_the_estimate_counts_every_scale_and_tiles_cost_more(slow_machine, pictures):
    whole = api.plan(*pictures, size=512)
    single = api.plan(*pictures, size=512, multiscale=False)
    tiled = api.plan(*pictures, size=512, tile=256)
    top = whole.scales[-1]
    assert speed.plan_seconds(whole, SLOW) > top.iterations * SLOW.evaluation(top.size[0] * top.size[1])
    assert speed.plan_seconds(single, SLOW) > speed.plan_seconds(whole, SLOW)  # every iteration at 512 px
    assert speed.plan_seconds(tiled, SLOW) > 1.5 * speed.plan_seconds(whole, SLOW)


def test_a_time_budget_plans_fewer_iterations_so_every_scale_gets_its_steps(slow_machine, pictures):
    """The old budget ran the plan as laid out and cut each scale at its share of the time: on a
    slow machine the top scale got 3 iterations after an upsample and the photo was lost."""
    full = speed.plan_seconds(api.plan(*pictures, size=512), SLOW)
    decided = api.plan(*pictures, size=512, time_budget=0.7 * full)
    assert decided.size == (512, 384) and decided.options.iterations < Options().iterations
    assert speed.plan_seconds(decided, SLOW) <= 0.7 * full
    assert all(s.iterations >= MIN_ITERATIONS for s in decided.scales[1:])
    assert any("time budget" in note and "iterations" in note for note in decided.notes)


def test_a_budget_spends_its_time_at_the_fine_scales_from_the_photo(slow_machine, pictures):
    """Cut short, the whole ladder from 128 px left the top scale too few steps (tubingen at half the
    default's time: content_rel 1.19, style_rel 0.28); the last four rungs from the photo reach
    1.10 / 0.25 in the same time (bench figures in speed._budget_candidates)."""
    classic = dict(init="noise", min_scale=128, iterations=220)
    full = speed.plan_seconds(api.plan(*pictures, size=512, **classic), SLOW)
    decided = api.plan(*pictures, size=512, time_budget=full / 2, **classic)
    assert [s.side for s in decided.scales] == [181, 256, 362, 512] and decided.options.init == "content"
    assert decided.options.min_scale == 181 and speed.plan_seconds(decided, SLOW) <= full / 2
    assert any("on 181 -> 256 -> 362 -> 512 px, starting from the photo" in note for note in decided.notes)
    assert api.plan(*pictures, size=512, time_budget=full / 2, init="style").options.init == "style"
    own = speed.plan_seconds(api.plan(*pictures, size=512), SLOW)
    default = api.plan(*pictures, size=512, time_budget=own / 2)  # the default starts in the artwork's palette
    assert default.options.init == "palette" and len(default.scales) == 4  # the last four rungs, in its colours


def test_a_budget_too_small_for_the_size_renders_smaller_and_says_so(slow_machine, pictures):
    full = speed.plan_seconds(api.plan(*pictures, size=512), SLOW)
    decided = api.plan(*pictures, size=512, time_budget=full / 4)
    assert max(decided.size) < 512 and speed.plan_seconds(decided, SLOW) <= full / 4
    assert any(f"({max(decided.size)} px instead of 512)" in note for note in decided.notes)


def test_a_budget_the_run_fits_changes_nothing(slow_machine, pictures):
    asked = api.plan(*pictures, size=256)
    roomy = api.plan(*pictures, size=256, time_budget=10 * speed.plan_seconds(asked, SLOW))
    assert roomy.scales == asked.scales and not any("time budget" in n for n in roomy.notes)


def test_the_speed_is_measured_once_and_kept(monkeypatch, tmp_path):
    """The first run on a machine times a few small evaluations; later runs read the result."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(speed, "CALIBRATION_SIZES", ((64, 48), (128, 96)))
    monkeypatch.setattr(speed.network, "cpu_bf16_pays", lambda: False)
    monkeypatch.setattr(
        speed.contention.Meter, "others", lambda self: 0.0
    )  # a quiet machine (not the other test worker)
    options = Options(device="cpu")
    assert not speed.measured(options)
    first = speed.measure(options)
    assert first.fixed >= 0 and first.per_pixel > 0 and first.load >= 0
    assert speed.measured(options)
    [cached] = tmp_path.glob("painterly/speed-*.json")
    assert json.loads(cached.read_text())["per_pixel"] == first.per_pixel
    monkeypatch.setattr(speed, "_calibrate", lambda *a: pytest.fail("measured again"))
    assert speed.measure(options) == first


def test_a_size_too_large_even_in_tiles_says_why_and_what_would_fit(tmp_path, pictures, capsys, monkeypatch):
    """`--size 12000` said only "needs about 311.9 GiB ... try --size 2903": not why tiling could not
    rescue it, nor that Adam (no history) would."""
    from painterly.core import network

    monkeypatch.setattr(network, "build", lambda *a, **k: pytest.fail("the network was built for a refused run"))
    argv = [*pictures, "-o", str(tmp_path / "o.png"), "--size", "5600", "--max-memory", "6G", "--precision", "fp32"]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and "even in tiles of 256 px" in line and "image-sized buffers" in line
    assert "--optimizer adam keeps no history and fits" in line and "try --size" in line
    monkeypatch.setattr(speed, "measure", lambda options: SLOW)
    monkeypatch.setattr(network, "build", lambda *a, **k: None)  # the plan only: nothing is rendered
    assert main([*argv, "--optimizer", "adam", "--show-plan"]) == 0  # and it does fit


def test_a_budget_for_few_iterations_starts_from_the_photo(slow_machine, pictures):
    """From noise the photo needs about 100 iterations to form: a budget that allows fewer starts
    from the photo instead, and says so (the old budget gave noise with a tower gone)."""
    full = speed.plan_seconds(api.plan(*pictures, size=512, init="noise", iterations=220), SLOW)
    decided = api.plan(*pictures, size=512, time_budget=full / 6, init="noise", iterations=220)
    assert decided.options.iterations < 100 and decided.options.init == "content"
    assert any("starting from the photo" in note for note in decided.notes)
    assert api.plan(*pictures, size=512, time_budget=10 * full, init="noise").options.init == "noise"


def test_a_style_much_smaller_than_the_output_gets_a_hint(tmp_path):
    """A 100 px style for a 512 px output is enlarged 5x: the run says a larger scan gives finer detail."""
    photo, small, large = tmp_path / "photo.png", tmp_path / "small.png", tmp_path / "large.png"
    photo_like(400, 300).save(photo)
    artwork_like(100, 100).save(small)
    artwork_like(300, 300).save(large)
    [hint] = [h for h in api.plan(str(photo), str(small), size=512).hints if "larger scan" in h]
    assert "small.png is 100 px and is enlarged 5.1x to 512 px for this 512 px output" in hint
    assert not any("larger scan" in h for h in api.plan(str(photo), str(large), size=512).hints)


def test_a_scale_slower_than_estimated_makes_the_next_estimate_slower(tmp_path, monkeypatch):
    """The calibration times a few evaluations at their best; a real run on a cloud CPU took 1.3x as
    long (the default render 143 s against 110 s estimated). Finished scales correct the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    opts = Options(size=64)
    setting = speed._setting(opts, network.pick_device(opts.device))
    network.remember("speed", setting, speed.Speed(0.0, 1e-5, 0.1, setting).__dict__)
    speed.observe(opts, (400, 300), 0, evaluations=10, seconds=2.0)  # too short to say anything
    assert speed.measure(opts).factor_at(400 * 300) == 1.0
    speed.observe(opts, (400, 300), 0, evaluations=10, seconds=24.0)  # predicted 12 s: twice as slow
    assert speed.measure(opts).factor_at(400 * 300) == pytest.approx(1.5)
    assert speed.measure(opts).evaluation(400 * 300) == pytest.approx(1.5 * 1.2)


def test_a_slow_print_size_scale_leaves_the_estimate_of_a_small_render_alone(tmp_path, monkeypatch):
    """One factor for every size: after 1024 and 2048 px runs (slower per pixel than the line fitted up to
    384x288 extrapolates) a 512 px render was estimated at twice its time. Each size class keeps its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    opts = Options(size=64)
    setting = speed._setting(opts, network.pick_device(opts.device))
    network.remember("speed", setting, speed.Speed(0.0, 1e-5, 0.1, setting, 1.25).__dict__)
    for _ in range(4):
        speed.observe(opts, (2048, 1536), 0, evaluations=10, seconds=10 * 1.25 * 1e-5 * 2048 * 1536 * 2)
    cached = speed.measure(opts)
    assert cached.factor_at(2048 * 1536) > 2.0
    assert cached.evaluation(512 * 384) == pytest.approx(1.25 * 1e-5 * 512 * 384)


def test_every_finished_scale_is_observed(monkeypatch, pictures):
    seen = []
    monkeypatch.setattr(
        speed, "observe", lambda opts, size, tile, evaluations, seconds, others: seen.append((size, evaluations))
    )
    api.stylize(*pictures, size=256, iterations=12)
    assert [size for size, _ in seen] == [s.size for s in api.plan(*pictures, size=256, iterations=12).scales]
    assert all(evaluations >= 1 for _, evaluations in seen)

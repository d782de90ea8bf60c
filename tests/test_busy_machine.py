"""Honest on a busy machine (issue 40): a speed cache that keeps this machine's idle speed, a budget
that re-plans its scales instead of cutting the top one, short runs that keep the photo, plans that
name the photo and the artwork, a memory refusal that reads right and a video that says up front
how long it takes. The machine's own speed never decides a test here: time is a fake clock."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from conftest import SLOW_PASS, artwork_like, photo_like
from painterly import Options, api
from painterly.core import budget, contention, evaluate, network, render, speed
from painterly.frontends.cli import main

SLOW = speed.Speed(**SLOW_PASS)


# -- 1. the speed cache holds this machine's idle speed


def test_a_scale_slowed_by_other_programs_is_not_folded_into_the_cached_speed(tmp_path, monkeypatch):
    """The cache folded every finished scale in: a run beside a busy program made the next
    estimates 2-4x too long, and an idle run then came in 4x under its estimate."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    opts = Options(size=64)
    setting = speed._setting(opts, network.pick_device(opts.device))
    network.remember("speed", setting, speed.Speed(0.0, 1e-5, 0.1, setting).__dict__)
    speed.observe(opts, (400, 300), 0, evaluations=10, seconds=36.0, others=0.5)  # 3x slower: others took half
    assert speed.measure(opts).factor_at(400 * 300) == 1.0
    speed.observe(opts, (400, 300), 0, evaluations=10, seconds=24.0, others=0.02)  # a quiet machine, 2x slower
    assert speed.measure(opts).factor_at(400 * 300) == pytest.approx(1.5)


def test_a_calibration_on_a_busy_machine_is_used_but_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(speed, "CALIBRATION_SIZES", ((64, 48), (128, 96)))
    monkeypatch.setattr(speed.network, "cpu_bf16_pays", lambda: False)
    monkeypatch.setattr(contention.Meter, "others", lambda self: 0.6)
    options = Options(device="cpu")
    assert speed.measure(options).per_pixel > 0
    assert not speed.measured(options)  # measured again on the next run, hopefully a quiet moment


def test_the_forecast_says_when_the_cpu_is_busy(slow_machine, pictures, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(network, "build", lambda *a, **k: None)
    monkeypatch.setattr(contention, "others_now", lambda meter=None: 0.5)
    assert main([*pictures, "-o", str(tmp_path / "o.png"), "--size", "256", "--show-plan"]) == 0
    err = capsys.readouterr().err
    assert "the CPU is busy: other programs use 50 % of it" in err and "longer than" in err
    monkeypatch.setattr(contention, "others_now", lambda meter=None: 0.02)
    assert main([*pictures, "-o", str(tmp_path / "o.png"), "--size", "256", "--show-plan"]) == 0
    assert "busy" not in capsys.readouterr().err


def test_a_run_says_within_its_first_scale_that_the_cpu_is_busy(slow_machine, pictures, monkeypatch):
    monkeypatch.setattr(contention.Meter, "others", lambda self: 0.5)
    monkeypatch.setattr(render, "WATCH_SECONDS", 0.0)
    steps = list(api.stylize_iter(*pictures, size=128, iterations=6))
    busy = [s for s in steps if "the CPU is busy" in s.note]
    assert len(busy) == 1 and busy[0].side == steps[0].side  # said once, during the first scale


# -- 2. a budget re-planned at every scale; the top scale is never cut


class FakeClock:
    """Seconds that pass only as the objective is evaluated: `slowdown` x the speed model's time."""

    def __init__(self, monkeypatch, slowdown: float, others: float = 0.0):
        self.now, self.slowdown = 1000.0, slowdown
        monkeypatch.setattr(render.contention, "others_now", lambda meter=None: others)  # not this machine's load
        monkeypatch.setattr(render.contention.Meter, "others", lambda meter: others)
        real = evaluate.loss_and_grad

        def timed(objective, x, *args, **kwargs):
            self.now += slowdown * SLOW.evaluation(x.shape[-1] * x.shape[-2])
            return real(objective, x, *args, **kwargs)

        monkeypatch.setattr(evaluate, "loss_and_grad", timed)
        monkeypatch.setattr(render, "clock", lambda: self.now)


def _budget_run(pictures, slowdown: float, monkeypatch, share: float = 0.5, others: float = 0.0, **options):
    full = speed.plan_seconds(api.plan(*pictures, size=256, **options), SLOW)
    decided = api.plan(*pictures, size=256, time_budget=share * full, **options)
    clock = FakeClock(monkeypatch, slowdown, others)
    started = clock.now
    steps = list(api.render(decided))
    return decided, steps, clock.now - started


def test_a_budget_on_a_slower_machine_replans_the_lower_rungs_and_finishes_the_top(slow_machine, pictures, monkeypatch):
    """`--time-budget 48` stopped at 22 of 58 iterations when the machine turned out slower: the photo
    with a faint ripple. Re-planned, the top scale gets its iterations and the run still ends near the budget."""
    decided, steps, seconds = _budget_run(pictures, 2.0, monkeypatch)
    top = decided.scales[-1]
    last_side = steps[-1].side
    planned = {s.side: s.iterations for s in decided.scales}
    assert sum(s.side == last_side for s in steps) >= min(planned[last_side], top.iterations)
    assert sum(s.side == last_side for s in steps) >= top.iterations or last_side < top.side
    assert steps[-1].image.shape[-2:] == (decided.size[1], decided.size[0])  # the size asked for
    assert any("slower than planned" in s.note for s in steps)
    assert seconds <= 1.35 * decided.options.time_budget


def test_a_budget_on_a_much_slower_machine_renders_smaller_and_says_so(slow_machine, pictures, monkeypatch):
    decided, steps, _ = _budget_run(pictures, 5.0, monkeypatch, share=0.3)
    assert steps[-2].side < decided.scales[-1].side  # the top rung was dropped, not cut
    assert steps[-1].image.shape[-2:] == (decided.size[1], decided.size[0])
    assert any("upsampled" in s.note for s in steps)


def test_a_projected_run_that_its_budget_ends_lower_than_planned_keeps_its_top_and_says_so(
    slow_machine, pictures, monkeypatch
):
    """With `affine_radius` the output's rung is the rung below upsampled and projected (said by the plan,
    not by the result). A budget that ends the network lower gives the rung it ends on the network top's
    iterations (not MIN_ITERATIONS: the projection's rung is not the top) and says so, as without it."""
    decided, steps, _ = _budget_run(pictures, 5.0, monkeypatch, share=1.2, min_scale=91, affine_radius=2)
    *_, top, projection = decided.scales
    assert decided.projected and projection.iterations == 0 and steps[-2].side < top.side
    assert sum(s.side == steps[-2].side for s in steps[:-1]) >= top.iterations
    assert steps[-1].image.shape[-2:] == (decided.size[1], decided.size[0])
    assert "in the time budget and upsampled" in steps[-1].note and "locally affine" in steps[-1].note


def test_a_budget_on_a_machine_busy_from_the_start_replans_before_the_first_scale(slow_machine, pictures, monkeypatch):
    """Other programs take a third of the CPU when the run starts: the first scale is already
    re-planned (fewer iterations), not only the scales after it."""
    decided, steps, seconds = _budget_run(pictures, speed.busy_slowdown(0.3), monkeypatch, others=0.3)
    first = decided.scales[0]
    assert "slower than planned" in steps[0].note
    assert sum(s.side == first.side for s in steps) < first.iterations
    assert seconds <= 1.35 * decided.options.time_budget


def test_a_small_scale_on_a_busy_machine_does_not_make_the_scales_after_it_look_slower(slow_machine, pictures):
    """Beside another program the 128 px scale ran 3.4x slower than planned and the larger scales
    2.2-2.5x: the rate kept is the calibrated slowdown for the share the others took, not more."""
    decided = api.plan(*pictures, size=256, time_budget=10.0)
    kept = budget.Budget(decided, 1000.0)
    planned = [speed.scale_seconds(decided, 0, n, SLOW) for n in range(1, 9)]
    for when in planned:
        kept.lap(0, 5.0 * when)  # each iteration 5x the planned time
    kept.finished(0, others=0.33)
    assert kept.rate == pytest.approx(speed.busy_slowdown(0.33))
    for when in planned:
        kept.lap(0, 5.0 * when)
    kept.finished(0, others=0.0)  # nobody else on the machine: it is slow itself (throttled)
    assert kept.rate == pytest.approx(5.0)


def test_a_budget_on_a_faster_machine_runs_the_plan_and_gives_the_time_left_to_the_top_scale(
    slow_machine, pictures, monkeypatch
):
    """Estimates are cautious: idle runs ended 20-25 % under budget with 4 iterations on the top scale.
    The lower rungs run their plan; the top takes the time left."""
    decided, steps, seconds = _budget_run(pictures, 0.8, monkeypatch)
    assert decided.budget_cut
    done = {s.side: sum(t.side == s.side for t in steps) for s in decided.scales}
    top = decided.scales[-1]
    assert {side: n for side, n in done.items() if side != top.side} == {
        s.side: s.iterations for s in decided.scales[:-1]
    }
    assert done[top.side] > top.iterations
    assert any("time is left in the budget" in s.note for s in steps)
    assert not any("slower than planned" in s.note for s in steps)
    each = SLOW.evaluation(top.size[0] * top.size[1]) * 3  # an iteration: a few evaluations
    assert decided.options.time_budget * 0.9 <= seconds <= decided.options.time_budget + each


def test_a_budget_the_plan_fits_runs_the_plan_and_no_longer(slow_machine, pictures, monkeypatch):
    full = speed.plan_seconds(api.plan(*pictures, size=256), SLOW)
    decided = api.plan(*pictures, size=256, time_budget=3 * full)
    FakeClock(monkeypatch, 1.0)
    steps = list(api.render(decided))
    assert not decided.budget_cut
    assert {s.side: sum(t.side == s.side for t in steps) for s in decided.scales} == {
        s.side: s.iterations for s in decided.scales
    }


def test_a_budget_planned_on_a_busy_machine_fits_its_plan_to_the_slower_machine(slow_machine, pictures, monkeypatch):
    """Planned for the idle machine, half the estimate beside another program (2.3x slower) ended a
    rung lower, upsampled, style_rel 0.49 where the idle quarter's plan (the same time's worth of
    work) reached 0.34. A plan made while the CPU is busy is the plan for the time it really has."""
    full = speed.plan_seconds(api.plan(*pictures, size=256), SLOW)
    idle = api.plan(*pictures, size=256, time_budget=full / 2)
    monkeypatch.setattr(contention, "others_now", lambda meter=None: 0.5)  # one of two cores taken
    busy = api.plan(*pictures, size=256, time_budget=full / 2)
    slowdown = speed.busy_slowdown(0.5 / 1.5)
    assert speed.plan_seconds(busy, SLOW) * slowdown <= full / 2 < speed.plan_seconds(idle, SLOW) * slowdown
    assert "the CPU is busy: planned for" in busy.notes[-1]
    clock = FakeClock(monkeypatch, slowdown, others=0.5)
    started = clock.now
    steps = list(api.render(busy))
    top = busy.scales[-1]
    assert steps[-2].side == top.side and sum(s.side == top.side for s in steps) >= top.iterations  # not upsampled
    assert not any("slower than planned" in s.note for s in steps)
    assert clock.now - started <= 1.1 * full / 2


def _threads_seen(pictures, monkeypatch, others: list[float]) -> list[tuple[int, int, str]]:
    """(side, torch threads, note) at each step of a three-scale run on a 2-core CPU with 2 threads, while
    other programs take `others[k]` of it over scale k (the last value from there on)."""
    monkeypatch.setattr(contention.psutil, "cpu_count", lambda *a, **k: 2)
    monkeypatch.setattr(render, "WATCH_SECONDS", 1e9)  # the CPU's load read at the scales' ends only
    plan = api.plan(*pictures, size=362, iterations=12)
    assert len(plan.scales) == 3
    FakeClock(monkeypatch, 1.0)
    ends: list[float] = []

    def measured(meter) -> float:
        ends.append(others[min(len(ends), len(others) - 1)])
        return ends[-1]

    monkeypatch.setattr(contention.Meter, "others", measured)
    return [(step.side, torch.get_num_threads(), step.note) for step in api.render(plan)]


@pytest.fixture
def two_threads():
    own = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(own)


def test_a_run_alone_on_a_busy_cpu_uses_the_cores_left_and_gives_them_back(two_threads, slow_machine, pictures,
                                                                           monkeypatch):  # fmt: skip
    """One of two cores taken by another program: two threads stepping together wait for the one that
    shares its core (2.26x slower than idle, one thread 1.86x). From the next scale the run uses one
    thread and says so; the process has its two threads back at the end."""
    seen = _threads_seen(pictures, monkeypatch, [0.36])  # measured while our two threads competed
    sides = sorted({side for side, _, _ in seen})
    assert {t for side, t, _ in seen if side == sides[0]} == {2}
    later = [(t, note) for side, t, note in seen if side != sides[0]]
    assert later and {t for t, _ in later} == {1}
    assert "using 1 of 2 cores" in later[0][1]
    assert torch.get_num_threads() == 2


def test_a_run_takes_its_threads_back_when_the_cpu_is_free_again(two_threads, slow_machine, pictures, monkeypatch):
    """Another program ran during the first scale only: one thread at the second, two again at the third."""
    seen = _threads_seen(pictures, monkeypatch, [0.36, 0.0])
    sides = sorted({side for side, _, _ in seen})
    assert [{t for side, t, _ in seen if side == s} for s in sides] == [{2}, {1}, {2}]
    assert any("free again: back to 2 threads" in note for side, _, note in seen if side == sides[2])


def test_a_budget_on_a_busy_cpu_uses_the_cores_left_from_its_first_scale(two_threads, slow_machine, pictures,
                                                                          monkeypatch):  # fmt: skip
    """A budget measures the CPU as it starts: busy, the first scale already runs on the core left."""
    monkeypatch.setattr(contention.psutil, "cpu_count", lambda *a, **k: 2)
    full = speed.plan_seconds(api.plan(*pictures, size=256), SLOW)
    FakeClock(monkeypatch, 1.0, others=0.5)  # one of two cores taken, measured before the run's threads start
    busy = api.plan(*pictures, size=256, time_budget=full / 2)
    steps = [(torch.get_num_threads(), step.note) for step in api.render(busy)]
    assert {t for t, _ in steps} == {1} and "using 1 of 2 cores" in steps[0][1]
    assert torch.get_num_threads() == 2


def test_a_budget_on_the_core_left_plans_for_that_core_and_uses_its_whole_budget(two_threads, slow_machine, pictures,
                                                                                 monkeypatch):  # fmt: skip
    """Beside another program a budget run uses one core, 1.86x slower than idle, not the 2.2x of two
    threads sharing the CPU: planned for 2.2x, a quarter of the estimate ended at 5 s of 9 (its only
    scale the top one: nothing left to re-plan), and a plan made for less work than the time buys."""
    monkeypatch.setattr(contention.psutil, "cpu_count", lambda *a, **k: 2)
    full = speed.plan_seconds(api.plan(*pictures, size=256), SLOW)
    one_core = 2**0.9  # one thread alone on its core against two on an idle CPU
    clock = FakeClock(monkeypatch, one_core, others=0.5)
    busy = api.plan(*pictures, size=256, time_budget=full / 2)
    assert "planned for 1.9x this machine's idle time" in busy.notes[-1]
    started = clock.now
    steps = list(api.render(busy))
    assert {s.side for s in steps} == {s.side for s in busy.scales}  # not upsampled
    assert 0.8 * full / 2 <= clock.now - started <= 1.1 * full / 2
    assert not any("slower than planned" in s.note for s in steps)


def test_two_runs_in_one_process_leave_the_thread_count_alone(two_threads):
    """The count is the process's: with two runs going (the web server), neither changes it."""
    contention.CORES.enter()
    contention.CORES.enter()
    try:
        assert contention.CORES.fit(0.5) == "" and torch.get_num_threads() == 2
    finally:
        contention.CORES.leave()
        contention.CORES.leave()
    assert torch.get_num_threads() == 2


# -- 4. short runs keep the photo


def test_few_iterations_from_noise_start_from_the_photo_and_say_so(pictures):
    """`--preset fast` from noise, the web UI at 80 iterations, gradio_client at 60: unrecognisable scenes."""
    decided = api.plan(*pictures, size=128, init="noise", iterations=60)
    assert decided.options.init == "palette"
    assert any("60 iterations from noise" in n and "artwork's palette" in n for n in decided.notes)
    assert api.plan(*pictures, size=128, init="noise", iterations=220).options.init == "noise"
    kept = api.plan(*pictures, size=128, init="noise", iterations=60, preserve_colors="histogram")
    assert kept.options.init == "content"


def test_the_web_page_warns_before_run_that_few_iterations_from_noise_start_from_the_photo():
    web = pytest.importorskip("painterly.frontends.web")
    values = {key: web.start_value(spec) for key, spec in zip(web.CONTROLS, web.WEB_SPECS)}
    assert web.advice({**values, "iterations": 80, "init": "noise"}).startswith("80 iterations from noise")
    assert web.advice({**values, "iterations": 300, "init": "noise"}) == ""


def test_batch_with_few_iterations_from_noise_says_it_starts_from_the_photo(pictures, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    photo_like(64, 48).save(photos / "a.png")
    argv = ["batch", str(photos), "--style", pictures[1], "-o", str(tmp_path / "out"), "--size", "64"]
    assert main([*argv, "--init", "noise", "--iterations", "3", "-q"]) == 0
    assert "start from the photo in the artwork's palette" in capsys.readouterr().err


# -- 5. the plan names the photo and the artwork


def test_the_plan_names_the_photo_and_the_artwork(slow_machine, pictures, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(network, "build", lambda *a, **k: None)
    assert main([*pictures, "-o", str(tmp_path / "o.png"), "--size", "128", "--show-plan"]) == 0
    assert "plan: photo photo.png (400x300), artwork art.png (300x300)" in capsys.readouterr().err


def test_swapped_images_are_named_by_a_cameras_exif(slow_machine, tmp_path, capsys, monkeypatch):
    """`painterly the_scream.jpg -o b.png golden_gate.jpg` planned a normal run: the camera's EXIF on
    the second image says it is the photograph, whatever the names."""
    monkeypatch.setattr(network, "build", lambda *a, **k: None)
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    artwork_like(300, 300).save(first)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"  # Make, Model
    photo_like(400, 300).save(second, exif=exif)
    assert main([str(first), str(second), "-o", str(tmp_path / "o.png"), "--size", "128", "--show-plan"]) == 0
    err = capsys.readouterr().err
    assert "b.jpg was taken with a camera (Canon EOS 5D) and a.jpg was not" in err and "comes first" in err


# -- 6. the memory refusal


def test_the_memory_refusal_says_what_is_allowed_and_what_the_suggested_size_takes(
    slow_machine, pictures, tmp_path, capsys
):
    argv = [*pictures, "-o", str(tmp_path / "o.png"), "--size", "5600", "--max-memory", "6G", "--precision", "fp32"]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert "--max-memory allows 6.0 GiB" in line and "needs about" in line
    size = int(line.split("try --size ")[1].split()[0])
    seconds = speed.plan_seconds(api.plan(*pictures, size=size, precision="fp32"), SLOW)
    assert f"try --size {size} ({speed.describe(seconds)} here)" in line


# -- 7. video says up front what it will do


def test_video_prints_the_frame_count_and_an_estimate_before_it_starts(tmp_path, slow_machine, capsys):
    pytest.importorskip("av")
    from clips import moving_shapes, write_video

    clip = write_video(moving_shapes(3, 64, 48), tmp_path / "clip.mp4", fps=12)
    style = tmp_path / "style.png"
    artwork_like(64, 64).save(style)
    argv = ["video", str(clip), str(style), "-o", str(tmp_path / "out.mp4"), "--size", "64", "--iterations", "8"]
    assert main([*argv, "--frame-iterations", "3"]) == 0
    err = capsys.readouterr().err
    assert "painterly: 3 frames at 64x48, 8 iterations for the first and 3 for each next:" in err
    assert " here" in err.split("wrote")[0]
    assert "frame 3/3" in err

"""How fast this machine renders, measured, and how long a plan will take here.

One evaluation of the objective (VGG-19 forward and backward, Grams and losses) on an image of P
pixels takes about `fixed + per_pixel * P` seconds; both are measured once per machine setting
(CPU model, kernel ISA, torch version, threads, device, precision) by timing evaluations at two
sizes, and cached on disk like the bf16 calibration (`network.cpu_bf16_pays`). A plan's time is
then the sum over its scales of iterations x evaluations per iteration x one evaluation at that
scale (a tiled scale runs every crop forward for the global Grams, then forward and backward),
plus each scale's set-up (the targets' forward passes). A *pass*, the unit of bench/passes.py, is
one evaluation at 512x384.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import ResourceError
from . import contention, network, tiling
from .inputs import Inputs
from .ladder import sides
from .options import Options
from .plan import MIN_ITERATIONS, MULTISCALE_FROM, Plan, make_plan
from .resources import TILE_HALO
from .sizes import style_side

PASS_PIXELS = 512 * 384
CALIBRATION_SIZES = ((128, 96), (256, 192), (384, 288))  # W x H: a line fitted through their times
CALIBRATION_SECONDS = 1.0  # timed per size at least (the best evaluation counts: a busy moment does not)
LINE_SEARCH_EVALUATIONS = 1.3  # per iteration, with L-BFGS's strong-Wolfe line search (the paper's)
FIRST_SCALE_EVALUATIONS = 8  # the line searches of the first scale's first iterations (SEARCH_FIRST; NOTES)
SEEDED_EVALUATIONS = 1  # the extra evaluation of an upsampled scale's first, searched step (optimize.first_step)
FORWARD_SHARE = 0.4  # a forward pass alone (a target's features), as a share of forward + backward
# Before any scale was observed: the calibration keeps each size's best evaluation, and a real run
# averages over all of them (a cloud CPU bursts for a second, not for minutes) and adds the optimiser's
# own work (figures per CPU in docs/NOTES.md).
REAL_RUN_FACTOR = 1.25


@dataclass(frozen=True)
class Speed:
    """This machine's measured speed for one setting: seconds per evaluation = fixed + per_pixel * P,
    times a real-run factor for P's size class."""

    fixed: float  # s
    per_pixel: float  # s per pixel
    load: float  # s to load the network (weights and normalisation) in a fresh process
    setting: str  # what was measured: device, precision, CPU, kernels, torch, threads
    factor: float = 1.0  # real runs over the timed evaluations before any scale of a size class was observed
    # Real runs over the timed evaluations per size class (`size_class`), a running mean kept from finished
    # scales (`observe`): the line is fitted up to 384x288, and a 2048 px scale is slower per pixel than
    # it extrapolates (one factor for all sizes made a 512 px estimate 2x too long after print-size runs).
    factors: dict[str, float] = dataclasses.field(default_factory=dict)

    def evaluation(self, pixels: float) -> float:
        """Seconds of one objective evaluation on `pixels` pixels, in a real run."""
        return self.factor_at(pixels) * (self.fixed + self.per_pixel * pixels)

    def factor_at(self, pixels: float) -> float:
        """The real-run factor for `pixels`: its size class's, a neighbouring class's, or `factor`."""
        k = size_class(pixels)
        near = [c for c in (k, k - 1, k + 1) if str(c) in self.factors]
        return self.factors[str(near[0])] if near else self.factor

    @property
    def pass_seconds(self) -> float:
        """Seconds of one pass (an evaluation at 512x384)."""
        return self.evaluation(PASS_PIXELS)


def size_class(pixels: float) -> int:
    """log2 of `pixels`, rounded: one class per doubling of the pixel count (512x384 is class 18)."""
    return round(math.log2(max(pixels, 1.0)))


def measure(options: Options) -> Speed:
    """This machine's `Speed` for `options`' device and precision: from the cache, or measured
    now (a few seconds: evaluations at CALIBRATION_SIZES) and cached."""
    device = network.pick_device(options.device)
    setting = _setting(options, device)
    fields = [f.name for f in dataclasses.fields(Speed)]
    busy = []

    def calibrate() -> dict:
        meter = contention.Meter()
        found = _calibrate(options, device, setting)
        busy.append(meter.others() > contention.BUSY)
        return found.__dict__

    measured = network.measured_once("speed", setting, calibrate, fields, keep=lambda value: not any(busy))
    return Speed(**{name: measured[name] for name in fields})


def measured(options: Options) -> bool:
    """Whether this machine's speed for `options` is known already (else `measure` takes seconds)."""
    device = network.pick_device(options.device)
    return network.measurement_path("speed", _setting(options, device)).exists()


OBSERVED_SECONDS = 5.0  # a scale shorter than this says too little about the machine's sustained speed
OBSERVED_WEIGHT = 0.5  # of a finished scale's ratio in the running mean


def observe(
    options: Options, size: tuple[int, int], tile: int, evaluations: int, seconds: float, others: float = 0.0
) -> None:
    """Fold what a finished scale took here (`evaluations` of the objective at `size` (W, H), in tiles
    of `tile` px or whole, in `seconds`, while other programs took `others` of the CPUs) into this
    machine's cached speed, so the next estimate is as slow as real runs are. The cache keeps the
    idle speed: a scale on a busy machine (`contention.BUSY`) says nothing about it. Nothing is
    measured or written when the speed was never measured."""
    if seconds < OBSERVED_SECONDS or evaluations < 1 or others > contention.BUSY or not measured(options):
        return
    speed = measure(options)
    predicted = evaluations * (_tiled(size, tile, speed) if tile else speed.evaluation(size[0] * size[1]))
    pixels = (tile + 2 * TILE_HALO) ** 2 if tile else size[0] * size[1]  # a tiled scale: its crops' class
    factor = speed.factor_at(pixels) * (1 - OBSERVED_WEIGHT + OBSERVED_WEIGHT * seconds / predicted)
    factors = {**speed.factors, str(size_class(pixels)): factor}
    network.remember("speed", speed.setting, dataclasses.replace(speed, factors=factors).__dict__)


def _setting(options: Options, device: torch.device) -> str:
    bf16 = network.use_bf16(options.precision, device)
    return (
        f"{device.type} {'bf16' if bf16 else 'fp32'} {network.cpu_model()} {network.kernel_isa()} "
        f"{torch.__version__} {torch.get_num_threads()} {'channels_last' if options.channels_last else ''}"
    )


def _calibrate(options: Options, device: torch.device, setting: str) -> Speed:
    from ..media.samples import photo
    from . import objective

    start = time.perf_counter()
    layers = list(options.content_layers) + list(options.style_layers)
    network.build(options, layers, device)
    load = time.perf_counter() - start
    image = photo("chelsea")
    pixels, seconds = [], []
    for w, h in CALIBRATION_SIZES:
        target = objective.build(image, [image], options.replace(balance_layers=False), (w, h), device)
        x = torch.rand(1, 3, h, w, device=device, requires_grad=True)
        times = []  # the first builds the kernels for this shape: the best of the rest counts, at least
        while len(times) < 4 or sum(times[1:]) < CALIBRATION_SECONDS and len(times) < 20:  # 1 s of them
            begin = time.perf_counter()
            target(x).total.backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - begin)
        pixels.append(w * h)
        seconds.append(min(times[1:]))
    per_pixel, fixed = _line(pixels, seconds)
    return Speed(fixed, per_pixel, load, setting, REAL_RUN_FACTOR)


def _line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (xs, ys), neither below 0."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    slope = max(slope, 0.0)
    return slope, max(0.0, my - slope * mx)


def plan_seconds(plan: Plan, speed: Speed) -> float:
    """Seconds `plan` will take here, network loading included."""
    return speed.load + sum(scale_seconds(plan, k, s.iterations, speed) for k, s in enumerate(plan.scales))


def scale_seconds(plan: Plan, k: int, iterations: int, speed: Speed) -> float:
    """Seconds scale `k` of `plan` takes here with `iterations` iterations, its set-up included."""
    opts, scale = plan.options, plan.scales[k]
    if k > plan.network_top:
        return 0.0  # the end's projection: the network does not run there
    per_iteration = LINE_SEARCH_EVALUATIONS if opts.optimizer == "lbfgs" and opts.line_search else 1.0
    w, h = scale.size
    evaluation = _tiled(scale.size, scale.tile, speed) if scale.tile else speed.evaluation(w * h)
    evaluations = iterations * per_iteration + (FIRST_SCALE_EVALUATIONS if k == 0 else 0)
    evaluations += SEEDED_EVALUATIONS if k and per_iteration == 1.0 and opts.optimizer == "lbfgs" else 0
    evaluations += 1 if opts.balance_layers else 0
    sw, sh = _style_size(plan, scale.size)
    setup = FORWARD_SHARE * (speed.evaluation(w * h) + len(plan.inputs.styles) * speed.evaluation(sw * sh))
    return evaluations * evaluation + setup


def _tiled(size: tuple[int, int], tile: int, speed: Speed) -> float:
    """Seconds of one tiled evaluation: every crop (tile and halo) forward for the global Grams,
    then forward and backward for the gradient."""
    w, h = size
    crops = [(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in (t.crop for t in tiling.layout(h, w, tile))]
    return sum((1 + FORWARD_SHARE) * speed.evaluation(pixels) for pixels in crops)


def _style_size(plan: Plan, size: tuple[int, int]) -> tuple[int, int]:
    style = plan.inputs.styles[0]
    side = style_side(size, plan.options.style_scale, style)
    w, h = style.size
    return (side, round(side * h / w)) if w >= h else (round(side * w / h), side)


def describe(seconds: float) -> str:
    """'about 40 s', 'about 3.7 min', 'about 1.2 h'."""
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.1f} min"
    return f"about {seconds / 3600:.1f} h"


QUICK_SECONDS = 120.0  # a run longer than this gets a hint of a size that takes about this long
QUICK_SIDE = 256  # px: the smallest size such a hint offers
BUDGET_RUNGS = 4  # a budget run climbs only the ladder's last rungs (see _budget_candidates)
BUDGET_STEP = 0.93  # each budget candidate has this share of the iterations of the one before
BUDGET_SAFETY = (
    1.0  # plan for this share of the budget: the top scale takes what a cautious estimate leaves (budget.Budget)
)


def decide(inputs: Inputs, options: Options) -> Plan:
    """`make_plan`, and with a time budget the best plan whose estimate here fits it (see
    `_budget_candidates`), with a note saying what was cut. The run loop still stops at the budget
    if this machine turns out slower than measured, sharing what is left over the scales' work."""
    try:
        plan = make_plan(inputs, options)
    except ResourceError as exc:
        raise _with_time(exc, inputs, options) from None
    budget = plan.options.time_budget
    if not budget:
        return plan
    speed, others = measure(plan.options), busy_share()
    # a busy CPU's slowdown planned for; the run measures again as it starts and re-plans (budget.Budget)
    threads = contention.CORES.planned(others, started=False)
    slowdown = busy_slowdown(others, threads) if others > contention.BUSY else 1.0
    full = plan_seconds(plan, speed) * slowdown
    if full <= budget * BUDGET_SAFETY or plan.options.iterations == 0:
        return plan
    opts = plan.options
    for changed in _budget_candidates(opts):
        candidate = make_plan(inputs, changed)
        seconds = plan_seconds(candidate, speed) * slowdown
        if seconds <= budget * BUDGET_SAFETY:
            break
    sides = " -> ".join(str(s.side) for s in candidate.scales)
    cut = f"{changed.iterations} of the {opts.iterations} iterations on {sides} px" + (
        f" ({changed.size} px instead of {opts.size})" if changed.size != opts.size else ""
    )
    if changed.init != opts.init:
        cut += ", starting from the photo"
    note = f"the time budget of {budget:.0f} s fits {cut} here ({describe(seconds)}; all of it: {describe(full)})"
    if slowdown > 1.0:
        note += f"; the CPU is busy: planned for {slowdown:.1f}x this machine's idle time"
    return dataclasses.replace(candidate, notes=(*candidate.notes, note), budget_cut=True)


def _with_time(error: ResourceError, inputs: Inputs, options: Options) -> ResourceError:
    """`error` saying what its suggested size takes: here when this machine's speed is known (the
    refusal measures nothing), else on the fixed 2-core model."""
    if not error.size:
        return error
    smaller = make_plan(inputs, options.replace(size=error.size, time_budget=None, auto_size=False))
    when = (
        f"{describe(plan_seconds(smaller, measure(options)))} here"
        if measured(options)
        else f"{describe(smaller.seconds)} on a 2-core CPU"
    )
    said = f"try --size {error.size}"
    return ResourceError(str(error).replace(said, f"{said} ({when})"))


def _budget_candidates(opts: Options) -> Iterator[Options]:
    """Options to try for a time budget, best first: from the photo (unless the run names another
    start), only the ladder's last BUDGET_RUNGS rungs, with fewer and fewer iterations; then fewer rungs
    (down to the last two) at the same size; then the same ending at each smaller rung down to
    MULTISCALE_FROM; then that size on one scale, down to one iteration. At a quarter of the default's
    time the full size from fewer rungs scored better than a smaller output upsampled (docs/NOTES.md).

    A run cut short spends its time best near the fine scales: a strong style needs the coarse rungs to
    take hold, a detailed photo the fine ones to stay sharp, and four rungs were the compromise on two
    pairs at half the default's time (docs/NOTES.md, "Honest on a slow machine, continued"). The default's
    palette start is a start from the photo already, in the artwork's colours: it stays."""
    init = "content" if opts.init == "noise" else opts.init
    for side in reversed(sides(opts.size, MULTISCALE_FROM)):  # the size, then smaller rungs
        ladder = sides(side)
        for count in range(min(BUDGET_RUNGS, len(ladder)), 1, -1):
            rungs, iterations = ladder[-count:], opts.iterations
            while iterations >= 2 * MIN_ITERATIONS * count:  # every rung gets MIN_ITERATIONS (plan.schedule)
                yield opts.replace(size=side, iterations=iterations, init=init, min_scale=rungs[0])
                iterations = int(iterations * BUDGET_STEP)
    for iterations in range(min(2 * MIN_ITERATIONS, opts.iterations), 0, -1):
        yield opts.replace(size=side, iterations=iterations, init=init, min_scale=side)


def slower(seconds: float, others: float) -> str:
    """What `seconds` of work take while other programs use `others` of the CPUs (on the cores they
    leave a run of its own): 'about 3.2 min if it stays so'."""
    threads = contention.CORES.planned(others, started=False)
    return f"{describe(seconds * busy_slowdown(others, threads))} if it stays so"


def busy_share() -> float:
    """Others' share of the CPUs as a run of ours would get it, measured now while we wait: with our
    threads (one per core) competing they get h / (h + 1) of what they take of an idle machine, the
    share `busy_slowdown` is calibrated on."""
    others = contention.others_now()
    return others / (1 + others)


def busy_slowdown(others: float, threads: int | None = None) -> float:
    """How many times longer a run takes while other programs use `others` (0..1) of the CPUs than
    this machine's speed at the process's thread count says, on `threads` torch threads (None: that
    count; fewer: the cores the others leave, `contention.Cores`)."""
    shared = 1.0 / max(0.1, 1.0 - others) ** BUSY_EXPONENT
    own = torch.get_num_threads()
    if threads is None or threads >= own:
        return shared
    return min(shared, (own / threads) ** THREAD_EXPONENT)


# Not 1 (a fair share of what is left): our threads step together, so each step waits for the thread
# that shares its core, and the others' share is measured while our threads spin-wait and compete, so
# it reads low (calibrated with bench/busy.py, figures in docs/NOTES.md).
BUSY_EXPONENT = 1.9
# One thread alone is not twice as slow as two: per-thread work shrinks less than the count (calibrated
# on a 2-core CPU, one core taken by another program: 1.86x idle; docs/NOTES.md).
THREAD_EXPONENT = 0.9


def forecast(plan: Plan) -> str:
    """The time `plan` will take here, for people: 'about 3.7 min here: 51 passes of 4.4 s', and
    for a long run what a smaller size would take."""
    opts = plan.options
    meter = contention.Meter()
    # The network the run will use, loaded now (once per process): a bad weights file fails here.
    network.build(opts, [*opts.content_layers, *opts.style_layers], network.pick_device(opts.device))
    speed = measure(opts)
    seconds = plan_seconds(plan, speed)
    line = f"{describe(seconds)} here: {seconds / speed.pass_seconds:.0f} passes of {speed.pass_seconds:.1f} s"
    others = contention.others_now(meter)
    if others > contention.BUSY:
        line += f"; {contention.describe(others)}: this run will take longer than that, {slower(seconds, others)}"
    side = plan.options.size
    if seconds > QUICK_SECONDS and side > QUICK_SIDE:
        smaller, quick = side, seconds
        while smaller > QUICK_SIDE and quick > QUICK_SECONDS:
            smaller = max(QUICK_SIDE, round(smaller / 2))
            quick = plan_seconds(make_plan(plan.inputs, plan.options.replace(size=smaller, time_budget=None)), speed)
        line += f"; --size {smaller} takes {describe(quick)}"
    return line

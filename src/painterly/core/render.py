"""The run loop: a `Plan` rendered coarse to fine, as a stream of `Step`s.

Each scale builds its objective, starts from the previous scale's result upsampled (the first
from the chosen initial image), with a first L-BFGS step sized by the previous scale's curvature,
and runs the optimiser; the time budget is shared over the
scales by their planned work, and the stopping rule ends a scale early. Every step can give a
checkpoint that `render(plan, resume=...)` continues exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from ..media import images
from . import color, contention, evaluate, matting, network, objective, speed
from .budget import Budget
from .optimize import SEARCH_FIRST, Step, iterate
from .options import STOP_WINDOW, Options
from .plan import Plan, Scale

clock = time.monotonic  # the run's clock (a test gives a fake one)
WATCH_SECONDS = 5.0  # into a scale, the CPU's load is looked at (and a busy one said, once a run)


def render(plan: Plan, resume: dict | None = None) -> Iterator[Step]:
    """Yield a `Step` after every iteration (iterations counted over all scales); the last step's
    `image` ([1,3,H,W], RGB 0..1) is the result, at the plan's size. `resume` is a `step.checkpoint()`
    of the same plan. With a time budget the scales left are re-planned at each scale (`budget`); on a
    busy CPU a run alone in the process uses the cores left to it (`contention.Cores`)."""
    contention.CORES.enter()
    try:
        yield from _render(plan, resume)
    finally:
        contention.CORES.leave()


def _render(plan: Plan, resume: dict | None) -> Iterator[Step]:
    opts, inputs = plan.options, plan.inputs
    content, styles = color.prepare(inputs.content, list(inputs.styles), opts.preserve_colors)
    device = network.pick_device(opts.device)
    torch.manual_seed(opts.seed)
    kept, watch = _budget(plan, opts.time_budget), _Watch()
    done, inverse_curvature, x, step = 0, 0.0, None, None  # inverse_curvature: the last L-BFGS step scale per pixel
    # a change of the thread count, said with the next scale's first step; a budget measured the CPU already
    cores = contention.CORES.fit(kept.others) if kept.others else ""
    start = functools.partial(
        initial_image, opts.init, content, styles, inputs.init, seed=opts.seed, regions=inputs.regions
    )
    for k, scale in enumerate(plan.scales):
        if resume is not None and k < resume["scale_index"]:
            continue
        began, note = clock(), "; ".join(filter(None, (kept.start(k, clock()) if resume is None else "", cores)))
        if k > kept.last():
            break  # the budget ends the run a rung lower
        scale = dataclasses.replace(scale, iterations=kept.counts[k])
        run = _start_scale(plan, scale, content, styles, device, previous=x, resume=resume, start=start)
        done, resume = run.done if run.inner is not None else done, None
        losses, local, meter = [], 0, contention.Meter()
        steps = _descend(run, scale, opts, first=k == 0, inverse_curvature=inverse_curvature)
        for raw in steps:
            losses.append(raw.loss)
            local, last = kept.lap(raw.iteration, clock()), raw
            step = dataclasses.replace(
                raw,
                iteration=raw.iteration + done,
                iterations=sum(kept.counts),
                side=scale.side,
                note="; ".join(filter(None, (raw.note, note, watch.busy(meter)))),
                checkpoint=_outer_checkpoint(raw.checkpoint, k, done, run.objective.style_layers),
            )
            note = ""
            if opts.preserve_colors == "luminance":
                step = dataclasses.replace(step, image=color.combine_luminance(raw.image, inputs.content))
            if scale.iterations:
                yield step
            if converged(losses, opts.stop_tolerance) or kept.over(local, clock()):
                break
        _observe(opts, scale, last, clock() - began, run.inner is None, others := meter.others())
        kept.finished(k, others)  # the same share: a scale is busy for the cache and the budget alike
        cores = contention.CORES.fit(others)
        x = last.image
        inverse_curvature = last.step_scale / x[0, 0].numel() if math.isfinite(last.step_scale) else 0.0
        done += local if scale.iterations else 0
        run = steps = None  # not kept while the next scale's objective is built
    yield from _finished(step, plan)


@dataclasses.dataclass
class ScaleRun:
    """One scale's start: its objective, its start image ([1,3,H,W], RGB 0..1) and, resumed, the
    checkpoint's optimiser state (`inner`) and the iterations done before it (`done`)."""

    objective: objective.Objective
    x: torch.Tensor
    inner: dict | None = None
    done: int = 0


def _start_scale(
    plan: Plan,
    scale: Scale,
    content: Image.Image,
    styles: list[Image.Image],
    device: torch.device,
    *,
    previous: torch.Tensor | None,
    resume: dict | None,
    start: Callable[..., torch.Tensor],
) -> ScaleRun:
    """`scale`'s objective and start: the checkpoint's state (`resume`, loaded on the CPU, on `device`),
    else the previous scale's result upsampled (`start`'s initial image at the first scale), with the
    style layers balanced there."""
    target = objective.for_scale(plan.inputs, content, styles, plan.options, scale, device)
    if resume is not None:
        target.style_layers = resume.get("style_layers", target.style_layers)
        return ScaleRun(target, resume["iterate"]["x"].to(device), resume["iterate"], resume["done"])
    blend = plan.options.style_blend_weights
    x = start(scale.size, blend=blend).to(device) if previous is None else upsample(previous, scale.size)
    if plan.options.balance_layers:
        evaluate.balance(target, x)
    return ScaleRun(target, x)


def _descend(run: ScaleRun, scale: Scale, opts: Options, *, first: bool, inverse_curvature: float) -> Iterator[Step]:
    """`iterate` on one scale from its start (or its checkpoint): a line search first only from the
    initial image; an upsampled one starts at a step from the scale below (`inverse_curvature`, the last
    L-BFGS step scale per pixel: the step scale grows with the pixel count)."""
    return iterate(
        run.objective, run.x, scale.iterations, optimizer=opts.optimizer, lr=opts.lr, history=scale.history,
        resume=run.inner, line_search=opts.line_search, tile=scale.tile,
        search_first=SEARCH_FIRST if first and run.inner is None else 0,
        first_step=inverse_curvature * run.x[0, 0].numel(),
    )  # fmt: skip


def _budget(plan: Plan, seconds: float | None) -> Budget:
    """The plan's time budget, counted from now; a busy machine (measured now) is slower from the start."""
    if not seconds:
        return Budget(plan, None)
    return Budget(plan, clock() + seconds, speed.busy_share())


def _finished(step: Step, plan: Plan) -> Iterator[Step]:
    """The result as a last step, when it differs from the last iteration's image (or no iteration ran):
    upsampled to the plan's size when the run ended a rung lower (said when a time budget cut it below the
    last rung the network was to run), made a locally affine recolouring of the photo with `affine_radius`."""
    image, upsampled = at_output_size(step.image, plan.size)
    notes = []
    if upsampled and tuple(step.image.shape[:-3:-1]) != plan.scales[plan.network_top].size:
        w, h = plan.size
        notes.append(f"rendered at {upsampled['upsampled_from']} in the time budget and upsampled to {w}x{h}")
    if plan.options.affine_radius:
        photo = images.to_tensor(plan.inputs.content.resize(plan.size, images.RESAMPLE)).to(image.device)
        image = matting.locally_affine(image, photo, radius=plan.options.affine_radius)
        notes.append(
            f"made a locally affine recolouring of the photo ({2 * plan.options.affine_radius + 1} px windows)"
        )
    if notes or plan.options.iterations == 0:
        yield dataclasses.replace(step, image=image, note="; ".join(notes) or step.note)


class _Watch:
    """Whether other programs take the CPU during a run, said once."""

    def __init__(self) -> None:
        self.said = False

    def busy(self, meter: contention.Meter) -> str:
        """A note, once a run, when other programs took the CPU over WATCH_SECONDS of a scale."""
        if self.said or meter.seconds() < WATCH_SECONDS:
            return ""
        others = meter.others()
        if others <= contention.BUSY:
            return ""
        self.said = True
        return f"{contention.describe(others)}: this run takes longer than estimated"


def _observe(opts, scale, last: Step, seconds: float, whole: bool, others: float) -> None:
    """A whole scale's evaluations (not a resumed one's) on a quiet machine tell how fast it is."""
    if whole and scale.iterations:
        speed.observe(opts, scale.size, scale.tile, last.evaluations, seconds, others)


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`image` (RGB 0..1, [1,3,h,w]) resized to `size` (W, H) px, bicubic, clamped to 0..1."""
    return F.interpolate(image, size=size[::-1], mode="bicubic", align_corners=False).clamp(0, 1)


def at_output_size(image: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, dict[str, str]]:
    """`image` (RGB 0..1, [1,3,h,w]) at the output's `size` (W, H), and metadata saying so: a result of
    a coarser scale (a run stopped or budgeted there) is upsampled ({"upsampled_from": "WxH"})."""
    h, w = image.shape[-2:]
    if (w, h) == tuple(size):
        return image, {}
    return upsample(image, size), {"upsampled_from": f"{w}x{h}"}


def initial_image(
    init: str,
    content: Image.Image,
    styles: list[Image.Image],
    init_image: Image.Image | None,
    size: tuple[int, int],
    seed: int,
    blend: tuple[float, ...] | None = None,
    regions: Sequence[tuple[Image.Image, Image.Image]] | None = None,
) -> torch.Tensor:
    """The starting image [1,3,H,W] of `size` (W, H): white noise (seeded), the content in the
    styles' palette (blended by `blend`; each of the paired `regions` in its style region's), the
    content, the first style, or `init_image` (an image file the user named)."""
    w, h = size
    if init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (0.5 + 0.15 * torch.randn(1, 3, h, w, generator=generator)).clamp(0, 1)
    if init == "palette":
        small = content.resize(size, images.RESAMPLE)
        return images.to_tensor(color.palette(small, styles, list(blend) if blend else None, regions))
    source = {"content": content, "style": styles[0]}.get(init, init_image)
    return images.to_tensor(source.resize(size, images.RESAMPLE))


def converged(losses: list[float], tolerance: float) -> bool:
    """True when the loss fell by less than `tolerance` (relative) over the last STOP_WINDOW iterations."""
    if tolerance <= 0 or len(losses) <= STOP_WINDOW:
        return False
    before, now = losses[-1 - STOP_WINDOW], losses[-1]
    return before > 0 and (before - now) / before < tolerance


def _outer_checkpoint(
    inner: Callable[[], dict], scale_index: int, done: int, style_layers: dict[str, float]
) -> Callable[[], dict]:
    return lambda: {"scale_index": scale_index, "done": done, "style_layers": style_layers, "iterate": inner()}

"""The public surface: `stylize`, `stylize_iter` and `score`.

Options flow in as keyword arguments (or one `Options`); nothing here prints or parses argv.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from . import color, images, resources, samples, vgg
from .errors import InputImageError, OptionsError, ResourceError
from .objective import Objective
from .optimize import Step, iterate
from .options import MIN_SIDE, Options

NORMALISATION_SIZE = 256  # long side of the sample photos used for the normalised network


def make_options(options: Options | None = None, **changes) -> Options:
    """`options` (or the defaults) with keyword `changes` applied, validated."""
    base = options or Options()
    return base.replace(**changes) if changes else base.validate()


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ResourceError("--device cuda asked for, but no CUDA GPU is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def use_bf16(options: Options, device: torch.device) -> bool:
    """Whether to run the network in bfloat16 (losses stay float32).

    'auto' uses it on CUDA only: on CPUs without AMX (e.g. AVX2-only) bf16 convolutions are
    emulated and were >10x slower than float32 in bench/speed.py.
    """
    if options.precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return options.precision == "bf16"


@functools.lru_cache(maxsize=4)
def _state(weights: str | None, fmt: str, allow_download: bool, network: str, pooling: str) -> vgg.State:
    state = vgg.load_state(weights, fmt, allow_download)
    if network == "normalized":
        state = vgg.normalize_state(state, _means(state, pooling))
    return state


def _means(state: vgg.State, pooling: str) -> dict[str, torch.Tensor]:
    """Per-filter mean activations over the sample photos, cached on disk."""
    key = f"means-{vgg.state_fingerprint(state)}-{pooling}-{NORMALISATION_SIZE}.pt"
    path = vgg.cache_dir() / key
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError):
        pass
    photos = []
    for photo in samples.photos():
        t = vgg.preprocess(images.to_tensor(images.resize_long_side(photo, NORMALISATION_SIZE)))
        photos += [t, t.flip(3)]
    means = vgg.mean_activations(state, photos, pooling)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(means, path)
    except OSError:
        pass  # a read-only cache only costs recomputation
    return means


def build_network(options: Options, layers: Sequence[str], device: torch.device) -> vgg.VGG19:
    """VGG-19 with the chosen weights/normalisation/pooling, truncated at the deepest of `layers`."""
    state = _state(options.weights, options.weights_format, options.allow_download, options.network, options.pooling)
    net = vgg.VGG19(state, options.pooling, last_layer=vgg.deepest(layers))
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    return net.to(device=device, memory_format=memory_format)


def build_objective(
    content: Image.Image,
    styles: Sequence[Image.Image],
    options: Options,
    size: tuple[int, int],
    device: torch.device,
    masks: Sequence[Image.Image] | None = None,
) -> Objective:
    """The objective for an output of `size` (W, H): content (and masks) resized to it, styles
    to `size`'s long side x style_scale."""
    layers = list(options.content_layers) + list(options.style_layers)
    net = build_network(options, layers, device)
    content_t = images.to_tensor(content.resize(size, Image.LANCZOS)).to(device)
    style_ts = []
    for s in styles:  # coarse scales may need a style larger than the rule so its short side stays >= MIN_SIDE
        side = max(_style_side(size, options), math.ceil(MIN_SIDE * max(s.size) / min(s.size)))
        style_ts.append(images.to_tensor(images.resize_long_side(s, side)).to(device))
    mask_ts = None
    if masks is not None:
        mask_ts = [images.to_tensor(m.resize(size, Image.BILINEAR))[0, 0].to(device) for m in masks]
    return Objective(
        net,
        content_t,
        style_ts,
        options.content_weights_per_layer(),
        options.style_weights_per_layer(),
        options.content_weight,
        options.style_weight,
        list(options.style_blend_weights) if options.style_blend_weights else None,
        options.tv_weight,
        use_bf16(options, device),
        options.channels_last,
        mask_ts,
    )


def load_masks(options: Options, styles: int) -> list[Image.Image] | None:
    """The style masks (white = where that style goes), one per style image, or None."""
    if options.style_masks is None:
        return None
    if len(options.style_masks) != styles:
        raise OptionsError(f"--style-mask: got {len(options.style_masks)} masks for {styles} style images")
    return [images.load(path, "style mask").convert("L").convert("RGB") for path in options.style_masks]


def output_size(content: Image.Image, size: int) -> tuple[int, int]:
    """(W, H) of the output: the content's aspect ratio with long side `size`."""
    w, h = content.size
    scale = size / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def initial_image(
    init: str, content: Image.Image, styles: Sequence[Image.Image], size: tuple[int, int], seed: int
) -> torch.Tensor:
    """The starting image [1,3,H,W]: white noise (seeded), the content, the first style, or a file."""
    w, h = size
    if init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (0.5 + 0.15 * torch.randn(1, 3, h, w, generator=generator)).clamp(0, 1)
    if init == "content":
        source = content
    elif init == "style":
        source = styles[0]
    else:
        source = images.load(init, "init image")
    return images.to_tensor(source.resize(size, Image.LANCZOS))


def load_inputs(content, style) -> tuple[Image.Image, list[Image.Image]]:
    """Load the content and one or more style images (paths, PIL images or arrays)."""
    styles = list(style) if isinstance(style, list | tuple) else [style]
    return images.load(content, "content image"), [images.load(s, "style image") for s in styles]


def stylize_iter(
    content, style, options: Options | None = None, resume: dict | None = None, **changes
) -> Iterator[Step]:
    """Yield a `Step` (iteration, losses, best image so far) after every iteration.

    `content`: path, PIL image or HxWx3 array; `style`: one of those or a list of them.
    The last step's `image` ([1,3,H,W], RGB 0..1) is the result; see `images.to_image`.
    `step.checkpoint()` gives a dict that `resume=` takes to continue the same run exactly.
    """
    opts = make_options(options, **changes)
    original, style_ims = load_inputs(content, style)
    if opts.size == 0:  # the content's own resolution
        opts = opts.replace(size=max(original.size))
    opts = guard_memory(opts, output_size(original, opts.size))
    check_shapes(content, original, style, style_ims, opts)
    masks = load_masks(opts, len(style_ims))
    content_im, style_ims = _prepare_colors(original, style_ims, opts.preserve_colors)
    device = pick_device(opts.device)
    torch.manual_seed(opts.seed)
    schedule = opts.schedule(aspect=max(original.size) / min(original.size))
    work = [n * side**2 for side, n in schedule]
    deadline = time.monotonic() + opts.time_budget if opts.time_budget else None
    done = 0
    x = step = None
    for k, (side, iterations) in enumerate(schedule):
        if resume is not None and k < resume["scale_index"]:
            continue
        size = output_size(content_im, side)
        objective = build_objective(content_im, style_ims, opts, size, device, masks)
        inner, local = None, 0
        if resume is not None:  # k == the checkpoint's scale: continue from its state
            inner, done, x = resume["iterate"], resume["done"], resume["iterate"]["x"]
            resume = None
        elif x is None:
            x = initial_image(opts.init, content_im, style_ims, size, opts.seed).to(device)
        else:  # coarse-to-fine: the previous scale's result, upsampled, starts this one
            x = F.interpolate(x, size=(size[1], size[0]), mode="bicubic", align_corners=False).clamp(0, 1)
        scale_deadline = None
        if deadline is not None:  # share what is left of the budget by the remaining planned work
            now = time.monotonic()
            scale_deadline = now + (deadline - now) * work[k] / max(1, sum(work[k:]))
        losses: list[float] = []
        for step in iterate(objective, x, iterations, opts.optimizer, opts.lr, opts.lbfgs_history, inner):
            losses.append(step.loss)
            step.checkpoint = _outer_checkpoint(step.checkpoint, k, done)
            local = step.iteration
            step.iteration += done
            step.iterations = opts.iterations
            step.scale = side
            raw = step.image
            if opts.preserve_colors == "luminance":
                step = dataclasses.replace(step, image=color.combine_luminance(raw, original))
            if iterations:
                yield step
            if _converged(losses, opts.stop_tolerance) or (
                scale_deadline is not None and time.monotonic() >= scale_deadline
            ):
                break
        x = raw
        done += local if iterations else 0
    if opts.iterations == 0:
        yield step


def check_shapes(content, content_im: Image.Image, style, style_ims: Sequence[Image.Image], opts: Options) -> None:
    """Refuse (InputImageError naming the file) images too narrow for the network at `opts.size`:
    the output, and every style image at its working size, needs a short side of MIN_SIDE px."""
    sources = list(style) if isinstance(style, list | tuple) else [style]
    w, h = output_size(content_im, opts.size)
    side = _style_side((w, h), opts)
    checks = [("content image", content, content_im, opts.size)] + [
        ("style image", src, im, side) for src, im in zip(sources, style_ims)
    ]
    for what, source, image, long_side in checks:
        short = min(output_size(image, long_side))
        if short < MIN_SIDE:
            iw, ih = image.size
            raise InputImageError(
                f"{what} {images.describe(source)}: {iw}x{ih} is too narrow; at {long_side} px its short side "
                f"would be {short} px and the network needs at least {MIN_SIDE}"
            )


def _style_side(size: tuple[int, int], options: Options) -> int:
    """Long side (px) the style images are resized to for an output of `size` (W, H)."""
    return max(MIN_SIDE, round(max(size) * options.style_scale))


def guard_memory(opts: Options, size: tuple[int, int]) -> Options:
    """Refuse (ResourceError with a size that fits) or, with `auto_size`, shrink a run whose
    estimated peak memory exceeds `max_memory` or the memory available now."""
    history = opts.lbfgs_history if opts.optimizer == "lbfgs" else 1
    fits = resources.check_memory(size[0], size[1], history, opts.max_memory)
    if fits is None:
        return opts
    need = resources.estimate(size[0], size[1], history)[1]
    if opts.auto_size:
        return opts.replace(size=fits)
    limit = "--max-memory" if opts.max_memory is not None else "available memory"
    raise ResourceError(
        f"{size[0]}x{size[1]} needs about {need / 2**30:.1f} GiB, more than the {limit}; "
        f"try --size {fits} (or --auto-size)"
    )


def _prepare_colors(
    content: Image.Image, styles: list[Image.Image], method: str
) -> tuple[Image.Image, list[Image.Image]]:
    """Inputs for colour preservation: histogram-matched styles, or luminance-only images."""
    if method == "histogram":
        return content, [color.match_histogram(s, content) for s in styles]
    if method == "luminance":
        return color.luminance(content), [color.luminance_matched(s, content) for s in styles]
    return content, styles


def _outer_checkpoint(inner: Callable[[], dict], scale_index: int, done: int) -> Callable[[], dict]:
    return lambda: {"scale_index": scale_index, "done": done, "iterate": inner()}


STOP_WINDOW = 10  # iterations over which the stopping rule measures progress


def _converged(losses: list[float], tolerance: float) -> bool:
    """True when the loss fell by less than `tolerance` (relative) over the last STOP_WINDOW iterations."""
    if tolerance <= 0 or len(losses) <= STOP_WINDOW:
        return False
    before, now = losses[-1 - STOP_WINDOW], losses[-1]
    return before > 0 and (before - now) / before < tolerance


def stylize(
    content, style, options: Options | None = None, callback: Callable[[Step], None] | None = None, **changes
) -> Image.Image:
    """Render `content` in the style of `style`; returns an RGB PIL image.

    `callback(step)` is called after every iteration. Options are `Options` fields, e.g.
    `stylize("photo.jpg", "art.jpg", size=256, iterations=300, content_weight=1, style_weight=1e3)`.
    """
    last = None
    for last in stylize_iter(content, style, options, **changes):
        if callback is not None:
            callback(last)
    return images.to_image(last.image)


def output_metadata(options: Options, content, styles: Sequence) -> dict[str, str]:
    """Text chunks for a result PNG: version, input file names and every setting (reproducibility).

    `content` and `styles` are paths (only their file names are kept) or other image sources.
    """
    from . import __version__

    def name(source) -> str:
        return Path(source).name if isinstance(source, str | os.PathLike) else images.describe(source)

    return {
        "version": __version__,
        "content": name(content),
        "style": ",".join(name(s) for s in styles),
        **options.as_metadata(),
    }


def step_metadata(step: Step) -> dict[str, str]:
    """Text chunks describing how far a run got: iterations done and its losses."""
    return {
        "iterations_done": str(step.iteration),
        "loss": f"{step.loss:.6g}",
        "content_loss": f"{step.content:.6g}",
        "style_loss": f"{step.style:.6g}",
    }


@dataclass
class Score:
    """The paper's objective for one finished image (alpha, beta as given)."""

    content: float
    style: float
    total: float
    content_rel: float


def score(content, style, outputs: Sequence, options: Options | None = None, **changes) -> list[Score]:
    """The paper's content loss, style loss and total for each image in `outputs`.

    Images are compared at the options' `size` (content/outputs resized to its aspect ratio,
    styles to the same long side x style_scale), float32.
    """
    opts = make_options(options, **changes).replace(precision="fp32")
    content_im, style_ims = load_inputs(content, style)
    check_shapes(content, content_im, style, style_ims, opts)
    device = pick_device(opts.device)
    size = output_size(content_im, opts.size)
    objective = build_objective(content_im, style_ims, opts, size, device)
    results = []
    with torch.no_grad():
        for out in outputs:
            image = images.load(out, "output image").resize(size, Image.LANCZOS)
            x = images.to_tensor(image).to(device)
            r = objective(x)
            feats = objective.features(x, list(opts.content_layers))
            rel = math.sqrt(
                sum(float((feats[lay] - objective.content_targets[lay]).pow(2).sum()) for lay in opts.content_layers)
                / sum(float(objective.content_targets[lay].pow(2).sum()) for lay in opts.content_layers)
            )
            results.append(Score(r.content, r.style, float(r.total), rel))
    return results

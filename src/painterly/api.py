"""The public surface: `stylize`, `stylize_iter`, `plan` + `render`, and `score`.

Options flow in as one `Options` and/or keyword arguments (`Options` fields, or `ratio` for
alpha/beta); nothing here prints or parses argv. A front door (floor 4): it may import jobs, the
core and media; nothing below imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .core import evaluate, network, objective, speed
from .core.inputs import load_inputs
from .core.optimize import Step
from .core.options import Options
from .core.plan import Plan, make_plan
from .core.presets import with_preset
from .core.render import render
from .errors import OptionsError
from .jobs import video as video_core
from .media import images, videofiles

__all__ = [
    "Plan",
    "Score",
    "make_options",
    "plan",
    "render",
    "score",
    "stylize",
    "stylize_iter",
    "stylize_video",
    "video",
    "video_forecast",
]


def make_options(options: Options | None = None, **changes) -> Options:
    """`options` (or the defaults) with keyword `changes` applied, validated."""
    base = options or Options()
    return base.replace(**changes) if changes else base.validate()


def plan(content, style, options: Options | None = None, **changes) -> Plan:
    """Decode the inputs once and decide the run (effective options, size, scales, memory).

    `content`: path, PIL image or HxWx3 array; `style`: one of those or a list of them.
    Pass the result to `render` to run it.
    """
    opts = make_options(options, **changes)
    return speed.decide(load_inputs(content, style, opts), opts)


def stylize_iter(
    content, style, options: Options | None = None, resume: dict | None = None, **changes
) -> Iterator[Step]:
    """Yield a `Step` (iteration, losses, best image so far) after every iteration.

    The last step's `image` ([1,3,H,W], RGB 0..1) is the result; see `images.to_image`.
    `step.checkpoint()` gives a dict that `resume=` takes to continue the same run exactly.
    """
    return render(plan(content, style, options, **changes), resume)


def stylize(
    content, style, options: Options | None = None, callback: Callable[[Step], None] | None = None, **changes
) -> Image.Image:
    """Render `content` in the style of `style`; returns an RGB PIL image.

    `callback(step)` is called after every iteration. Options are `Options` fields, e.g.
    `stylize("photo.jpg", "art.jpg", size=256, iterations=300, ratio=1e-3)`.
    """
    last = None
    for last in stylize_iter(content, style, options, **changes):
        if callback is not None:
            callback(last)
    return images.to_image(last.image)


@dataclass
class Score:
    """The paper's objective for one finished image (alpha, beta as given); `content_rel` is
    |F - P| / |P| at the content layers (0 = the photo's features exactly), `style_rel` the mean
    over the style layers of |G - A| / |A| (0 = the artwork's statistics exactly)."""

    content: float
    style: float
    total: float
    content_rel: float
    style_rel: float


def score(content, style, outputs: Sequence, options: Options | None = None, **changes) -> list[Score]:
    """The paper's content loss, style loss and total for each image in `outputs`.

    Images are compared at a long side of `size` px (content/outputs resized to its aspect ratio,
    styles to the same long side x style_scale), float32: the options' size, or without `options`
    and `size=`, the largest output's long side (as `painterly score`: a file's score never depends
    on the others). Without `options`, the paper's objective (`--preset paper`: alpha/beta 1e-3,
    w_l = 1/5, no smoothing), not the render defaults.
    """
    loaded = [images.load(out, "output image") for out in outputs]
    if options is None and "size" not in changes and loaded:
        changes["size"] = max(max(image.size) for image in loaded)
    opts = make_options(options or with_preset("paper"), **changes).replace(precision="fp32")
    decided = make_plan(load_inputs(content, style, opts), opts.replace(iterations=0))
    size = decided.size
    target = objective.build(
        decided.inputs.content, decided.inputs.styles, opts, size, network.pick_device(opts.device)
    )
    device = next(target.net.parameters()).device
    results = []
    with torch.no_grad():
        for image in loaded:
            x = images.to_tensor(image.resize(size, images.RESAMPLE)).to(device)
            r = target(x)
            results.append(Score(r.content, r.style, float(r.total), *evaluate.relative_errors(target, x)))
    return results


def video(source, style, output, options: Options | None = None, **changes) -> Iterator[video_core.FrameStep]:
    """Render a video file or a folder of frames (`source`) in the style of `style` (one or a list)
    to `output`: a video file (H.264, the input's frame timing and audio; frames kept in
    OUTPUT.frames/) or a folder of PNG frames named after the input frames. Yields a `FrameStep`
    per iteration; a re-run skips the frames already done."""
    opts = make_options(options, **changes)
    clip = videofiles.open_clip(source)
    output = Path(output)
    to_folder = output.suffix == "" or output.is_dir()
    if clip.is_folder and not to_folder:
        raise OptionsError("a folder of frames renders to a folder of PNG frames: give a folder as the output")
    if not to_folder and output.suffix.lower() not in videofiles.VIDEO_SUFFIXES:
        raise OptionsError(f"output {output}: a video needs {'/'.join(videofiles.VIDEO_SUFFIXES)} (or a folder)")
    folder = output if to_folder else output.with_name(output.name + ".frames")
    sources = list(style) if isinstance(style, list | tuple) else [style]
    styles = [images.load(s, "style image") for s in sources]
    yield from video_core.render_clip(clip, styles, [images.describe(s) for s in sources], opts, folder)
    if not to_folder:
        names = [Path(n).with_suffix(".png").name for n in clip.names]
        videofiles.encode(clip, [folder / n for n in names], output)


def video_forecast(source, style, options: Options | None = None, **changes) -> tuple[int, tuple[int, int], float]:
    """What `video` will do here: (frames, frame size (W, H), seconds on this machine)."""
    opts = make_options(options, **changes)
    clip = videofiles.open_clip(source)
    sources = list(style) if isinstance(style, list | tuple) else [style]
    styles = [images.load(s, "style image") for s in sources]
    size, seconds = video_core.clip_seconds(clip, styles, [images.describe(s) for s in sources], opts)
    return len(clip.names), size, seconds


def stylize_video(source, style, output, options: Options | None = None, **changes) -> Path:
    """`video` run to the end; returns the output path."""
    for _ in video(source, style, output, options, **changes):
        pass
    return Path(output)

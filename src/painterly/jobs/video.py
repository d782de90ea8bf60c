"""Video: every frame of a clip in the style, without flicker (Ruder, Dosovitskiy & Brox 2016).

The first frame is a still render (the full budget). Each later frame starts from the previous
stylised frame moved along the optical flow between the two content frames, and a temporal loss
keeps the pixels where the flow is reliable there, for `frame_iterations` iterations at full size.
With `temporal_weight` 0 every frame is a still render of its own (the flickering baseline).

Finished frames are PNG files in a folder, written atomically, and never rendered again: a run that
was stopped (Ctrl-C, a kill) continues with the first missing frame. A frame's start is always read
back from the previous frame's file, so a resumed clip equals one rendered in one go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.inputs import Inputs
from ..core.optimize import Step
from ..core.options import Options
from ..core.plan import Plan, make_plan
from ..core.render import render
from ..core.sizes import output_size
from ..errors import OptionsError
from ..media import files, images, videofiles
from . import temporal

SETTINGS = "painterly-settings.json"  # in the frames folder: what its frames were made with


@dataclass(frozen=True)
class FrameStep:
    """Progress: frame `index` of `count` (its file `name`); `step` is None for a frame already on disk."""

    index: int
    count: int
    name: str
    step: Step | None


def frame_plan(
    content: Image.Image,
    styles: Sequence[Image.Image],
    style_names: Sequence[str],
    options: Options,
    previous: tuple[Image.Image, Image.Image] | None,
) -> Plan:
    """The plan for one frame (RGB, already at the output size). `previous`: the previous content
    frame and its stylised result, or None for the first frame (or frame by frame)."""
    opts = options.replace(size=max(content.size))
    name = "video frame"
    if previous is None or not opts.temporal_weight:
        return make_plan(Inputs(content, tuple(styles), name, tuple(style_names)), opts)
    before, result = (np.asarray(im.convert("RGB")) for im in previous)
    now = np.asarray(content)
    forward, backward = temporal.flow(before, now), temporal.flow(now, before)
    warped = Image.fromarray(temporal.warp(result, backward))
    reliable = Image.fromarray((temporal.reliable(forward, backward) * 255).astype(np.uint8), "L")
    opts = opts.replace(iterations=opts.frame_iterations, multiscale=False, init="previous-frame")
    inputs = Inputs(content, tuple(styles), name, tuple(style_names), init=warped, temporal=(warped, reliable))
    return make_plan(inputs, opts)


def clip_seconds(
    clip: videofiles.Clip, styles: Sequence[Image.Image], style_names: Sequence[str], options: Options
) -> tuple[tuple[int, int], float]:
    """The frame size (W, H) and the seconds the whole clip takes here (this machine's measured speed):
    the first frame's still render and every later frame's `frame_iterations` at full size (the flow,
    a small share, is not counted)."""
    from ..core import speed

    first = next(videofiles.frames(clip))
    first = first.resize(_size(clip, first, options), images.RESAMPLE)
    plan = frame_plan(first, styles, style_names, options, None)
    measured = speed.measure(plan.options)
    seconds = speed.plan_seconds(plan, measured)
    if len(clip.names) > 1:
        later = plan.options.replace(iterations=options.frame_iterations, multiscale=False, init="content")
        inputs = Inputs(first, tuple(styles), "video frame", tuple(style_names))
        seconds += (len(clip.names) - 1) * (speed.plan_seconds(make_plan(inputs, later), measured) - measured.load)
    return first.size, seconds


def render_clip(
    clip: videofiles.Clip,
    styles: Sequence[Image.Image],
    style_names: Sequence[str],
    options: Options,
    folder: Path,
) -> Iterator[FrameStep]:
    """Render every frame of `clip` into `folder` (one PNG per frame, named after the clip's frames),
    skipping frames already there. Yields a `FrameStep` after every iteration and for every skipped
    frame. Raises OptionsError when the folder holds frames made with other settings."""
    _claim(folder, options, style_names)
    previous = None
    for k, frame in enumerate(videofiles.frames(clip)):
        name = Path(clip.names[k]).with_suffix(".png").name
        frame = frame.resize(_size(clip, frame, options), images.RESAMPLE)
        done = folder / name
        if not done.exists():
            plan = frame_plan(frame, styles, style_names, options, previous)
            last = None
            for last in render(plan):
                yield FrameStep(k, len(clip.names), name, last)
            images.save(last.image, done, plan.metadata(last))
        else:
            yield FrameStep(k, len(clip.names), name, None)
        previous = (frame, images.load(done, "stylised frame"))


def _size(clip: videofiles.Clip, frame: Image.Image, options: Options) -> tuple[int, int]:
    size = output_size(frame, options.size or max(frame.size))
    return size if clip.is_folder else videofiles.even_size(size)


def _claim(folder: Path, options: Options, style_names: Sequence[str]) -> None:
    """Record the settings in `folder`, or check that its frames were made with the same ones."""
    settings = {**options.as_metadata(), "style": ",".join(Path(n).name for n in style_names)}
    record = folder / SETTINGS
    if record.exists():
        before = json.loads(record.read_text())
        changed = sorted(k for k in settings.keys() | before.keys() if settings.get(k) != before.get(k))
        if changed:
            raise OptionsError(
                f"{folder} holds frames made with other settings ({', '.join(changed)}); "
                "give the same settings to continue, or --overwrite to start again"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    files.write_atomic(record, lambda f: f.write(json.dumps(settings, indent=1).encode()))

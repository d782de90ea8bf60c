"""`painterly video IN STYLE [STYLE ...] -o OUT`: a clip rendered frame by frame without flicker."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ...media import images, videofiles
from . import flags
from .render import EXIT_INTERRUPTED


def parser() -> argparse.ArgumentParser:
    p = flags.Parser(
        prog="painterly video",
        description="Render a video (or a folder of frames, in name order) in the style of one or more "
        "artworks, each frame starting from the previous one moved by the optical flow (Ruder et al. 2016). "
        "Finished frames are kept; the same command continues a stopped run.",
    )
    p.add_argument("input", metavar="IN", help="a video file, or a folder of image frames")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more artworks")
    o = p.add_argument_group("output")
    o.add_argument(
        "-o", "--output", required=True, metavar="OUT",
        help="a video file (.mp4, .mkv, .mov: frame timing and audio kept, frames in OUT.frames/) "
        "or a folder for PNG frames named after the input frames",
    )  # fmt: skip
    o.add_argument("--overwrite", action="store_true", help="start again: drop frames rendered before")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return flags.with_render_options(p, "video")


def main(argv: list[str]) -> int:
    args, opts = flags.parse(parser(), argv)
    videofiles.check_path(args.input)
    for style in args.styles:
        images.check_file(style, "style image")
    out = Path(args.output)
    if out.resolve() == Path(args.input).resolve() or out.resolve() in [Path(s).resolve() for s in args.styles]:
        raise flags.UsageError(f"output {out} is one of the inputs: it would be overwritten")
    if args.overwrite:
        shutil.rmtree(out if out.suffix == "" else out.with_name(out.name + ".frames"), ignore_errors=True)
    from tqdm import tqdm

    from ... import api  # torch: once the command line is good

    bar = None
    if not args.quiet:
        from ...core import speed

        count, (w, h), seconds = api.video_forecast(args.input, args.styles, opts)
        later = f" and {opts.frame_iterations} for each next" if count > 1 else ""
        print(
            f"painterly: {count} frame{'s' if count > 1 else ''} at {w}x{h}, {opts.iterations} iterations for the "
            f"first{later}: {speed.describe(seconds)} here",
            file=sys.stderr,
        )
        bar = tqdm(total=count, unit="frame", desc="painterly", file=sys.stderr, dynamic_ncols=True)
    try:
        for event in api.video(args.input, args.styles, out, opts):
            if bar is not None:
                if event.index > bar.n:  # the frames before this one are done
                    bar.update(event.index - bar.n)
                if event.step is not None:
                    step = event.step
                    bar.set_postfix_str(f"frame {event.index + 1}/{event.count}: it {step.iteration}/{step.iterations}")
        if bar is not None:
            bar.update(bar.total - bar.n)
    except KeyboardInterrupt:
        print("painterly: interrupted; the frames done are kept: run the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    print(f"painterly: wrote {out}", file=sys.stderr)
    return 0

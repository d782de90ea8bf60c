"""`painterly CONTENT STYLE... -o OUT`: parse, plan, and a controller that reacts to the steps.

The controller shows progress, saves intermediate images and checkpoints, and turns Ctrl-C,
SIGTERM, divergence and a failing disk into a saved image and one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ... import __version__
from ...core import resources
from ...core.options import INITS
from ...errors import DivergedError, OutputError
from ...media import checkpoint, images
from . import flags

if TYPE_CHECKING:  # these load torch, as do api and speed: imported once the quick checks have passed
    import torch

    from ...core.optimize import Step
    from ...core.plan import Plan

EXIT_FAILED = 1  # the run failed (diverged, or the output could not be written: see the rescued file)
EXIT_INTERRUPTED = 130
RESUMABLE_CHANGES = ("time_budget", "stop_tolerance", "bit_depth")  # may change between a stopped run and its --resume

EXAMPLES = """examples:
  painterly photo.jpg starry_night.jpg -o out.png
  painterly photo.jpg starry_night.jpg -o out.png --size 256 --iterations 300 --ratio 1e-4
  painterly photo.jpg a.jpg b.jpg -o blend.png --style-weights 3,7
  painterly photo.jpg art.jpg -o fine.png --content-layers conv2_2 --init content --save-every 50
  painterly score photo.jpg art.jpg out.png other_tool.png
"""


def parser() -> argparse.ArgumentParser:
    p = flags.Parser(
        prog="painterly",
        description="Render a photograph in the style of one or more artworks "
        "(Gatys, Ecker & Bethge, CVPR 2016). Other commands: 'painterly score --help', "
        "'painterly demo --help', 'painterly presets', 'painterly reproduce --help', 'painterly web --help', "
        "'painterly video --help', 'painterly batch --help'.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"painterly {__version__}")
    p.add_argument("content", metavar="CONTENT", help="the photograph (any image file)")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more artworks")
    o = p.add_argument_group("output")
    kinds = ", ".join(images.OUTPUT_FORMATS)
    o.add_argument("-o", "--output", required=True, metavar="OUT", help=f"output file: {kinds} (the suffix says which)")
    o.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (never an input)")
    o.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save the image every N iterations beside OUT (out.png: out.iter00050.png), and a checkpoint "
        "OUT.ckpt (default off)",
    )
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    o.add_argument(
        "--show-plan",
        action="store_true",
        help="print the plan (scales, iterations, tiles, memory) and the time it takes on this machine "
        "(measured once), and stop without rendering",
    )
    o.add_argument(
        "--resume",
        default=None,
        metavar="CKPT",
        help="continue an interrupted run from OUT.ckpt (written on Ctrl-C and with --save-every); "
        "give the same command and settings (default none)",
    )
    return flags.with_render_options(p, "render")


def main(argv: list[str]) -> int:
    args, opts = flags.parse(parser(), argv)
    inputs = [args.content, *args.styles, *(opts.style_masks or ())]
    if opts.init not in INITS:
        inputs.append(opts.init)
    out = images.check_output(args.output, inputs, args.overwrite or bool(args.resume))
    if opts.bit_depth == 16 and out.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise flags.UsageError(f"output {out}: --bit-depth 16 needs a .png or .tif output")
    _check_inputs(args, opts)
    from ... import api
    from ...core import speed  # torch (seconds to import): only for a command line that can run

    decided = api.plan(args.content, args.styles if len(args.styles) > 1 else args.styles[0], opts)
    # The forecast loads the network: a bad weights file is the one line printed, before any advice.
    forecast = speed.forecast(decided) if args.show_plan or not args.quiet else None
    for note in decided.notes:
        print(f"painterly: warning: {note}", file=sys.stderr)
    for hint in () if args.quiet else decided.hints:
        print(f"painterly: hint: {hint}", file=sys.stderr)
    if args.show_plan or (not args.quiet and any(s.tile for s in decided.scales)):
        print("\n".join(f"painterly: plan: {line}" for line in decided.describe()), file=sys.stderr)
    elif not args.quiet:
        print(f"painterly: plan: {decided.names()}", file=sys.stderr)
    if forecast:
        print(f"painterly: {forecast}", file=sys.stderr)
    if args.show_plan:
        return 0
    w, h = decided.size
    history = decided.options.lbfgs_history
    images.check_free_space(out, resources.disk_bytes(w, h, history, checkpoints=args.save_every > 0))
    return Controller(decided, out, args.save_every, args.quiet, args.resume).run()


def _check_inputs(args: argparse.Namespace, opts) -> None:
    """A missing or unreadable input file, named before torch loads (decoding comes with the plan)."""
    named = [(args.content, "content image"), *((s, "style image") for s in args.styles)]
    named += [(m, "style mask") for m in opts.style_masks or ()]
    if opts.init not in INITS:
        named.append((opts.init, "init image"))
    for path, what in named:
        images.check_file(path, what)


class Controller:
    """Runs a plan to `out`, reacting to every step, to interrupts and to divergence."""

    def __init__(self, plan: Plan, out: Path, save_every: int, quiet: bool, resume: str | None):
        self.plan, self.out, self.save_every, self.quiet, self.resume = plan, out, save_every, quiet, resume
        self.metadata = plan.metadata()
        self.settings = {k: v for k, v in self.metadata.items() if k not in RESUMABLE_CHANGES}
        self.ckpt = checkpoint.path_for(out)
        self.bar = None
        self.last: Step | None = None
        self.stop_requested = self.at_step_boundary = False

    def _on_signal(self, signum, frame) -> None:
        """The first Ctrl-C/SIGTERM stops after the current iteration (a consistent checkpoint); a second at once."""
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True

    def run(self) -> int:
        from ... import api

        # Installed explicitly: a shell starts background jobs with SIGINT ignored.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        state = checkpoint.load(self.resume, self.settings) if self.resume else None
        started = time.monotonic()
        try:
            for step in api.render(self.plan, state):
                self.last = step
                self._show(step)
                self._save_intermediate(step)
                if self.stop_requested:
                    self.at_step_boundary = True
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            return self._interrupted()
        except DivergedError as exc:
            return self._diverged(exc)
        finally:
            if self.bar is not None:
                self.bar.close()
        return self._finished(time.monotonic() - started)

    def _show(self, step: Step) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = _progress_bar(self.plan.work, self.plan.work_done(step.iteration - 1))
        self.bar.set_description_str(
            f"it {step.iteration}/{step.iterations} @{step.side}px loss {step.loss:.4g} "
            f"content {step.content:.3g} style {step.style:.3g}",
            refresh=False,
        )
        self.bar.update((step.side / self.plan.options.size) ** 2)
        if step.note:
            self.bar.write(f"painterly: {step.note}")

    def _save_intermediate(self, step: Step) -> None:
        if not (self.save_every and step.iteration % self.save_every == 0 and step.iteration < step.iterations):
            return
        try:
            path = self.out.with_name(f"{self.out.stem}.iter{step.iteration:05d}.png")
            images.save(images.to_image(step.image), path, {**self.metadata, "iteration": str(step.iteration)})
            checkpoint.save(self.ckpt, step.checkpoint(), self.settings)
        except OutputError as exc:  # keep going: the run itself is still in memory
            self._say(f"warning: {exc}; the run goes on")

    def _interrupted(self) -> int:
        if self.last is None:
            self._say("interrupted before the first iteration; nothing saved")
            return EXIT_INTERRUPTED
        extra = {"iteration": str(self.last.iteration), "interrupted": "true", "loss": f"{self.last.loss:.6g}"}
        image, upsampled = self._full_size(self.last.image)
        saved = self._save(image, {**self.metadata, **extra, **upsampled})
        resumable = ""
        if self.at_step_boundary:
            try:
                checkpoint.save(self.ckpt, self.last.checkpoint(), self.settings)
                resumable = f"; continue with the same command plus --resume {self.ckpt}"
            except OutputError as exc:
                resumable = f" (no checkpoint: {exc})"
        self._say(
            f"interrupted at iteration {self.last.iteration}; best image so far saved to {saved}"
            f"{self._rendered_at(upsampled)}{resumable}"
        )
        return EXIT_INTERRUPTED

    def _diverged(self, exc: DivergedError) -> int:
        if exc.best_image is None:
            self._say(f"error: {exc}")
            return EXIT_FAILED
        image, upsampled = self._full_size(exc.best_image)
        saved = self._save(image, {**self.metadata, "diverged": "true", **upsampled})
        self._say(f"error: {exc}; best image saved to {saved}{self._rendered_at(upsampled)}")
        return EXIT_FAILED

    def _full_size(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, str]]:
        """`image` (RGB 0..1 [1,3,h,w]) at the output's size, and metadata saying so: a run stopped at a
        coarser scale is upsampled, so OUT always has the size asked for ({"upsampled_from": "WxH"})."""
        from ...core.render import at_output_size

        return at_output_size(image, self.plan.size)

    def _rendered_at(self, upsampled: dict[str, str]) -> str:
        """The message's note on an upsampled result: the size it was rendered at."""
        if not upsampled:
            return ""
        w, h = self.plan.size
        return f" (rendered at {upsampled['upsampled_from']} px, upsampled to {w}x{h})"

    def _finished(self, seconds: float) -> int:
        saved = self._save(self.last.image, self.plan.metadata(self.last))
        if saved != self.out:
            return EXIT_FAILED
        removed = ""
        if self.resume and Path(self.resume).exists():  # the finished image replaces the checkpoint
            Path(self.resume).unlink()
            removed = f"; removed the checkpoint {self.resume}"
        if not self.quiet:
            self._say(
                f"wrote {self.out} ({self.last.iteration} iterations, {seconds:.1f} s, loss {self.last.loss:.4g})"
                f"{removed}"
            )
        return 0

    def _save(self, image, metadata: dict[str, str]) -> Path:
        return save_or_rescue(image, self.out, metadata, self.plan.options.bit_depth, self.plan.dpi)

    def _say(self, message: str) -> None:
        """One line on stderr that does not tear the progress bar."""
        if self.bar is not None and not self.bar.disable:
            self.bar.write(f"painterly: {message}", file=sys.stderr)
        else:
            print(f"painterly: {message}", file=sys.stderr)


def _progress_bar(total: float, initial: float):
    """A bar measured in full-size iterations, so the ETA holds across scales."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        dynamic_ncols=True,
        file=sys.stderr,
        bar_format="painterly: {percentage:3.0f}%|{bar}| {desc} [{elapsed}<{remaining}]",
    )


def save_or_rescue(
    image: Image.Image | torch.Tensor,
    out: Path,
    metadata: dict[str, str],
    bit_depth: int = 8,
    dpi: tuple[float, float] | None = None,
) -> Path:
    """Save to `out`; if that fails (disk full, directory gone) save to the first writable rescue
    directory instead and say where, so a finished run is never lost. Returns the path."""
    try:
        return images.save(image, out, metadata, bit_depth, dpi)
    except OutputError as exc:
        dirs = [Path(tempfile.gettempdir()), Path.home(), Path.cwd()]
        for directory in (d for d in dict.fromkeys(dirs) if d.resolve() != out.parent.resolve()):
            rescue = directory / f"painterly-rescued-{os.getpid()}-{out.stem}.png"
            try:
                images.save(image, rescue, metadata, bit_depth, dpi)
            except OutputError:
                continue
            print(f"painterly: error: {exc}; the result was saved to {rescue} instead", file=sys.stderr)
            return rescue
        raise OutputError(f"{exc}; no rescue directory was writable either, the result is lost") from exc

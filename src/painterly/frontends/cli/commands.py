"""The subcommands besides rendering: score, demo, presets, reproduce, web."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ...core.options import SERVER, SPECS, Options
from ...core.presets import PRESETS, with_preset
from ...core.resources import parse_bytes
from ...media import images
from .. import signin
from .. import users as webusers
from . import flags, render

# per render: Figs. 3-7 at 256 px in ~3 min on 2 cores, from white noise at 128 px as the paper (and Fig. 6) starts
REPRODUCE_DEFAULTS = Options(size=256, iterations=100, init="noise", min_scale=128)


SCORE_PAPER = with_preset("paper")  # the paper's objective, not the render defaults
SCORE_SIZE = "the largest output's long side"  # the default size rule: a file's score never depends on the others
SCORE_COLUMNS = f"""columns:
  content      the paper's content loss L_content (eq. 1) at the content layers
  style        the paper's style loss L_style = sum_l w_l E_l (eq. 5)
  total        alpha * content + beta * style (eq. 7): the objective the paper minimises (+ TV with --tv-weight)
  content_rel  |F - P| / |P| at the content layers: 0 is the photo's features exactly, ~1 a picture
               as far from them as a typical stylised result; scale-free, so it compares across sizes
  style_rel    mean over the style layers of |G - A| / |A|: 0 is the artwork's statistics exactly
Images are compared at --size, by default {SCORE_SIZE}: every output (and the content) is resized
to it, so listing a smaller output beside a larger one does not change the larger one's score, and
outputs of different sizes get a warning. The objective is the paper's unless flags say otherwise
(alpha/beta {SCORE_PAPER.ratio:g}, w_l = 1/{len(SCORE_PAPER.style_layers)}, no smoothing), in float32."""


def _score_parser() -> argparse.ArgumentParser:
    p = flags.Parser(
        prog="painterly score",
        description=score.__doc__,
        epilog=SCORE_COLUMNS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("content", metavar="CONTENT", help="the photograph the images were made from")
    p.add_argument("style", metavar="STYLE", help="the artwork")
    p.add_argument("outputs", metavar="OUTPUT", nargs="+", help="finished images to score")
    p.add_argument(
        "--also-style",
        action="append",
        default=[],
        metavar="FILE",
        help="a further style image (blended, as for a multi-style run)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per output instead of the table")
    flags.add_options(p, defaults=SCORE_PAPER, command="score")
    flags.set_help(p, "size", f"long side in px the images are compared at (default: {SCORE_SIZE})")
    return p


def score(argv: list[str]) -> int:
    """Print the paper's content loss, style loss and total (alpha*content + beta*style) for finished
    images, e.g. to compare settings or tools."""
    args = _score_parser().parse_args(argv)
    opts = flags.options_from(args, SCORE_PAPER)
    styles = [args.style, *args.also_style]
    for path, what in [(args.content, "content image"), *((s, "style image") for s in styles)]:
        images.check_file(path, what)
    sizes = {path: images.load(path, "output image").size for path in args.outputs}
    rule = "--size" if hasattr(args, "size") else SCORE_SIZE
    if not hasattr(args, "size"):
        opts = opts.replace(size=max(max(size) for size in sizes.values()))
    if len(set(sizes.values())) > 1:
        print(f"painterly: warning: {_size_warning(sizes, opts.size)}", file=sys.stderr)
    from ... import api  # torch: once the command line and the files are good

    results = api.score(args.content, styles if len(styles) > 1 else styles[0], args.outputs, opts)
    if args.json:
        for path, r in zip(args.outputs, results):
            print(json.dumps({"output": str(path), "size": opts.size, **dataclasses.asdict(r)}))
        return 0
    print(
        f"# alpha={opts.content_weight:g} beta={opts.style_weight:g} (alpha/beta {opts.ratio:g}) "
        f"size={opts.size} ({rule}; see --help for the columns)"
    )
    width = max(len("output"), *(len(str(path)) for path in args.outputs))
    print(f"{'output':{width}s} {'content':>11s} {'style':>11s} {'total':>11s} {'content_rel':>11s} {'style_rel':>9s}")
    for path, r in zip(args.outputs, results):
        print(
            f"{str(path):{width}s} {r.content:11.4g} {r.style:11.4g} {r.total:11.4g} {r.content_rel:11.3f} "
            f"{r.style_rel:9.3f}"
        )
    return 0


def _size_warning(sizes: dict[str, tuple[int, int]], side: int) -> str:
    """One line: which outputs have which size, and what scoring them at `side` px does to them."""
    by_size: dict[tuple[int, int], list[str]] = {}
    for path, size in sizes.items():
        by_size.setdefault(size, []).append(Path(path).name)
    listed = ", ".join(f"{w}x{h} ({', '.join(names)})" for (w, h), names in by_size.items())
    return (
        f"the outputs differ in size: {listed}; each is resized to {side} px to be scored, and resizing "
        "changes an image's losses (an enlarged one is blurred): compare outputs rendered at one size"
    )


def demo(argv: list[str]) -> int:
    """Run on scikit-image's bundled photos (a cat, a stained-tissue micrograph as the 'artwork').

    Any run option may follow; the inputs are written beside the output for reference.
    """
    from ...media import samples

    p = flags.Parser(prog="painterly demo", description=demo.__doc__)
    p.add_argument("-o", "--output", default="out/demo.png", help="output file (default %(default)s)")
    known, rest = p.parse_known_args(argv)
    out = Path(known.output)
    if not out.parent.is_dir():
        raise flags.UsageError(f"output {out}: directory {out.parent} does not exist")
    paths = [str(p) for p in samples.write_demo_inputs(out.parent, prefix=f"{out.stem}-")]
    # Started from the photo, 90 iterations give a finished picture (300 from noise look alike):
    # under a minute on a 2-core AVX2 CPU in fp32.
    demo_flags = ["--size", "256", "--iterations", "90", "--init", "content"]
    return render.main([*paths, "-o", str(out), *demo_flags, *rest])


def presets(argv: list[str]) -> int:
    """Print the named presets and their settings, as flags you can paste."""
    flags.Parser(prog="painterly presets", description=presets.__doc__).parse_args(argv)
    for name, preset in PRESETS.items():
        print(f"{name:10} {preset.about}\n{'':10} --preset {name} = {flags.as_flags(preset.values)}")
    return 0


def reproduce(argv: list[str]) -> int:
    """Render the paper's Figs. 3-7 from a photograph and artworks into labelled contact sheets
    (figN.png) and an index.html with every tile's settings and losses. Finished renders are kept
    in OUT/tiles, so running the same command again after a stop continues where it stopped."""
    from .. import reproduce as rep
    from ..reproduce import figures, gallery, tiles

    p = flags.Parser(prog="painterly reproduce", description=reproduce.__doc__)
    p.add_argument(
        "--images",
        required=True,
        type=Path,
        metavar="DIR",
        help="photographs (files named photo*, content* or tubingen*) and artworks (all other images)",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where sheets and index.html go")
    p.add_argument("--figures", default="3,4,5,6,7", help="which figures (default %(default)s)")
    p.add_argument("--photo", type=Path, help="the photograph (default: the first photograph in DIR)")
    p.add_argument("--artwork", type=Path, help="the artwork of Figs. 4-6 (default: the first artwork in DIR)")
    p.add_argument(
        "--look",
        type=Path,
        help=f"Fig. 7's second photograph (default: the second in DIR, else scikit-image's {rep.LOOK_SAMPLE!r})",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    flags.add_options(p, ("size", "iterations", "device"), REPRODUCE_DEFAULTS)
    args = p.parse_args(argv)
    wanted = {int(x) for x in args.figures.split(",") if x.strip().isdigit()}
    if not wanted or not wanted <= {3, 4, 5, 6, 7}:
        raise flags.UsageError(f"--figures: expected numbers from 3 to 7, got {args.figures!r}")
    base = flags.options_from(args, REPRODUCE_DEFAULTS)
    src = rep.choose_sources(args.images, args.out, args.photo, args.artwork, args.look, look_wanted=7 in wanted)
    plan = figures.plan(src.photo, src.artworks, src.look, src.artwork, wanted)
    started = time.monotonic()
    rendered = _render_tiles(plan, args.out, base, args.quiet)
    if rendered is None:
        return render.EXIT_INTERRUPTED
    results = {f.number: tiles.results_for(f, rendered, base) for f in plan}
    written = gallery.write(plan, results, args.out, base)
    if not args.quiet:
        print(
            f"painterly: wrote {len(written) - 1} sheets and {written[-1]} "
            f"({len(rendered)} renders, {time.monotonic() - started:.0f} s)",
            file=sys.stderr,
        )
    return 0


def _render_tiles(plan: list, out: Path, base: Options, quiet: bool) -> dict | None:
    """Every distinct tile of the figures in `plan`, a line per render; None after a Ctrl-C."""
    from ..reproduce import tiles

    rendered: dict[str, tiles.Rendered] = {}
    total = 0
    try:
        for progress in tiles.render(plan, out, base):
            rendered[progress.key] = r = progress.result
            total = progress.total
            if not quiet:
                how = "reused" if r.reused else f"{r.seconds:.1f} s"
                print(
                    f"painterly: [{progress.done}/{progress.total}] {r.tile.caption} ({r.tile.style.stem}): {how}, "
                    f"content {r.content_loss:.3g} style {r.style_loss:.3g}",
                    file=sys.stderr,
                )
    except KeyboardInterrupt:
        print(
            f"painterly: interrupted after {len(rendered)} of {total or '?'} renders; they are kept in "
            f"{out / 'tiles'} and the same command continues from there",
            file=sys.stderr,
        )
        return None
    return rendered


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _web_parser() -> argparse.ArgumentParser:
    p = flags.Parser(prog="painterly web", description=web.__doc__)
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
    p.add_argument(
        "--max-pixels", type=int, default=None, metavar="N", help="largest input image in pixels (default 25 million)"
    )
    g = p.add_argument_group("a server for several people")
    g.add_argument("--auth-file", metavar="FILE", help="sign-in: users and salted password hashes (see --add-user)")
    g.add_argument("--add-user", metavar="NAME", help="add NAME to --auth-file (asks for the password) and exit")
    g.add_argument("--no-auth", action="store_true", help="allow a --host other than loopback without sign-in")
    g.add_argument("--max-queue-per-user", type=int, default=2, metavar="N",
                   help="runs one signed-in user may have queued or running (default %(default)s)")  # fmt: skip
    g.add_argument("--max-disk", default="2G", metavar="SIZE",
                   help="uploads and results kept at most; the oldest go first (default %(default)s)")  # fmt: skip
    g.add_argument("--max-disk-per-user", metavar="SIZE",
                   help="one user's uploads and results kept at most; their own oldest go first, an upload "
                        "beyond it is refused (default: --max-disk shared by the users in --auth-file)")  # fmt: skip
    g.add_argument("--keep-hours", type=float, default=24, metavar="H",
                   help="delete uploads and results older than this (default %(default)s)")  # fmt: skip
    flags.add_options(p, [s.name for s in SPECS if s.web == SERVER])  # the settings the server's owner makes
    return p


def web(argv: list[str]) -> int:
    """Serve the web UI: upload a photo and style images, watch the picture form, download the PNG.

    Runs take turns through a queue; it listens on 127.0.0.1 (this machine only) unless --host says otherwise.
    """
    args = _web_parser().parse_args(argv)
    if args.add_user:
        return _add_user(args.auth_file, args.add_user)
    _check_web_args(args)
    server = flags.options_from(args)
    users = webusers.read(args.auth_file) if args.auth_file else None
    if users and webusers.others_can_read(args.auth_file):
        print(f"painterly: warning: auth file {args.auth_file} is readable by others: chmod 600 {args.auth_file}",
              file=sys.stderr)  # fmt: skip
    try:
        from .. import hosting
        from .. import web as webui
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("gradio"):
            raise
        raise flags.UsageError("the web UI needs Gradio: pip install 'painterly[web]'") from None
    # Each server keeps its users' files in a folder of its own, under --max-disk.
    if "GRADIO_TEMP_DIR" not in os.environ:
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="painterly-web-files-")
    per_user = args.max_queue_per_user if users else None  # without sign-in there are no users to tell apart
    max_disk = parse_bytes(args.max_disk)
    share = parse_bytes(args.max_disk_per_user) if args.max_disk_per_user else max_disk / len(users or [None])
    studio = webui.Studio(per_user, max_disk, args.keep_hours * 3600, share)
    try:
        page = webui.build_app(
            concurrency=args.concurrency,
            max_queue=args.max_queue,
            max_side=args.max_size,
            server=server,
            studio=studio,
            **({"max_pixels": args.max_pixels} if args.max_pixels else {}),
        )
        auth = signin.checker(users) if users else None
        app = hosting.serve(page, args.host, args.port, block=False, auth=auth, studio=studio)
    except OSError as exc:  # Gradio's "Cannot find empty port", or an address this machine does not have
        raise flags.UsageError(f"cannot listen on {args.host}:{args.port}: {str(exc).split('. ')[0]}") from None
    if args.no_auth and args.host not in LOOPBACK:
        print(f"painterly: warning: no sign-in: anyone who reaches {args.host}:{args.port} can use this machine "
              "and fetch what others made", file=sys.stderr)  # fmt: skip
    signed = f", {len(users)} users" if users else ""
    print(f"painterly: serving the web UI on http://{args.host}:{args.port}/{signed} (Ctrl-C to stop)", file=sys.stderr)
    hosting.wait(app)
    return 0


def _check_web_args(args: argparse.Namespace) -> None:
    for name in ("concurrency", "max_queue", "max_queue_per_user"):
        if getattr(args, name) < 1:
            raise flags.UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if not 64 <= args.max_size <= 16384:
        raise flags.UsageError("--max-size must be from 64 to 16384 px")
    if not 1 <= args.port <= 65535:
        raise flags.UsageError(f"--port must be from 1 to 65535, got {args.port}")
    for name in ("max_disk", "max_disk_per_user"):
        try:
            getattr(args, name) is None or parse_bytes(getattr(args, name))
        except ValueError:
            flag = "--" + name.replace("_", "-")
            raise flags.UsageError(f"{flag}: expected a size like 500M or 2G, got {getattr(args, name)!r}") from None
    if args.host not in LOOPBACK and not args.auth_file and not args.no_auth:
        raise flags.UsageError(
            f"--host {args.host} lets anyone on the network use this machine: give --auth-file FILE (users from "
            "'painterly web --add-user NAME --auth-file FILE'), or --no-auth to allow it anyway"
        )
    if args.auth_file and args.no_auth:
        raise flags.UsageError("give --auth-file or --no-auth, not both")


def _add_user(auth_file: str | None, name: str) -> int:
    """Ask for NAME's password (twice on a terminal; one line from a pipe) and store its hash."""
    if not auth_file:
        raise flags.UsageError("--add-user needs --auth-file FILE (created if missing)")
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise flags.UsageError("the two passwords differ; nothing changed")
    else:
        password = sys.stdin.readline().rstrip("\n")
    new = webusers.add(auth_file, name, password)
    print(f"painterly: {'added' if new else 'changed the password of'} {name} in {auth_file}", file=sys.stderr)
    return 0

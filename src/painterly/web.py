"""The web UI (`painterly web`): a thin Gradio layer over `api.stylize_iter` and `Options`.

Uploads are checked by `images.load` (with a lower pixel limit than the CLI's), runs go
through Gradio's queue (by default one at a time), and each run streams its best image so
far and its losses every few iterations. Every preview is also written as a PNG with the
run's settings embedded, so a cancelled run still leaves its best image to download.
"""

from __future__ import annotations

import inspect
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr

from . import api, images, samples
from .errors import PainterlyError
from .options import COLOR_METHODS, INITS, NETWORKS, OPTIMIZERS, POOLINGS, PRESETS, Options
from .vgg import LAYER_NAMES

DEFAULTS = Options()
MAX_FILE_SIZE = "25mb"  # per upload; Gradio refuses larger files before they reach the handler
MAX_PIXELS = 25_000_000  # per input image; larger ones are refused with a message
MAX_SIDE = 1024  # px: the largest output size offered
MAX_QUEUE = 32  # runs waiting at once; further users are told the queue is full
PREVIEW_EVERY = 5  # iterations between previews...
PREVIEW_SECONDS = 2.0  # ...or sooner when iterations are slow
CACHE_CLEANUP = (3600, 3600)  # s: every hour, delete Gradio's copies of files older than an hour
# Small previews (coarse scales, 64 px runs) are scaled up to the box instead of shown at their pixel size.
CSS = "#preview img { width: 100%; height: 100%; object-fit: contain; }"


def _name(path: str) -> str:
    return Path(path).name


def _load_inputs(content: str | None, styles: Sequence[str] | None, max_pixels: int) -> tuple[str, list[str]]:
    """Check the uploaded files (readable images, pixel count); raise gr.Error with one line."""
    if not content:
        raise gr.Error("Upload a content photo (or press 'Use the demo images').")
    if not styles:
        raise gr.Error("Upload at least one style image.")
    for path, what in [(content, "content image"), *((s, "style image") for s in styles)]:
        try:
            images.load(path, what, max_pixels=max_pixels)
        except PainterlyError as exc:
            # The message names the upload's path on the server: show the user's file name only.
            raise gr.Error(str(exc).replace(str(path), _name(path))) from None
    return content, list(styles)


def _floats(text: str, what: str) -> tuple[float, ...] | None:
    text = (text or "").replace(" ", "")
    if not text:
        return None
    try:
        return tuple(float(x) for x in text.split(",") if x)
    except ValueError:
        raise gr.Error(f"{what}: expected comma-separated numbers like 3,7, got {text!r}") from None


def make_options(
    size: float,
    ratio: float,
    iterations: float,
    time_budget: float | None,
    preserve_colors: str,
    seed: float,
    init: str,
    style_weights: str,
    style_scale: float,
    tv_weight: float,
    content_layers: Sequence[str],
    style_layers: Sequence[str],
    optimizer: str,
    lr: float,
    pooling: str,
    network: str,
    multiscale: bool,
    stop_tolerance: float,
    *,
    style_count: int = 1,
    device: str = DEFAULTS.device,
    max_memory: float | None = None,
) -> Options:
    """The UI's controls as validated `Options`; bad values raise gr.Error with one line.

    The positional parameters are the page's controls (`CONTROLS`, in order). `ratio` is
    alpha/beta (alpha = 1, beta = 1/ratio, as the CLI's --ratio); `time_budget` is in
    seconds, 0 or None for none; `style_count` is the number of style images.
    """
    if ratio is None or not ratio > 0 or not math.isfinite(ratio):
        raise gr.Error(f"alpha/beta must be a number > 0, got {ratio!r}")
    if init not in INITS:  # never a path: the UI must not read files on the server
        raise gr.Error(f"init must be one of {', '.join(INITS)}")
    blend = _floats(style_weights, "style weights")
    if blend is not None and len(blend) != style_count:
        raise gr.Error(f"style weights has {len(blend)} values for {style_count} style images")
    try:
        return Options(
            size=int(size),
            iterations=int(iterations),
            time_budget=float(time_budget) if time_budget else None,
            content_weight=1.0,
            style_weight=1.0 / ratio,
            preserve_colors=preserve_colors,
            seed=int(seed or 0),
            init=init,
            style_blend_weights=blend,
            style_scale=float(style_scale),
            tv_weight=float(tv_weight),
            content_layers=tuple(content_layers or ()),
            style_layers=tuple(style_layers or ()),
            optimizer=optimizer,
            lr=float(lr),
            pooling=pooling,
            network=network,
            multiscale=bool(multiscale),
            stop_tolerance=float(stop_tolerance or 0),
            device=device,
            max_memory=max_memory,
        ).validate()
    except (PainterlyError, TypeError, ValueError) as exc:
        raise gr.Error(str(exc)) from None


# The page's controls: make_options' positional parameters, which are also the names that
# API clients (gradio_client) use, e.g. client.submit(content=..., styles=[...], size=64, api_name="/stylize").
CONTROLS = tuple(
    name
    for name, p in inspect.signature(make_options).parameters.items()
    if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
)


def progress_text(step, started: float, done: bool = False) -> str:
    """Two lines: iteration, scale (px) and seconds since `started` (monotonic); the losses
    (total = alpha*content + beta*style)."""
    return (
        f"{'Done' if done else 'Running'}: iteration {step.iteration}/{step.iterations} at {step.scale} px, "
        f"{time.monotonic() - started:.1f} s\n"
        f"loss {step.loss:.4g} (content {step.content:.4g}, style {step.style:.4g})"
    )


def stylize_stream(
    content: str,
    styles: Sequence[str],
    options: Options,
    out_dir: Path,
    preview_every: int = PREVIEW_EVERY,
    preview_seconds: float = PREVIEW_SECONDS,
) -> Iterator[tuple[str, str]]:
    """Run and yield (PNG path, progress text) every few iterations and at the end.

    Each PNG holds the best image so far with the run's settings as text chunks
    (`partial` = "true" until the last one), so it is a valid download at any moment.
    """
    metadata = api.output_metadata(options, content, styles)
    out = out_dir / f"{Path(content).stem}-painterly.png"
    started = last_shown = time.monotonic()
    shown = None
    last = None
    for last in api.stylize_iter(content, list(styles) if len(styles) > 1 else styles[0], options):
        if last.iteration - (shown or 0) >= preview_every or time.monotonic() - last_shown >= preview_seconds:
            images.save(images.to_image(last.image), out, {**metadata, **api.step_metadata(last), "partial": "true"})
            shown, last_shown = last.iteration, time.monotonic()
            yield str(out), progress_text(last, started)
    if last is not None:
        images.save(images.to_image(last.image), out, {**metadata, **api.step_metadata(last)})
        yield str(out), progress_text(last, started, done=True)


def _run_handler(device: str, max_memory: float | None, max_pixels: int):
    def run(content, styles, *controls):
        """Stream (preview, progress text, download) while the run goes on."""
        content, styles = _load_inputs(content, styles, max_pixels)
        options = make_options(*controls, style_count=len(styles), device=device, max_memory=max_memory)
        # One directory per run: its PNG is what the UI shows and offers; gone when the run ends,
        # after Gradio has copied the last one into its own cache.
        with tempfile.TemporaryDirectory(prefix="painterly-web-") as tmp:
            try:
                for path, text in stylize_stream(content, styles, options, Path(tmp)):
                    yield path, text, path
            except PainterlyError as exc:
                raise gr.Error(str(exc).replace(str(content), _name(content))) from None

    # Named parameters, so API clients can pass controls by name and leave the rest at the page's values.
    names = ("content", "styles", *CONTROLS)
    run.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )
    return run


def _demo_inputs() -> tuple[str, list[str]]:
    """scikit-image's cat photo and micrograph written as PNGs once, for the demo button."""
    folder = Path(tempfile.gettempdir()) / "painterly-web-demo"
    folder.mkdir(exist_ok=True)
    paths = []
    for name in (samples.DEMO_CONTENT, samples.DEMO_STYLE):
        path = folder / f"{name}.png"
        if not path.exists():
            images.save(samples.photo(name), path)
        paths.append(str(path))
    return paths[0], [paths[1]]


def _preset_values(name: str) -> list:
    """Control updates for a preset: its values, the defaults for what it leaves unset."""
    preset = PRESETS.get(name, {})
    ratio = preset.get("ratio", DEFAULTS.ratio)
    keys = ("iterations", "multiscale", "init", "tv_weight", "stop_tolerance")
    return [ratio, *(preset.get(k, getattr(DEFAULTS, k)) for k in keys)]


def _cancelled(text: str) -> str:
    kept = text.split(":", 1)[1].strip() if ":" in (text or "") else ""
    return f"Cancelled; the best image so far is kept{': ' + kept if kept else ''}"


def build_app(
    concurrency: int = 1,
    max_queue: int = MAX_QUEUE,
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
    device: str = DEFAULTS.device,
    max_memory: float | None = None,
) -> gr.Blocks:
    """The page: inputs and controls on the left, the forming picture and losses on the right.

    `concurrency` runs at once (each needs its own memory, see `resources.estimate`), at most
    `max_queue` waiting; outputs up to `max_side` px, inputs up to `max_pixels` pixels each.
    """
    with gr.Blocks(title="painterly", analytics_enabled=False, delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown(
            "## painterly\nNeural style transfer (Gatys, Ecker & Bethge 2016): the photo is re-drawn so its "
            "VGG-19 features match the photo's and its textures match the style images'."
        )
        with gr.Row():
            with gr.Column(scale=1):
                content = gr.Image(
                    label="Content photo",
                    type="filepath",
                    image_mode=None,
                    sources=["upload"],
                    height=220,
                    elem_id="content",
                )
                styles = gr.File(
                    label="Style image(s)",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                    height=120,
                    elem_id="styles",
                )
                demo = gr.Button("Use the demo images (cat + micrograph)", size="sm")
                with gr.Row():
                    size = gr.Slider(
                        64, max_side, value=min(256, max_side), step=16, label="Size (long side, px)", elem_id="size"
                    )
                    ratio = gr.Number(
                        DEFAULTS.ratio, label="Content/style ratio alpha/beta", info="smaller = stronger style"
                    )
                with gr.Row():
                    iterations = gr.Slider(0, 2000, value=300, step=1, label="Iterations", elem_id="iterations")
                    time_budget = gr.Number(0, label="Time budget (s)", info="0 = none", minimum=0)
                with gr.Row():
                    preserve = gr.Radio(list(COLOR_METHODS), value=DEFAULTS.preserve_colors, label="Preserve colours")
                    seed = gr.Number(DEFAULTS.seed, label="Seed", precision=0, minimum=0)
                with gr.Accordion("More controls", open=False):
                    preset = gr.Dropdown(["", *PRESETS], value="", label="Preset (fills the controls below)")
                    with gr.Row():
                        init = gr.Radio(list(INITS), value=DEFAULTS.init, label="Start from")
                        multiscale = gr.Checkbox(DEFAULTS.multiscale, label="Coarse-to-fine above 256 px")
                    with gr.Row():
                        style_weights = gr.Textbox(
                            "", label="Style blend weights", placeholder="e.g. 3,7 (default equal)"
                        )
                        style_scale = gr.Slider(0.25, 2.0, value=DEFAULTS.style_scale, step=0.05, label="Style scale")
                    with gr.Row():
                        tv_weight = gr.Number(DEFAULTS.tv_weight, label="TV smoothing weight", minimum=0)
                        stop_tolerance = gr.Number(
                            DEFAULTS.stop_tolerance, label="Stop tolerance", info="0 = off", minimum=0
                        )
                    content_layers = gr.CheckboxGroup(
                        list(LAYER_NAMES), value=list(DEFAULTS.content_layers), label="Content layers"
                    )
                    style_layers = gr.CheckboxGroup(
                        list(LAYER_NAMES), value=list(DEFAULTS.style_layers), label="Style layers"
                    )
                    with gr.Row():
                        optimizer = gr.Radio(list(OPTIMIZERS), value=DEFAULTS.optimizer, label="Optimizer")
                        lr = gr.Number(DEFAULTS.lr, label="Adam step size", minimum=0)
                    with gr.Row():
                        pooling = gr.Radio(list(POOLINGS), value=DEFAULTS.pooling, label="Pooling")
                        network = gr.Radio(list(NETWORKS), value=DEFAULTS.network, label="Network")
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
            with gr.Column(scale=1):
                preview = gr.Image(
                    label="Picture forming", type="filepath", interactive=False, height=380, elem_id="preview"
                )
                status = gr.Textbox(label="Progress", lines=2, interactive=False, elem_id="status")
                result = gr.File(label="Result PNG (settings embedded)", interactive=False, elem_id="result")
                gr.Markdown(
                    f"Uploads up to {MAX_FILE_SIZE.upper()} and {max_pixels // 1_000_000} megapixels each. "
                    f"Runs take turns ({concurrency} at a time); your place in the queue shows above the picture."
                )
        by_name = dict(
            size=size,
            ratio=ratio,
            iterations=iterations,
            time_budget=time_budget,
            preserve_colors=preserve,
            seed=seed,
            init=init,
            style_weights=style_weights,
            style_scale=style_scale,
            tv_weight=tv_weight,
            content_layers=content_layers,
            style_layers=style_layers,
            optimizer=optimizer,
            lr=lr,
            pooling=pooling,
            network=network,
            multiscale=multiscale,
            stop_tolerance=stop_tolerance,
        )
        controls = [by_name[name] for name in CONTROLS]
        demo.click(_demo_inputs, None, [content, styles], queue=False, api_visibility="private")
        preset.change(
            _preset_values,
            preset,
            [ratio, iterations, multiscale, init, tv_weight, stop_tolerance],
            queue=False,
            api_visibility="private",
        )
        running = run.click(
            _run_handler(device, max_memory, max_pixels),
            [content, styles, *controls],
            [preview, status, result],
            api_name="stylize",
            concurrency_limit=concurrency,
            concurrency_id="stylize",
            show_progress="minimal",
        )
        cancel.click(_cancelled, status, status, cancels=[running], queue=False, api_visibility="private")
    app.queue(max_size=max_queue, default_concurrency_limit=concurrency)
    return app


def serve(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    """Start `app` (from `build_app`) on host:port (loopback unless told otherwise); with `block`,
    serve until Ctrl-C, else return the running app (see `wait`). Raises OSError when the port is taken."""
    app.launch(
        server_name=host,
        server_port=port,
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[],
        share=False,
        ssr_mode=False,
        show_error=True,
        inbrowser=False,
        quiet=True,
        prevent_thread_lock=True,
        mcp_server=False,
        footer_links=["api"],
        run_history=False,
        css=CSS,
    )
    if block:
        wait(app)
    return app


def wait(app: gr.Blocks) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt), then close the server."""
    try:
        while app.is_running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()

"""The web UI (`painterly web`): a thin Gradio layer over `api.render` and `Options`;
its controls are generated from the option declarations (`options.SPECS`).

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
from PIL import Image

from .. import api
from ..core import speed
from ..core.inputs import load_inputs
from ..core.options import INITS, SPECS, Control, Options, Spec, coerce_changes
from ..core.plan import Plan, start_for
from ..core.presets import PRESETS
from ..core.render import at_output_size
from ..errors import OptionsError, PainterlyError
from ..media import images, samples
from .studio import Studio, release_memory, runs_of

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


def _error(message: str) -> gr.Error:
    """A one-line error for the user; the server log gets no traceback (it is not a bug)."""
    return gr.Error(message, print_exception=False)


class _FilesOnly:
    """A file control's data model that answers a plain path (instead of an uploaded file) with a
    one-line error: Gradio's own check would log a pydantic traceback on the server."""

    def __init__(self, model, what: str):
        self._model, self._what = model, what

    def model_validate(self, value, **kwargs):
        if isinstance(value, str) or isinstance(value, list) and any(isinstance(v, str) for v in value):
            raise _error(f"{self._what}: send files with gradio_client.handle_file(path), not a plain path")
        return self._model.model_validate(value, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._model, name)


def _plan(content: str | None, styles: Sequence[str] | None, options: Options, max_pixels: int) -> Plan:
    """The run for the uploaded files (each decoded once, `max_pixels` at most); one-line gr.Error."""
    if not content:
        raise _error("Upload a content photo (or press 'Use the demo images').")
    if not styles:
        raise _error("Upload at least one style image.")
    try:
        return speed.decide(load_inputs(content, list(styles), options, max_pixels), options)
    except PainterlyError as exc:
        raise _error(_private(str(exc), [content, *styles])) from None


def _private(message: str, paths: Sequence[str]) -> str:
    """`message` with the uploads' paths on the server replaced by the user's file names."""
    for path in paths:
        message = message.replace(str(path), _name(path))
    return message


def ui_value(spec: Spec, value: object) -> object:
    """An option value as its control shows it: layer tuples as lists, number tuples as text."""
    if spec.kind == "layers":
        return list(value or ())
    if spec.kind == "floats":
        return spec.show(value) if value else ""
    return value


def start_value(spec: Spec) -> object:
    """A control's value when the page opens (or a preset leaves it unset)."""
    return ui_value(spec, spec.web.value if spec.web.value is not None else spec.default)


def component(spec: Spec, max_side: int) -> gr.components.Component:
    """The Gradio control declared for `spec` (see `options.Control`)."""
    c: Control = spec.web
    common = dict(label=c.label, elem_id=spec.key, value=start_value(spec))
    choices = c.choices or spec.choices
    if spec.kind == "layers":
        return gr.CheckboxGroup(list(choices), **common)
    if choices is not None:
        return gr.Radio(list(choices), **common)
    if spec.kind == "bool":
        return gr.Checkbox(**common)
    if spec.kind == "floats":
        return gr.Textbox(placeholder=c.info, **common)
    low, high = spec.within or (None, None)  # the declared range, which a control may narrow (a slider's ends)
    low = low if c.minimum is None else c.minimum
    high = high if c.maximum is None else c.maximum
    if low is not None and high is not None and math.isfinite(high):
        top = min(high, max_side) if spec.name == "size" else high
        return gr.Slider(low, top, step=c.step, info=c.info or None, **common)
    return gr.Number(minimum=low, info=c.info or None, precision=0 if spec.kind == "int" else None, **common)


def make_options(values: dict[str, object], server: Options = DEFAULTS) -> Options:
    """The page's control values ({control key: value}) over the server's own settings, validated;
    bad values raise gr.Error with one line."""
    try:
        changes = coerce_changes({KEYS[key]: value for key, value in values.items()})
        if changes.get("init", "noise") not in INITS:  # never a path: the UI must not read files on the server
            raise OptionsError(f"init must be one of {', '.join(INITS)}")
        return server.replace(**changes)
    except PainterlyError as exc:
        raise _error(str(exc)) from None


# The page's controls, in order: their keys are also the names API clients (gradio_client) use, e.g.
# client.submit(content=handle_file(...), styles=[handle_file(...)], size=64, api_name="/stylize").
WEB_SPECS = tuple(s for s in SPECS if isinstance(s.web, Control))
CONTROLS = tuple(s.key for s in WEB_SPECS)
KEYS = {s.key: s.name for s in WEB_SPECS}


def progress_text(step, started: float, done: bool = False) -> str:
    """Two lines: iteration, scale (px) and seconds since `started` (monotonic); the losses
    (total = alpha*content + beta*style)."""
    return (
        f"{'Done' if done else 'Running'}: iteration {step.iteration}/{step.iterations} at {step.side} px, "
        f"{time.monotonic() - started:.1f} s\n"
        f"loss {step.loss:.4g} (content {step.content:.4g}, style {step.style:.4g})"
    )


def stylize_stream(
    plan: Plan,
    out_dir: Path,
    preview_every: int = PREVIEW_EVERY,
    preview_seconds: float = PREVIEW_SECONDS,
) -> Iterator[tuple[str, str]]:
    """Run `plan` and yield (PNG path, progress text) every few iterations and at the end.

    Each PNG holds the best image so far with the run's settings as text chunks
    (`partial` = "true" until the last one), so it is a valid download at any moment.
    """
    out = out_dir / f"{Path(plan.inputs.content_name).stem}-painterly.png"
    notes = "".join(f"\nNote: {note}" for note in (*plan.notes, *plan.hints))
    started = last_shown = time.monotonic()
    shown = None
    last = None
    for last in api.render(plan):
        if last.iteration - (shown or 0) >= preview_every or time.monotonic() - last_shown >= preview_seconds:
            image, upsampled = _at_size(plan, last)
            images.save(image, out, {**plan.metadata(last), **upsampled, "partial": "true"})
            shown, last_shown = last.iteration, time.monotonic()
            yield str(out), progress_text(last, started) + notes
    if last is not None:
        images.save(images.to_image(last.image), out, plan.metadata(last))
        yield str(out), progress_text(last, started, done=True) + notes


def _at_size(plan: Plan, step) -> tuple[Image.Image, dict[str, str]]:
    """The step's image at the output's size: a coarse scale's is upsampled (and says from what
    size), so the preview does not jump in size and a cancelled run keeps the size asked for."""
    image, upsampled = at_output_size(step.image, plan.size)
    return images.to_image(image), upsampled


def _with_request(fn, names: Sequence[str]):
    """`fn(*values)` with named parameters for API clients and a trailing gr.Request (the user)."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request))
    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = {"request": gr.Request}
    return fn


def _run_handler(server: Options, max_pixels: int, studio: Studio):
    def run(content, styles, *values):
        """Stream (preview, progress text, download) while the run goes on."""
        *controls, request = values
        studio.started(request)
        if not all(studio.may_use(request, path) for path in [content, *(styles or [])]):
            raise _error("An input file is not one you uploaded here: upload it again.")
        decided = _plan(content, styles, make_options(dict(zip(CONTROLS, controls)), server), max_pixels)
        studio.trim(request)
        # One directory per run: its PNG is what the UI shows and offers; gone when the run ends,
        # after Gradio has copied the last one into its own cache.
        with tempfile.TemporaryDirectory(prefix="painterly-web-") as tmp:
            try:
                for path, text in stylize_stream(decided, Path(tmp)):
                    studio.own(request, path)
                    yield path, text, path
            except PainterlyError as exc:
                raise _error(_private(str(exc), [content, *styles])) from None
            finally:
                studio.trim(request)
                release_memory()

    return _with_request(run, ("content", "styles", *CONTROLS))


def _queue_limit(studio: Studio, page: gr.Blocks):
    def check(*values):
        """Refuse a run at joining the queue when its user has `max_per_user` waiting or running."""
        user = getattr(values[-1], "username", None)
        if not studio.admit(user, runs_of(page, user)):
            n = studio.max_per_user
            raise _error(f"You have {n} run{'s' if n > 1 else ''} queued or running, the most per user; wait for one.")
        return [gr.validate(True, "") for _ in values[:-1]]

    return _with_request(check, ("content", "styles", *CONTROLS))


def _demo_handler(studio: Studio):
    folder = Path(tempfile.mkdtemp(prefix="painterly-web-demo-"))  # this server's own (0700), not a shared name

    def demo(request: gr.Request) -> tuple[str, list[str]]:
        """scikit-image's cat photo and micrograph written as PNGs once, for the demo button."""
        content, style = samples.write_demo_inputs(folder, keep=True)
        for path in (content, style):
            studio.own(request, str(path))
        return str(content), [str(style)]

    return demo


def advice(values: dict[str, object]) -> str:
    """What the run will do differently from the controls, said before Run: a note on the start
    image (few iterations from noise start from the photo), or ''."""
    try:
        opts = make_options(values)
    except gr.Error:
        return ""  # a bad value is said at Run, with its reason
    return start_for(opts)[1] or ""


def _advice_handler(*values) -> str:
    return advice(dict(zip(CONTROLS, values)))


def _preset_values(name: str) -> list:
    """Every control's value for a preset: its own values, the page's start values for the rest."""
    values = PRESETS[name].values if name in PRESETS else {}
    return [ui_value(s, values[s.name]) if s.name in values else start_value(s) for s in WEB_SPECS]


def _cancelled(text: str) -> str:
    kept = text.split(":", 1)[1].strip() if ":" in (text or "") else ""
    return f"Cancelled; the best image so far is kept{': ' + kept if kept else ''}"


def build_app(
    concurrency: int = 1,
    max_queue: int = MAX_QUEUE,
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
    server: Options = DEFAULTS,
    studio: Studio | None = None,
) -> gr.Blocks:
    """The page: inputs and controls on the left, the forming picture and losses on the right.

    `concurrency` runs at once (each needs its own memory, see `resources.estimate`), at most
    `max_queue` waiting; outputs up to `max_side` px, inputs up to `max_pixels` pixels each;
    `server` holds the settings users cannot change; `studio` a shared server's per-user limits.
    """
    studio = studio or Studio()
    with gr.Blocks(title="painterly", analytics_enabled=False, delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown(
            "## painterly\nNeural style transfer (Gatys, Ecker & Bethge 2016): the photo is re-drawn so its "
            "VGG-19 features match the photo's and its textures match the style images'."
        )
        with gr.Row():
            with gr.Column(scale=1):
                content, styles, demo = _uploads()
                made = _controls([s for s in WEB_SPECS if not s.web.advanced], max_side)
                with gr.Accordion("More controls", open=False):
                    preset = gr.Dropdown(["", *PRESETS], value="", label="Preset (fills the controls)")
                    made.update(_controls([s for s in WEB_SPECS if s.web.advanced], max_side))
                notice = gr.Markdown("", elem_id="advice")
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
        controls = [made[key] for key in CONTROLS]
        demo.click(_demo_handler(studio), None, [content, styles], queue=False, api_visibility="private")
        preset.change(_preset_values, preset, controls, queue=False, api_visibility="private")
        running = run.click(
            _run_handler(server, max_pixels, studio),
            [content, styles, *controls],
            [preview, status, result],
            # checked at joining the queue (bad inputs too, a bare 400 for API clients): sign-in only
            validator=_queue_limit(studio, app) if studio.max_per_user else None,
            api_name="stylize",
            concurrency_limit=concurrency,
            concurrency_id="stylize",
            show_progress="minimal",
        )
        stopped = cancel.click(None, None, None, cancels=[running], queue=False, api_visibility="private")
        _wire_notes(controls, notice, stopped, status)
    app.queue(max_size=max_queue, default_concurrency_limit=concurrency)
    return app


def _wire_notes(controls: list, notice: gr.Markdown, cancelled, status: gr.Textbox) -> None:
    """The start-image note as the controls change (before Run), and "Cancelled" once a run stopped."""
    for control in controls:
        control.change(_advice_handler, controls, notice, queue=False, api_visibility="private")
    # "Cancelled" is set after the run stopped: a progress update on its way cannot overwrite it.
    cancelled.then(_cancelled, status, status, queue=False, api_visibility="private")


def _uploads() -> tuple[gr.Image, gr.File, gr.Button]:
    """The content photo and style images to upload, and the demo button."""
    content = gr.Image(
        label="Content photo", type="filepath", image_mode=None, sources=["upload"], height=220, elem_id="content"
    )
    styles = gr.File(
        label="Style image(s)",
        file_count="multiple",
        file_types=["image"],
        type="filepath",
        height=120,
        elem_id="styles",
    )
    content.data_model = _FilesOnly(content.data_model, "content")
    styles.data_model = _FilesOnly(styles.data_model, "styles")
    return content, styles, gr.Button("Use the demo images (cat + micrograph)", size="sm")


def _controls(specs: list[Spec], max_side: int) -> dict[str, gr.components.Component]:
    """Controls for `specs`, two to a row: {control key: component}."""
    made = {}
    for k in range(0, len(specs), 2):
        with gr.Row():
            for spec in specs[k : k + 2]:
                made[spec.key] = component(spec, max_side)
    return made

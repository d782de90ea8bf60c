"""Many renders as one resumable batch: jobs, their deterministic output names, one job's render,
and the local runner. The Ray runner (`raybatch.py`) shares all of it but the loop.

A job's output name comes from the SHA-256 of its input files' bytes and its options, so the same
job always lands on the same file and a re-run skips what is already there. Renders return the
encoded file; the driver writes it atomically, so an output is either whole or absent.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..core.optimize import Step
from ..core.options import INITS, Options
from ..errors import DivergedError, InputImageError, OptionsError
from ..media.files import write_atomic

INPUT_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif")
NAME_VERSION = "1"  # bump when what an output name stands for changes


@dataclass(frozen=True)
class Job:
    """One output: `content` in the style of `styles` (one, or a blend) with `options`.

    `row` is the manifest line the job came from (None for content x style batches); `key` the
    hex digest that names the output; `name` the output's file name inside the batch folder.
    """

    content: Path
    styles: tuple[Path, ...]
    options: Options
    key: str
    name: str
    row: int | None = None

    def files(self) -> list[Path]:
        """Every input file the job reads: content, styles, style masks, an init image."""
        masks = [Path(m) for m in self.options.style_masks or ()]
        init = [] if self.options.init in INITS else [Path(self.options.init)]
        return [self.content, *self.styles, *masks, *init]


@dataclass
class Outcome:
    """What became of one job: status is done, skipped, failed or retrying (an attempt failed,
    another follows); `reason` says why an attempt failed; seconds are the render's own."""

    job: Job
    status: str
    attempts: int = 0
    seconds: float = 0.0
    reason: str = ""
    loss: float | None = None

    def as_dict(self, out_dir: Path) -> dict:
        return {
            "row": self.job.row,
            "content": str(self.job.content),
            "styles": [str(s) for s in self.job.styles],
            "output": str(out_dir / self.job.name),
            "status": self.status,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
            "loss": self.loss,
            "reason": self.reason,
        }


@dataclass
class Rendered:
    """A finished render: the output file's bytes and how it went."""

    data: bytes
    iterations: int
    loss: float
    seconds: float


class Hasher:
    """SHA-256 of files by path, each file read once per batch."""

    def __init__(self) -> None:
        self.known: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        path = Path(path)
        if path not in self.known:
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
            except OSError as exc:
                raise InputImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
            self.known[path] = digest.hexdigest()
        return self.known[path]


def make_job(
    content: Path, styles: Iterable[Path], options: Options, hasher: Hasher, suffix: str, row: int | None = None
) -> Job:
    """A job with its output name: CONTENT--STYLE[+STYLE2]--KEY.suffix, KEY from the inputs' bytes
    and every option (so a changed setting never reuses an old output). Raises InputImageError
    when an input file cannot be read."""
    styles = tuple(Path(s) for s in styles)
    draft = Job(Path(content), styles, options, "", "", row)
    recipe = {
        "version": NAME_VERSION,
        "files": [hasher(p) for p in draft.files()],
        "options": {k: v for k, v in options.as_metadata().items() if k not in ("style_masks", "init")},
        "init": options.init if options.init in INITS else "file",
        "suffix": suffix,
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    stems = [_safe(draft.content.stem), "+".join(_safe(s.stem) for s in styles)]
    return Job(draft.content, styles, options, key, f"{stems[0]}--{stems[1]}--{key[:12]}{suffix}", row)


def _safe(stem: str) -> str:
    return re.sub(r"[^\w.-]+", "_", stem)[:40] or "image"


def content_files(patterns: Iterable[str], exclude: Path | None = None) -> list[Path]:
    """Image files named by folders (their images, in name order), globs or plain paths; files
    inside `exclude` (the batch's own output folder) are left out. Raises OptionsError when a
    pattern finds nothing."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        else:
            matches = [path] if path.exists() else []
        if not matches:
            raise OptionsError(f"{pattern}: no image files found")
        found += matches
    if exclude is not None:
        out = exclude.resolve()
        found = [p for p in found if out not in p.resolve().parents]
    return list(dict.fromkeys(found))


def finished(path: Path) -> bool:
    """Whether `path` holds a whole image (outputs are written atomically; this also refuses a
    file damaged since)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tif.pages[0].asarray()
            return True
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # noqa: BLE001 - any failure to read means: render it again
        return False


def render_job(
    job: Job, seed_offset: int = 0, on_step: Callable[[Step], None] | None = None, inputs: dict | None = None
) -> Rendered:
    """Render `job` and return its output file's bytes (with the settings as metadata).

    `inputs` maps the job's input paths to their bytes when this runs where those paths do not
    exist (a Ray worker on another machine); `seed_offset` moves the noise seed for a retry after
    a divergence. Raises PainterlyError subclasses (a bad image, out of memory, divergence).
    """
    from ..core.inputs import load_inputs
    from ..core.render import render
    from ..core.speed import decide
    from ..media import images

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="painterly-job-") as tmp:
        local = _materialise(job, Path(tmp), inputs) if inputs else job
        opts = local.options.replace(seed=local.options.seed + seed_offset) if seed_offset else local.options
        opts = opts.validate()
        styles = [str(s) for s in local.styles]
        decided = decide(load_inputs(str(local.content), styles if len(styles) > 1 else styles[0], opts), opts)
        last = None
        for last in render(decided):
            if on_step is not None:
                on_step(last)
        if last is None:
            raise DivergedError("the render made no step")
        metadata = {**decided.metadata(last), "batch_key": job.key}
        out = Path(tmp) / f"out{Path(job.name).suffix}"
        images.save(last.image, out, metadata, decided.options.bit_depth, decided.dpi)
        return Rendered(out.read_bytes(), last.iteration, last.loss, time.monotonic() - started)


def _materialise(job: Job, folder: Path, inputs: dict) -> Job:
    """`job` with its input files written under `folder` from `inputs` (path -> bytes)."""
    moved: dict[Path, Path] = {}
    for i, path in enumerate(dict.fromkeys(job.files())):
        target = folder / str(i) / path.name
        target.parent.mkdir()
        target.write_bytes(inputs[str(path)])
        moved[path] = target
    opts = job.options
    if opts.style_masks:
        opts = opts.replace(style_masks=tuple(str(moved[Path(m)]) for m in opts.style_masks))
    if opts.init not in INITS:
        opts = opts.replace(init=str(moved[Path(opts.init)]))
    styles = tuple(moved[s] for s in job.styles)
    return Job(moved[job.content], styles, opts, job.key, job.name, job.row)


def describe_failure(exc: BaseException) -> str:
    """One line for the report: the error's own message, its kind for the unexpected."""
    from ..errors import PainterlyError

    if isinstance(exc, PainterlyError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "out of memory"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass
class Tally:
    """Retry bookkeeping shared by the runners: attempt counts and seed offsets per job key."""

    retries: int
    attempts: dict[str, int] = field(default_factory=dict)
    seed_offsets: dict[str, int] = field(default_factory=dict)

    def start(self, job: Job) -> int:
        """Count an attempt; returns the seed offset it runs with."""
        self.attempts[job.key] = self.attempts.get(job.key, 0) + 1
        return self.seed_offsets.get(job.key, 0)

    def failed(self, job: Job, exc: BaseException) -> Outcome:
        """The outcome of a failed attempt: retrying while attempts are left, else failed."""
        attempts = self.attempts[job.key]
        if isinstance(exc, DivergedError):  # the same seed would diverge again
            self.seed_offsets[job.key] = attempts
        status = "retrying" if attempts <= self.retries else "failed"
        return Outcome(job, status, attempts, reason=describe_failure(exc))

    def done(self, job: Job, out_dir: Path, rendered: Rendered) -> Outcome:
        write_atomic(out_dir / job.name, lambda f: f.write(rendered.data))
        return Outcome(job, "done", self.attempts[job.key], rendered.seconds, loss=rendered.loss)


def pending(jobs: Iterable[Job], out_dir: Path) -> tuple[list[Job], list[Outcome]]:
    """The jobs still to render, and a `skipped` outcome for each one whose output is there."""
    todo, skipped = [], []
    for job in jobs:
        if finished(out_dir / job.name):
            skipped.append(Outcome(job, "skipped"))
        else:
            todo.append(job)
    return todo, skipped


def run_local(
    jobs: list[Job], out_dir: Path, retries: int = 2, on_step: Callable[[Job, Step], None] | None = None
) -> Iterator[Outcome]:
    """Render `jobs` one after another in this process (all its threads), yielding an outcome per
    attempt; a failed job is tried up to `retries` more times and never stops the batch."""
    tally = Tally(retries)
    for job in jobs:
        while True:
            offset = tally.start(job)
            step = (lambda s, job=job: on_step(job, s)) if on_step else None
            try:
                outcome = tally.done(job, out_dir, render_job(job, offset, step))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - a batch reports every failure and goes on
                outcome = tally.failed(job, exc)
            yield outcome
            if outcome.status != "retrying":
                break

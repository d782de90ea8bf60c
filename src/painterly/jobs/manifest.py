"""Batch manifests: a CSV file or JSON lines, one job (or one per style) per row.

Columns (CSV header / JSON keys): `content` (a file), `style` (files separated by `;` blend into one
job; a JSON list works too; empty = the batch's `--style` images, one job each), `preset`, and any
option by name (`iterations`, `ratio`, `tv_weight` or `tv-weight`, ...). An empty cell keeps the
batch's value. Relative paths are taken from the manifest's folder. A bad row (missing file,
unknown option, bad value) becomes a `RowError` with its line number; the other rows still run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..core.options import INITS, SPEC_BY_NAME, Options, coerce_changes
from ..core.presets import with_preset
from ..errors import OptionsError, PainterlyError
from .batch import Hasher, Job, make_job

PATH_COLUMNS = ("content", "style", "preset")
BY_FLAG = {spec.key: spec.name for spec in SPEC_BY_NAME.values() if spec.flag}  # style_weights -> style_blend_weights


@dataclass(frozen=True)
class RowError:
    """A manifest row that gives no job: its line number in the file and why."""

    row: int
    reason: str


def read(
    path: Path, base: Options, styles: tuple[Path, ...], hasher: Hasher, suffix: str
) -> tuple[list[Job], list[RowError]]:
    """The manifest's jobs and its bad rows. Raises OptionsError when the file itself is unreadable."""
    jobs: list[Job] = []
    errors: list[RowError] = []
    for row, values in _rows(path):
        try:
            jobs += _jobs(values, path.parent, base, styles, hasher, suffix=suffix, row=row)
        except PainterlyError as exc:
            errors.append(RowError(row, str(exc).splitlines()[0]))
    return jobs, errors


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, {column: value}) per non-empty row; a JSON line that does not parse is a row
    whose only value says so."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionsError(f"manifest {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    values = json.loads(line)
                except json.JSONDecodeError as exc:
                    values = {"__error__": f"not a JSON object ({exc.msg})"}
                yield number, values if isinstance(values, dict) else {"__error__": "not a JSON object"}
        return
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "content" not in [f.strip() for f in reader.fieldnames]:
        raise OptionsError(f"manifest {path}: the first line must name the columns, content and style at least")
    for values in reader:
        if any((v or "").strip() for v in values.values() if isinstance(v, str)):
            yield reader.line_num, {(k or "").strip(): v for k, v in values.items()}


def _jobs(
    values: dict, folder: Path, base: Options, styles: tuple[Path, ...], hasher: Hasher, *, suffix: str, row: int
) -> list[Job]:
    if "__error__" in values:
        raise OptionsError(values["__error__"])
    if None in values or "" in values:
        raise OptionsError("more cells than the header has columns")
    changes = {_name(k): v for k, v in values.items() if k not in PATH_COLUMNS and _given(v)}
    if isinstance(changes.get("style_masks"), str):  # several masks in one cell, as styles: a.png;b.png
        changes["style_masks"] = [m for m in changes["style_masks"].split(";") if m.strip()]
    try:
        options = with_preset(values.get("preset") or None, coerce_changes(changes), base)
    except OptionsError as exc:
        raise OptionsError(f"{exc}".replace("unknown option", "unknown column")) from None
    options = _resolve_files(options, folder, bool(changes.get("style_masks")), bool(changes.get("init")))
    content = _existing(folder, values.get("content"), "content")
    given = values.get("style")
    names = given if isinstance(given, list) else [s for s in str(given or "").split(";") if s.strip()]
    if names:
        blends = [tuple(_existing(folder, s, "style") for s in names)]
    elif styles:
        blends = [(s,) for s in styles]
    else:
        raise OptionsError("no style: give a style column or --style")
    return [make_job(content, blend, options, hasher, suffix, row) for blend in blends]


def _name(column: str) -> str:
    """A column's option name: `tv-weight`, `--tv-weight` and `tv_weight` are all tv_weight; the
    flag names (style_weights, style_mask) map to their fields."""
    key = column.strip().lstrip("-").replace("-", "_")
    return BY_FLAG.get(key, key)


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def _existing(folder: Path, name: object, what: str) -> Path:
    if not _given(name):
        raise OptionsError(f"no {what} file given")
    path = folder / str(name).strip()
    if not path.is_file():
        raise OptionsError(f"{what} {path}: no such file")
    return path


def _resolve_files(options: Options, folder: Path, masks: bool, init: bool) -> Options:
    """Mask and init paths the row gives, taken from the manifest's folder and checked."""
    if masks:
        options = options.replace(
            style_masks=tuple(str(_existing(folder, m, "style mask")) for m in options.style_masks)
        )
    if init and options.init not in INITS:
        options = options.replace(init=str(_existing(folder, options.init, "init image")))
    return options

"""The reproduced figures on disk: one contact sheet per figure (figN.png) and an index.html
that shows every sheet with, per tile, its settings and the paper's losses."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

from ...core.options import Options
from ...media import images
from ...media.files import write_text_atomic
from .contact_sheet import Cell, sheet
from .figures import Figure
from .tiles import Rendered, tile_options


def _cell(result: Rendered, labelled: bool) -> Cell:
    """A sheet cell; in a labelled grid the row and column labels replace the caption."""
    image = images.load(result.path)
    if not result.tile.is_render:
        return Cell(image, [result.tile.caption, ""])
    inset = images.load(result.tile.style) if result.tile.style is not None else None
    losses = f"content {result.content_loss:.3g}  style {result.style_loss:.3g}"
    return Cell(image, [losses] if labelled else [result.tile.caption, losses], inset)


def write(figures: Sequence[Figure], results: dict[int, list[Rendered]], out: Path, base: Options) -> list[Path]:
    """Write figN.png for every figure and out/index.html; returns the paths written."""
    written = []
    for figure in figures:
        cells = [_cell(r, bool(figure.row_labels)) for r in results[figure.number]]
        render = next((c.image for c, r in zip(cells, results[figure.number]) if r.tile.is_render), None)
        cell_size = render.size if render is not None else (base.size, base.size * 3 // 4)
        picture = sheet(
            f"Fig. {figure.number}: {figure.title}",
            cells,
            figure.columns,
            cell_size,
            figure.column_labels,
            figure.row_labels,
            subtitle=f"paper: {figure.finding}",
        )
        written.append(images.save(picture, out / f"fig{figure.number}.png", {"figure": str(figure.number)}))
    written.append(_write_index(figures, results, out, base))
    return written


def _settings(result: Rendered, base: Options) -> str:
    if not result.tile.is_render:
        return "input"
    opts = tile_options(base, result.tile)
    parts = [
        f"alpha/beta {opts.ratio:.0e}",
        f"content {','.join(opts.content_layers)}",
        f"style {','.join(opts.style_layers)}",
        f"init {opts.init}",
        f"seed {opts.seed}",
    ]
    if opts.tv_weight:
        parts.append(f"tv {opts.tv_weight:g}")
    return ", ".join(parts)


def _number(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None else format(value, digits)


def _write_index(figures: Sequence[Figure], results: dict[int, list[Rendered]], out: Path, base: Options) -> Path:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>painterly: the paper's figures</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}img.sheet{max-width:100%}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
        "td.n{text-align:right;font-family:monospace}</style>",
        "<h1>Gatys, Ecker &amp; Bethge (2016), reproduced with painterly</h1>",
        f"<p>{base.size} px, {base.iterations} L-BFGS iterations per render. Losses are the paper's objective "
        "(content conv4_2, style conv1_1..conv5_1, w<sub>l</sub> = 1/5) for every tile, so they compare across "
        "tiles; content_rel = |F - P| / |P| at conv4_2.</p>",
    ]
    for figure in figures:
        name = f"fig{figure.number}.png"
        parts += [
            f"<h2>Fig. {figure.number}: {html.escape(figure.title)}</h2>",
            f"<p>What the paper shows: {html.escape(figure.finding)}.</p>",
            f"<a href='{name}'><img class='sheet' src='{name}' alt='Fig. {figure.number}'></a>",
            "<table><tr><th>tile</th><th>settings</th><th>content loss</th><th>style loss</th>"
            "<th>content_rel</th><th>iterations</th><th>seconds</th></tr>",
        ]
        for r in results[figure.number]:
            caption = html.escape(r.tile.caption)
            if r.tile.is_render:
                caption = f"<a href='{html.escape(os.path.relpath(r.path, out))}'>{caption}</a>"
            parts.append(
                f"<tr><td>{caption}</td>"
                f"<td>{html.escape(_settings(r, base))}</td><td class='n'>{_number(r.content_loss)}</td>"
                f"<td class='n'>{_number(r.style_loss)}</td><td class='n'>{_number(r.content_rel, '.3f')}</td>"
                f"<td class='n'>{r.iterations or ''}</td><td class='n'>{r.seconds:.1f}</td></tr>"
            )
        parts.append("</table>")
    return write_text_atomic(out / "index.html", "\n".join(parts) + "\n")

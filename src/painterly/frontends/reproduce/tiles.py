"""Render the paper's figures: each distinct tile once, scored, and cached on disk.

A finished tile is saved atomically under OUT/tiles with a key of its inputs and settings,
so a stopped run continues where it stopped and tiles shared between figures (Fig. 3's
Starry Night is also a cell of Fig. 4) are rendered once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import __version__, api
from ...core.options import Options
from ...core.plan import schedule
from ...media import images
from .figures import PAPER_RATIO, Figure, Tile


@dataclass
class Rendered:
    """A finished tile: its PNG, what it cost, and the paper's objective for it."""

    tile: Tile
    path: Path
    seconds: float = 0.0
    iterations: int = 0
    content_loss: float | None = None
    style_loss: float | None = None
    content_rel: float | None = None
    reused: bool = False


@dataclass
class Progress:
    done: int  # distinct renders finished so far
    total: int
    key: str
    result: Rendered


def tile_options(base: Options, tile: Tile) -> Options:
    """The base options with the tile's changes applied."""
    return base.replace(**dict(tile.changes or ()))


def tile_key(base: Options, tile: Tile) -> str:
    """A name for a render that changes whenever its inputs' bytes or its settings change."""
    opts = tile_options(base, tile)
    digest = hashlib.sha256(repr((__version__, schedule(opts), sorted(opts.as_metadata().items()))).encode())
    for path in (tile.content, tile.style):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def scoring_options(base: Options) -> Options:
    """Every tile is scored on the paper's Fig. 3 objective, so the numbers compare across tiles."""
    return Options(size=base.size, device=base.device).replace(ratio=PAPER_RATIO)


def render(figures: Sequence[Figure], out: Path, base: Options) -> Iterator[Progress]:
    """Render every distinct tile of `figures` into `out`/tiles, yielding after each one."""
    tiles_dir = out / "tiles"
    tiles_dir.mkdir(parents=True, exist_ok=True)
    unique: dict[str, Tile] = {}
    for figure in figures:
        for tile in figure.tiles:
            if tile.is_render:
                unique.setdefault(tile_key(base, tile), tile)
    for done, (key, tile) in enumerate(unique.items(), start=1):
        yield Progress(done, len(unique), key, _render_one(tile, tiles_dir / f"{key}.png", base))


def _render_one(tile: Tile, path: Path, base: Options) -> Rendered:
    if path.exists():  # finished by an earlier run (the key covers inputs and settings)
        meta = images.read_metadata(path)
        result = Rendered(tile, path, float(meta.get("seconds", 0)), int(meta.get("iterations_done", 0)))
        result.reused = True
    else:
        started = time.monotonic()
        decided = api.plan(tile.content, tile.style, tile_options(base, tile))
        *_, last = api.render(decided)
        seconds = time.monotonic() - started
        images.save(images.to_image(last.image), path, {**decided.metadata(last), "seconds": f"{seconds:.1f}"})
        result = Rendered(tile, path, seconds, last.iteration)
    (s,) = api.score(tile.content, tile.style, [path], scoring_options(base))
    result.content_loss, result.style_loss, result.content_rel = s.content, s.style, s.content_rel
    return result


def results_for(figure: Figure, rendered: dict[str, Rendered], base: Options) -> list[Rendered]:
    """The figure's tiles in order: renders from `rendered` (by tile key), inputs as themselves."""
    return [
        dataclasses.replace(rendered[tile_key(base, t)], tile=t) if t.is_render else Rendered(t, t.content)
        for t in figure.tiles
    ]

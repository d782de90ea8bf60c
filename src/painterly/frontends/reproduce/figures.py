"""The paper's experiments (Figs. 3-7) as declarative grids of tiles.

A tile is either an input shown as it is, or a render: content + style + the `Options` fields
that differ from the run's base options. Nothing here renders or draws.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ...core.options import STYLE_LAYERS
from ...core.presets import PRESETS

RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)  # Fig. 4's columns: alpha/beta
PAPER_RATIO = 1e-3
SEEDS = (0, 1, 2, 3)  # Fig. 6's white-noise initialisations


@dataclass(frozen=True)
class Tile:
    """One cell of a sheet. `changes` (Options field -> value) is None for an input shown as is."""

    caption: str
    content: Path
    style: Path | None = None
    changes: tuple[tuple[str, object], ...] | None = ()

    @property
    def is_render(self) -> bool:
        return self.changes is not None


@dataclass(frozen=True)
class Figure:
    number: int
    title: str
    finding: str  # what the paper shows with it: the thing to look for
    columns: int
    tiles: tuple[Tile, ...]
    column_labels: tuple[str, ...] = ()
    row_labels: tuple[str, ...] = field(default=())


def _ratio(r: float) -> tuple[tuple[str, object], ...]:
    return (("ratio", r),)  # Options.replace turns it into the weights, as every front door does


def _input(path: Path, what: str) -> Tile:
    return Tile(f"{what}: {path.stem}", path, None, None)


def figure3(photo: Path, artworks: list[Path]) -> Figure:
    """The photo in every artwork's style, paper settings."""
    tiles = [_input(photo, "photo")] + [
        Tile(f"{a.stem}, alpha/beta 1e-3", photo, a, _ratio(PAPER_RATIO)) for a in artworks
    ]
    return Figure(
        3,
        "The photograph in the style of each artwork",
        "content from conv4_2, style from conv1_1..conv5_1, alpha/beta = 1e-3: the scene stays recognisable "
        "while colours and textures come from the artwork",
        min(4, len(tiles)),
        tuple(tiles),
    )


def figure4(photo: Path, artwork: Path) -> Figure:
    """Rows: style from conv1_1 up to conv5_1; columns: alpha/beta 1e-5 .. 1e-2."""
    tiles, rows = [], []
    for depth in range(1, len(STYLE_LAYERS) + 1):
        layers = STYLE_LAYERS[:depth]
        rows.append("conv1_1" if depth == 1 else f"conv1_1..{layers[-1]}")
        tiles += [Tile(f"{rows[-1]}, {r:.0e}", photo, artwork, (("style_layers", layers), *_ratio(r))) for r in RATIOS]
    return Figure(
        4,
        f"Style layers against alpha/beta ({artwork.stem})",
        "more style layers give larger, smoother structures; a larger alpha/beta keeps more of the photo",
        len(RATIOS),
        tuple(tiles),
        column_labels=tuple(f"alpha/beta {r:.0e}" for r in RATIOS),
        row_labels=tuple(rows),
    )


def figure5(photo: Path, artwork: Path) -> Figure:
    """Content matched at conv2_2 against conv4_2."""
    tiles = [_input(photo, "photo")] + [
        Tile(f"content at {layer}", photo, artwork, (("content_layers", (layer,)), *_ratio(PAPER_RATIO)))
        for layer in ("conv2_2", "conv4_2")
    ]
    return Figure(
        5,
        f"Content layer conv2_2 against conv4_2 ({artwork.stem})",
        "matching content at conv2_2 keeps fine pixel detail; at conv4_2 the artwork's texture takes over "
        "while the scene stays",
        3,
        tuple(tiles),
    )


def figure6(photo: Path, artwork: Path) -> Figure:
    """Initialisation from the content, from the style, and from four noise seeds."""
    tiles = [
        Tile("init: content", photo, artwork, (("init", "content"), *_ratio(PAPER_RATIO))),
        Tile("init: style", photo, artwork, (("init", "style"), *_ratio(PAPER_RATIO))),
    ] + [
        Tile(f"init: noise, seed {s}", photo, artwork, (("init", "noise"), ("seed", s), *_ratio(PAPER_RATIO)))
        for s in SEEDS
    ]
    return Figure(
        6,
        f"Initialisation ({artwork.stem})",
        "different noise seeds give different images of equal quality (similar losses); starting from the "
        "content or the style biases the result towards it",
        3,
        tuple(tiles),
    )


_PRESET = PRESETS["photoreal"].values
PHOTOREAL = tuple(_PRESET.items())


def figure7(photo: Path, look: Path) -> Figure:
    """One photograph's look (light, colour, atmosphere) onto another photograph."""
    tiles = (
        _input(photo, "photo"),
        _input(look, "look from"),
        Tile(f"photorealistic preset, alpha/beta {_PRESET['ratio']:.0e}", photo, look, PHOTOREAL),
    )
    return Figure(
        7,
        f"Photorealistic transfer: the look of {look.stem} onto {photo.stem}",
        "the content photo keeps its scene and takes the other photo's colours and lighting; low-level "
        "noise is more visible than with paintings",
        3,
        tiles,
    )


NUMBERS = (3, 4, 5, 6, 7)


def plan(
    photo: Path,
    artworks: list[Path],
    look: Path | None,
    artwork: Path | None = None,
    numbers: Collection[int] = NUMBERS,
) -> list[Figure]:
    """The figures `numbers` (default all five), in order. `artwork` (default the first) is the style
    for Figs. 4-6; `look` is needed only for Fig. 7."""
    if not artworks:
        raise ValueError("at least one artwork is needed")
    main = artwork or artworks[0]
    make = {
        3: lambda: figure3(photo, artworks),
        4: lambda: figure4(photo, main),
        5: lambda: figure5(photo, main),
        6: lambda: figure6(photo, main),
        7: lambda: figure7(photo, look),
    }
    return [make[n]() for n in sorted(numbers)]

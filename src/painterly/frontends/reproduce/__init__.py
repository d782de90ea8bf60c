"""`painterly reproduce`: the paper's Figs. 3-7 rendered from a photograph and artworks.

- `figures`: the experiments as declarative grids of tiles
- `tiles`: each distinct tile rendered once, scored, and cached on disk
- `contact_sheet`, `gallery`: the labelled sheets and index.html
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import OptionsError
from ...media import images, samples

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
PHOTO_NAMES = ("photo", "content", "tubingen")  # file stems starting with these are photographs
LOOK_SAMPLE = "coffee"  # scikit-image photo whose look Fig. 7 transfers when DIR has only one photograph


@dataclass(frozen=True)
class Sources:
    """The images the figures are made from."""

    photo: Path
    artworks: list[Path]
    look: Path | None  # Fig. 7's second photograph (None: Fig. 7 not wanted)
    artwork: Path | None  # the style of Figs. 4-6 (None: the first artwork)


def find_inputs(directory: Path) -> tuple[list[Path], list[Path]]:
    """(photographs, artworks) in `directory`: photographs are files named photo*, content* or
    tubingen*; every other image file is an artwork. Sorted by name."""
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    photos = [p for p in files if p.stem.lower().startswith(PHOTO_NAMES)]
    return photos, [p for p in files if p not in photos]


def choose_sources(
    folder: Path,
    out: Path,
    photo: Path | None = None,
    artwork: Path | None = None,
    look: Path | None = None,
    look_wanted: bool = True,
) -> Sources:
    """Pick the photograph, artworks and Fig. 7's look from `folder` (explicit choices win), writing
    scikit-image's coffee photo into `out` when there is no second photograph and `look_wanted`
    (Fig. 7 is to be made). Every chosen file is checked here, so a bad input is reported before
    hours of work."""
    if not folder.is_dir():
        raise OptionsError(f"--images {folder}: not a directory")
    photos, artworks = find_inputs(folder)
    photo = photo or (photos[0] if photos else None)
    if photo is None:
        raise OptionsError(f"--images {folder}: no photograph (name one photo*.jpg, or pass --photo FILE)")
    artworks = [a for a in artworks if a != look]
    if not artworks:
        raise OptionsError(f"--images {folder}: no artwork images besides the photograph")
    if out.resolve() == folder.resolve():
        raise OptionsError("--out must not be the --images directory")
    out.mkdir(parents=True, exist_ok=True)
    look = look or next((q for q in photos if q != photo), None)
    if look is None and look_wanted:
        look = images.save(samples.photo(LOOK_SAMPLE), out / f"look-{LOOK_SAMPLE}.png")
    for path in (photo, look, artwork, *artworks):
        if path is not None:
            images.load(path, "input image")
    return Sources(photo, artworks, look, artwork)

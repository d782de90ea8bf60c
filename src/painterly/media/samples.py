"""Sample photographs that a dependency (scikit-image) ships: for the demo and for
computing the normalised network's factors. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Colour photographs in scikit-image's wheel (no pooch download needed).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
# The demo's inputs (`painterly demo`, the web UI's demo button): a cat, a stained-tissue micrograph.
DEMO_CONTENT, DEMO_STYLE = "chelsea", "immunohistochemistry"


def photo(name: str) -> Image.Image:
    """One of scikit-image's bundled sample images as an RGB PIL image."""
    from skimage import data

    array = np.asarray(getattr(data, name)())
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return Image.fromarray(array[..., :3].astype(np.uint8), "RGB")


def photos() -> list[Image.Image]:
    """All bundled colour photographs (plus both frames of the stereo motorcycle pair)."""
    from skimage import data

    frames = [Image.fromarray(np.asarray(a)[..., :3], "RGB") for a in data.stereo_motorcycle()[:2]]
    return [photo(name) for name in PHOTOS] + frames


def write_demo_inputs(folder: Path, prefix: str = "", keep: bool = False) -> list[Path]:
    """The demo's content and style written as PNGs `folder`/`prefix`NAME.png; with `keep`, files
    already there are kept (written once)."""
    from . import images

    paths = []
    for name in (DEMO_CONTENT, DEMO_STYLE):
        path = Path(folder) / f"{prefix}{name}.png"
        if not (keep and path.exists()):
            images.save(photo(name), path)
        paths.append(path)
    return paths

"""Presets: named settings (plain option values) applied before the user's own, and the one
function that applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import OptionsError
from .options import Options


@dataclass(frozen=True)
class Preset:
    """Named settings: plain option values (`ratio` allowed), applied before the user's own."""

    about: str
    values: dict[str, object]


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        "the paper exactly: one scale, 1000 L-BFGS iterations (line search) from white noise, w_l = 1/5, "
        "alpha/beta 1e-3, no smoothing, float32",
        {
            "multiscale": False,
            "iterations": 1000,
            "init": "noise",
            "line_search": True,
            "lbfgs_history": 100,
            "balance_layers": False,
            "print_balance": False,
            "ratio": 1e-3,
            "style_layer_weights": None,
            "tv_weight": 0.0,
            "precision": "fp32",
            "pooling": "avg",
            "network": "plain",
        },
    ),
    "classic": Preset(
        "the 2016 look: from white noise at 128 px, 220 iterations; the artwork moves the composition more "
        "(twice the time of the default's palette start)",
        {"init": "noise", "min_scale": 128, "iterations": 220, "ratio": 1.2e-3},
    ),
    "fast": Preset(
        "a quick preview: 60 iterations, stop early when the loss stalls",
        {"iterations": 60, "stop_tolerance": 2e-3},
    ),
    "photoreal": Preset(
        "photo-to-photo look transfer (paper Fig. 7 with Deep Photo Style Transfer's photorealism term): start "
        "from the photo in the style's colours (region by region where regions pair), the matting Laplacian keeps it "
        "a recoloured photo, the colours held at the style's, the result made a locally affine recolouring of the "
        "photo at the end; two regions paired automatically where both photos split into areas (sky to sky), "
        "--labels pairs them by hand",
        # The palette start per paired region gives each region its style region's colours from the first
        # iteration (a sky the style sky's); the colour term holds them, the matting term and the end's projection
        # keep a photo; alpha/beta 1e-2 (1e-3 painted the style's texture over the photo's edges where labels pair
        # small regions); 70 iterations: the scores of 85 or 100, at fewer passes; two automatic regions where
        # both photos split into areas (a sky over a city: sky to sky), none elsewhere (clusters.COHERENT)
        # (bench/photoreal.py; figures in NOTES)
        {
            "iterations": 70,
            "regions": 2,
            "init": "palette",
            "ratio": 1e-2,
            "tv_weight": 1.0,
            "photo_weight": 1e8,
            "colour_weight": 100.0,
            "affine_radius": 4,
        },
    ),
}


def with_preset(name: str | None, changes: Mapping[str, object] = {}, base: Options | None = None) -> Options:  # noqa: B006
    """`base` (or the defaults) with preset `name`'s values, then `changes` (which win), validated."""
    options = base or Options()
    if name:
        if name not in PRESETS:
            raise OptionsError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        options = options.replace(**PRESETS[name].values)
    return options.replace(**changes) if changes else options.validate()

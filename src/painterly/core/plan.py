"""What a run will do, decided once: the inputs decoded, the effective options, the output
size, the scale schedule and the memory estimate. Every front door and the run loop read the
same `Plan`, so what is rendered, shown and recorded in metadata always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import InputImageError, ResourceError
from . import ladder, network, resources, tiling
from .inputs import Inputs, pairs_automatically
from .ladder import MULTISCALE_FROM, PRINT_DETAIL
from .options import Options
from .sizes import MIN_SIDE, output_size, style_side

MIN_ITERATIONS = 4  # per scale, when the budget allows
PRINT_ITERATIONS = 9  # per scale above FULL_DETAIL px, taken from the first scale while it keeps the most
TILES = (1024, 768, 512, 384, 256)  # px: tile sizes the memory guard tries before refusing, fastest first
# Iterations per scale fall as side^-1.5: halving per step (side^-2) left the fine scales too few, and
# more at the coarse end cost time for the same picture (docs/NOTES.md, "Fast and clean").
ITERATIONS_EXPONENT = 1.5
# px: scales from here up all get the iterations of this one; fewer left a weave of unconverged
# texture at print sizes (docs/NOTES.md, "Prints that look painted at 100%").
FULL_DETAIL = 512
# Every scale from FULL_DETAIL up gets its iterations, print sizes too: with fewer, a large print was the
# smaller one's texture enlarged, soft rounded cells at 100 %; PRINT_ITERATIONS is where one more step
# stopped paying for its passes at 4096 px (bench/print_look.py; figures in docs/NOTES.md).
# Above PRINT_DETAIL L-BFGS keeps at most PRINT_HISTORY curvature pairs: each pair is two image-sized
# float32 vectors, 24 bytes a pixel, and the top rung's few iterations gain little from a long history;
# fewer pairs leave room for larger (faster) tiles in the same memory.
PRINT_HISTORY = 4


@dataclass(frozen=True)
class Scale:
    """One rung of the coarse-to-fine ladder."""

    side: int  # long side, px
    size: tuple[int, int]  # (W, H) px
    iterations: int
    tile: int = 0  # px: the network runs on tiles of this size (plus a halo); 0 = on the whole image
    memory: float = 0.0  # estimated peak bytes
    history: int = 1  # L-BFGS curvature pairs kept (`_history`)


@dataclass(frozen=True)
class Plan:
    """A run decided: `options` are the effective ones (size resolved from 0 or --auto-size)."""

    options: Options
    inputs: Inputs
    scales: tuple[Scale, ...]
    memory: float  # estimated peak bytes
    seconds: float  # estimated seconds on a 2-core AVX2 CPU (fixed model; `speed.plan_seconds` measures)
    notes: tuple[str, ...] = ()  # what the user must know before the run (size, memory), one line each
    hints: tuple[str, ...] = ()  # advice: the run will probably not give the picture wanted
    budget_cut: bool = False  # cut to fit a time budget (`speed.decide`): the top scale may take the time left

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the output."""
        return self.scales[-1].size

    @property
    def projected(self) -> bool:
        """Whether the output's rung is the end's locally affine recolouring of the rung below (`schedule`):
        the network does not run there."""
        return len(self.scales) > 1 and not self.scales[-1].iterations

    @property
    def network_top(self) -> int:
        """Index of the last rung the network runs: the one below the end's projection when `projected`."""
        return len(self.scales) - 1 - self.projected

    @property
    def dpi(self) -> tuple[float, float] | None:
        """The content file's resolution (dots per inch), for the output's print size."""
        return self.inputs.content.info.get("dpi")

    @property
    def work(self) -> float:
        """The planned work in full-size iterations (an iteration at half the size costs a quarter)."""
        return self.work_done(self.options.iterations)

    def work_done(self, iteration: int) -> float:
        """Full-size iterations' worth of work done after `iteration` iterations (summed over scales)."""
        done, left = 0.0, iteration
        for s in self.scales:
            n = min(left, s.iterations)
            done += n * (s.side / self.options.size) ** 2
            left -= n
        return done

    def names(self) -> str:
        """Which file is the photo and which the artwork: 'photo a.jpg (400x300), artwork b.jpg (300x300)'."""
        named = [
            f"{Path(n).name} ({im.width}x{im.height})" for n, im in zip(self.inputs.style_names, self.inputs.styles)
        ]
        photo = f"{Path(self.inputs.content_name).name} ({self.inputs.content.width}x{self.inputs.content.height})"
        return f"photo {photo}, artwork{'s' if len(named) > 1 else ''} {', '.join(named)}"

    def describe(self) -> list[str]:
        """The plan for people: one line per scale (px, iterations, whole image or tiles, memory), then the totals."""
        lines = [self.names()]
        for s in self.scales:
            w, h = s.size
            if s is self.scales[-1] and self.projected:
                lines.append(f"{w:>5}x{h:<5} the rung below upsampled, made a locally affine recolouring of the photo")
                continue
            where = f"{len(tiling.layout(h, w, s.tile))} tiles of {s.tile} px" if s.tile else "whole image"
            lines.append(f"{w:>5}x{h:<5} {s.iterations:>4} iterations  {where:<22} ~{s.memory / 2**30:.1f} GiB")
        lines.append(f"{self.options.iterations} iterations; peak memory ~{self.memory / 2**30:.1f} GiB")
        return lines

    def metadata(self, step=None) -> dict[str, str]:
        """Text chunks for a result: version, input file names, every effective setting and, given a
        `Step`, how far the run got and its losses."""
        from ..version import __version__

        out = {
            "version": __version__,
            "content": Path(self.inputs.content_name).name,
            "style": ",".join(Path(n).name for n in self.inputs.style_names),
            **self.options.as_metadata(),
        }
        if step is not None:
            out.update(
                iterations_done=str(step.iteration),
                loss=f"{step.loss:.6g}",
                content_loss=f"{step.content:.6g}",
                style_loss=f"{step.style:.6g}",
            )
        return out


def make_plan(inputs: Inputs, options: Options) -> Plan:
    """Decide the run: resolve `size` 0 to the content's own size, refuse (or with `auto_size`
    shrink) what does not fit in memory, refuse images too narrow for the network, and lay out
    the scales. Raises ResourceError / InputImageError with one line."""
    opts, start = start_for(options.validate(), masks=bool(inputs.masks))
    notes = [start] if start else []
    w, h = inputs.content.size
    if opts.size == 0:
        opts = opts.replace(size=max(w, h))
        seconds, memory = resources.estimate(w, h, opts.lbfgs_history)
        notes.append(
            f"size 0 renders at the content's {w}x{h}: expect about {seconds:.0f} s per iteration at full size "
            f"on a 2-core CPU and {memory / 2**30:.1f} GiB of memory"
        )
    fitted = _fit_memory(opts, output_size(inputs.content, opts.size))
    if fitted.tile != opts.tile:
        notes.append(
            f"the network runs in tiles of {fitted.tile} px to fit in memory (the same result, about twice "
            "the time per iteration; --tile sets it)"
        )
    if fitted.size != opts.size:
        notes.append(f"the output was reduced from {opts.size} to {fitted.size} px to fit in memory")
    opts = fitted
    if inputs.paired_by == "object":
        notes.append(
            f"the automatic regions (--regions {opts.regions}): no areas pair up, but each image shows an object in "
            "front of a background: the photo's object takes the look of the style's, its background the style's "
            "background's"
        )
    _check_shapes(inputs, opts)
    hints = _advice(inputs, opts)
    scales = _lay_out(inputs.content, opts, options.tile > 0)
    seconds = sum(resources.estimate(*s.size, 1, tile=s.tile)[0] * s.iterations for s in scales)
    memory = max(s.memory for s in scales)
    return Plan(opts, inputs, scales, memory=memory, seconds=seconds, notes=tuple(notes), hints=tuple(hints))


def _lay_out(content: Image.Image, opts: Options, tile_every_scale: bool) -> tuple[Scale, ...]:
    """The scales of `schedule`, each on the whole image where it fits in memory, else in the largest
    tiles (TILES, from `opts.tile` up) that fit at that scale; every scale larger than a tile in tiles of
    `opts.tile` when the user chose the tile. Larger tiles repeat less halo: the grid's crops cover
    1.45x the image in tiles of 768 px, 1.7x in tiles of 512."""
    w, h = content.size
    bf16 = _bf16(opts)
    scales = []
    for side, n in schedule(opts, w / h):
        size = output_size(content, side)
        if not n and scales:  # the end's projection takes the rung below to this size, no network (`schedule`)
            scales.append(Scale(side, size, 0, 0, resources.projection_bytes(*size, bf16), 1))
            continue
        history = _history(opts, n, side)
        tile = opts.tile if opts.tile and opts.tile < side else 0
        if tile and not tile_every_scale:
            larger = [t for t in TILES if t > tile and t < side]
            tile = next((t for t in [0, *larger] if resources.fits(*size, history, opts.max_memory, bf16, t)), tile)
        scales.append(Scale(side, size, n, tile, resources.estimate(*size, history, bf16, tile)[1], history))
    return tuple(scales)


def _history(opts: Options, iterations: int, side: int) -> int:
    """Image-sized vector pairs the optimiser keeps over a scale of `iterations` iterations at `side`
    px (L-BFGS adds one pair per iteration, up to its history; PRINT_HISTORY above PRINT_DETAIL)."""
    cap = min(opts.lbfgs_history, PRINT_HISTORY) if side > PRINT_DETAIL else opts.lbfgs_history
    return max(1, min(cap, iterations)) if opts.optimizer == "lbfgs" else 1


def schedule(options: Options, aspect: float = 1.0) -> list[tuple[int, int]]:
    """(long side px, iterations) per scale, coarse to fine.

    With `multiscale` and sizes from MULTISCALE_FROM up, the run starts at `min_scale` px and climbs
    to the size in steps of sqrt(2) (2 above PRINT_DETAIL, `ladder.sides`); iterations fall as side^-1.5
    (1.68x fewer per step up) up to FULL_DETAIL px and stay level above it, so the picture forms
    cheaply at low resolution and each finer scale, costing twice as much per iteration, refines it
    for a little more time than the one before (the default, 512 px, 100 iterations: 46, 28, 16, 10
    from 181 px up; 4096 px: 31 at 181 px ... 7 or 6 at each of 512 to 4096 px; the classic preset,
    220 from 128 px: 97, 57, 34, 20, 12). Every scale starts from the previous result upsampled.
    `aspect` (W/H of the content) drops scales whose short side would be under MIN_SIDE.
    """
    size = options.size
    smallest = max(options.min_scale, math.ceil(MIN_SIDE * max(aspect, 1 / aspect)))
    sides = ladder.sides(size, smallest) if options.multiscale and size >= MULTISCALE_FROM else [size]
    # The end's locally affine recolouring (`affine_radius`) takes the photo's own detail to the output size
    # from the rung below (guided upsampling): the output's rung needs no network iterations.
    projected = bool(options.affine_radius) and len(sides) > 1
    run = sides[:-1] if projected else sides
    shares = [(size / min(side, FULL_DETAIL)) ** ITERATIONS_EXPONENT for side in run]
    exact = [options.iterations * s / sum(shares) for s in shares]
    counts = [int(x) for x in exact]
    for k in sorted(range(len(run)), key=lambda k: int(exact[k]) - exact[k])[: options.iterations - sum(counts)]:
        counts[k] += 1  # the largest remainders, so the counts sum to `iterations`
    if options.iterations >= 2 * MIN_ITERATIONS * len(run):  # the fine scales need a few steps to sharpen
        for k in range(1, len(run)):
            counts[0] -= max(0, MIN_ITERATIONS - counts[k])
            counts[k] = max(counts[k], MIN_ITERATIONS)
    for k in range(1, len(run)):  # print sizes: the finest scales keep the steps that redraw their texture
        need = PRINT_ITERATIONS - counts[k] if run[k] > FULL_DETAIL else 0
        if need > 0 and counts[0] - need >= counts[1]:
            counts[0], counts[k] = counts[0] - need, PRINT_ITERATIONS
    if counts[-1] == 0 and options.iterations > 0:
        counts[0], counts[-1] = counts[0] - 1, 1  # the network's top scale always gets a step
    laid = [(side, n) for side, n in zip(run, counts) if n > 0 or side == run[-1]]
    return [*laid, (size, 0)] if projected else laid


def _check_shapes(inputs: Inputs, opts: Options) -> None:
    """Refuse images too narrow for the network at `opts.size`: the output, and every style image
    at its working size, needs a short side of MIN_SIDE px."""
    size = output_size(inputs.content, opts.size)
    style = style_side(size, opts.style_scale)
    checks = [("content image", inputs.content_name, inputs.content, opts.size)] + [
        ("style image", name, im, style) for name, im in zip(inputs.style_names, inputs.styles)
    ]
    for what, name, image, long_side in checks:
        short = min(output_size(image, long_side))
        if short < MIN_SIDE:
            iw, ih = image.size
            raise InputImageError(
                f"{what} {name}: {iw}x{ih} is too narrow; at {long_side} px its short side "
                f"would be {short} px and the network needs at least {MIN_SIDE}"
            )


STYLE_ENLARGED = 2.0  # a style enlarged more than this for the output gets a hint (a larger scan)
FEW_ITERATIONS = 100  # below this the photo has not formed yet: a picture of pure texture
# Words in file names that say which image is the photograph and which the artwork.
ART_WORDS = ("style", "artwork", "painting", "starry", "scream", "gogh", "monet", "munch", "picasso", "kandinsky")
PHOTO_WORDS = ("photo", "content", "img_", "dsc", "pxl_", "camera")


def start_for(opts: Options, masks: bool = False) -> tuple[Options, str | None]:
    """`opts` with the start image the run can use, and a note when it is not the one asked for:
    fewer than FEW_ITERATIONS from noise start from the photo in the artwork's palette (from noise
    the photo has not formed yet: a picture of pure texture); the palette start becomes the photo in
    its own colours where colours are kept or masks give each style its region."""
    asked, few = opts.init, 0 < opts.iterations < FEW_ITERATIONS and opts.init == "noise"
    if few:
        opts = opts.replace(init="palette")
    why = ""
    if opts.init == "palette" and (opts.preserve_colors != "none" or masks):
        opts = opts.replace(init="content")  # the artwork's palette would undo the kept colours, or mix regions
        why = "the photo's colours are kept" if opts.preserve_colors != "none" else "each style paints its own region"
    if few:
        start = "the photo in the artwork's palette" if not why else f"the photo in its own colours ({why})"
        return opts, (
            f"{opts.iterations} iterations from noise are few (the photo only shows after about {FEW_ITERATIONS}): "
            f"they start from {start}; --iterations {FEW_ITERATIONS} or more starts from noise"
        )
    if why and asked == "palette":
        return opts, f"starts from the photo in its own colours, not the artwork's palette: {why}"
    return opts, None


def _advice(inputs: Inputs, opts: Options) -> list[str]:
    """One-line hints about a run that will probably not give the picture the user wants."""
    notes = []
    size = output_size(inputs.content, opts.size)
    for name, image in zip(inputs.style_names, inputs.styles):
        side, own = style_side(size, opts.style_scale), max(image.size)
        if side > STYLE_ENLARGED * own:
            notes.append(
                f"the style {Path(name).name} is {own} px and is enlarged {side / own:.1f}x to {side} px for this "
                f"{max(size)} px output: its finest texture is its own pixels' (a larger scan of the artwork gives "
                "finer detail at 100%)"
            )
    if pairs_automatically(opts, len(inputs.styles)) and not inputs.regions:
        notes.append(
            f"the automatic regions (--regions {opts.regions}) found no areas that pair up in the two images (the "
            "clusters are speckle, or too small in one of them): the whole style's look everywhere; --labels pairs "
            "regions by hand"
        )
    swapped = _swapped(inputs)
    return [*notes, swapped] if swapped else notes


def _swapped(inputs: Inputs) -> str | None:
    """A hint when the photo and the artwork look swapped: the second image was taken with a camera
    (EXIF) and the first was not, or their names say so."""
    photo, art = Path(inputs.content_name).name, Path(inputs.style_names[0]).name
    comes_first = f"the photograph comes first (painterly PHOTO ARTWORK -o OUT): was {photo} meant as the artwork?"
    cameras = inputs.content.info.get("camera"), inputs.styles[0].info.get("camera")
    if cameras[1] and not cameras[0]:
        return f"{art} was taken with a camera ({cameras[1]}) and {photo} was not: {comes_first}"
    content, style = Path(photo).stem.lower(), Path(art).stem.lower()
    if (
        any(w in content for w in ART_WORDS)
        and not any(w in style for w in ART_WORDS)
        or (any(w in style for w in PHOTO_WORDS) and not any(w in content for w in PHOTO_WORDS))
    ):
        return f"{photo} looks like the artwork and {art} like the photograph: {comes_first}"
    return None


def _bf16(opts: Options) -> bool:
    return network.use_bf16(opts.precision, network.pick_device(opts.device))


def _fit_memory(opts: Options, size: tuple[int, int]) -> Options:
    """`opts` if an output of `size` fits in `max_memory` (or the memory available now); else `opts`
    with the largest tile (TILES) that fits; else, with `auto_size`, `opts` at the largest size
    that fits; else ResourceError naming a size that fits."""
    history = _history(opts, *schedule(opts, size[0] / size[1])[-1][::-1])
    bf16 = _bf16(opts)
    try:
        fits = resources.check_memory(size[0], size[1], history, opts.max_memory, bf16, opts.tile)
    except ResourceError:
        fits = 0  # not even 64 px fits on the whole image: tiles may still
    if fits is None:
        return opts
    for tile in TILES if opts.tile == 0 else ():
        try:
            if tile < max(size) and resources.check_memory(*size, history, opts.max_memory, bf16, tile) is None:
                return opts.replace(tile=tile)
        except ResourceError:
            continue
    if not fits:
        raise ResourceError("not enough memory allowed for any useful size, even in tiles")
    # a smaller size has more iterations at its top scale: suggest one that fits with the full history
    fits = resources.check_memory(size[0], size[1], _history(opts, opts.iterations, 0), opts.max_memory, bf16) or fits
    if opts.auto_size:
        return opts.replace(size=fits)
    need = resources.estimate(size[0], size[1], history, bf16, opts.tile)[1]
    if opts.max_memory is not None:
        limit = f"--max-memory allows {opts.max_memory / 2**30:.1f} GiB"
    else:
        limit = f"this machine has {(resources.available_memory() or 0) / 2**30:.1f} GiB available"
    error = ResourceError(
        f"{size[0]}x{size[1]} needs about {need / 2**30:.1f} GiB{_why_tiles_do_not_fit(opts, size, history, bf16)}; "
        f"{limit}; try --size {fits} (or --auto-size)"
    )
    error.size = fits  # the suggestion, for a front door to say what it costs in time
    raise error


def _why_tiles_do_not_fit(opts: Options, size: tuple[int, int], history: int, bf16: bool) -> str:
    """Why even the smallest tiles do not fit: tiles shrink the network's memory, not the buffers
    of the whole image's size (the image, its gradient, the optimiser's history); and whether
    Adam, which keeps no history, would fit."""
    tile = opts.tile or TILES[-1]
    if tile >= max(size):
        return ""
    tiled = resources.estimate(*size, history, bf16, tile)[1]
    buffers = resources.image_buffer_bytes(*size, history)
    why = (
        f", and {tiled / 2**30:.1f} GiB even in tiles of {tile} px: tiles shrink the network's share, not the "
        f"image-sized buffers (the image, its gradient and {history} L-BFGS pairs: {buffers / 2**30:.1f} GiB)"
        if opts.optimizer == "lbfgs"
        else f", and {tiled / 2**30:.1f} GiB even in tiles of {tile} px (the image-sized buffers alone: "
        f"{buffers / 2**30:.1f} GiB)"
    )
    adam = resources.estimate(*size, 1, bf16, tile)[1]
    if opts.optimizer == "lbfgs" and resources.fits(*size, 1, opts.max_memory, bf16, tile):
        why += f"; --optimizer adam keeps no history and fits ({adam / 2**30:.1f} GiB)"
    return why

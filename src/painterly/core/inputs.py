"""A run's images, decoded once: the content, the styles, and what goes with them (style masks,
a start image, a video's previous frame, paired regions), each checked with a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..errors import OptionsError
from ..media import images
from . import clusters, network, regions
from .options import INITS, Options


@dataclass(frozen=True)
class Inputs:
    """A run's images, each file decoded once (RGB PIL images), with names for messages and metadata."""

    content: Image.Image
    styles: tuple[Image.Image, ...]
    content_name: str
    style_names: tuple[str, ...]
    masks: tuple[Image.Image, ...] | None = None  # one per style: white = where that style goes
    init: Image.Image | None = None  # the start image, when `init` names a file (or, in a video, a frame)
    temporal: tuple[Image.Image, Image.Image] | None = None  # video: the previous result warped, reliable px
    regions: tuple[tuple[Image.Image, Image.Image], ...] | None = None  # --labels' (photo, style) region pairs
    paired_by: str = ""  # how `regions` were found: "labels", or without them "areas" or "object" (`clusters`)


def load_inputs(content: images.ImageSource, style, options: Options, max_pixels: int = images.MAX_PIXELS) -> Inputs:
    """Decode the content, one or more styles (a source or a list of them), the style masks and
    an init image file. Raises InputImageError / OptionsError with one line."""
    sources = list(style) if isinstance(style, list | tuple) else [style]
    content_image = images.load(content, "content image", max_pixels)
    styles = tuple(images.load(s, "style image", max_pixels) for s in sources)
    blend = options.style_blend_weights
    if blend is not None and len(blend) != len(sources):
        raise OptionsError(f"style-weights has {len(blend)} values for {len(sources)} style images")
    masks = None
    if options.style_masks is not None:
        if len(options.style_masks) != len(styles):
            raise OptionsError(f"--style-mask: got {len(options.style_masks)} masks for {len(styles)} style images")
        masks = tuple(images.load(p, "style mask").convert("L").convert("RGB") for p in options.style_masks)
    init = images.load(options.init, "init image") if options.init not in INITS else None
    paired, paired_by = _regions(options, content_image, styles)
    return Inputs(
        content_image,
        styles,
        images.describe(content),
        tuple(images.describe(s) for s in sources),
        masks,
        init,
        regions=paired,
        paired_by=paired_by,
    )


def pairs_automatically(options: Options, styles: int) -> bool:
    """Whether the run's regions come from --regions' clusters: asked for, no --labels, one style."""
    return options.labels is None and bool(options.regions) and styles == 1


def _regions(options: Options, content: Image.Image, styles: tuple[Image.Image, ...]):
    """The (photo, style) region pairs and how they were found: from --labels' images, else from
    --regions' clusters or an object in both images, else (None, "")."""
    if not pairs_automatically(options, len(styles)):
        found = regions.from_files(options.labels, content, styles)
        return found, "labels" if found else ""
    # the run's own network (one per process), which reaches LAYER: not a second copy of the weights
    layers = [*options.content_layers, *options.style_layers, clusters.LAYER]
    net = network.build(options, layers, network.pick_device(options.device))
    pairs, how = clusters.automatic(content, styles[0], options.regions, net)
    return pairs or None, how

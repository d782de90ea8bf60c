"""Paired regions for photo-to-photo transfer (Deep Photo Style Transfer's semantic masks): two label
images, one for the photo and one for the style, where one colour marks one region (sky, buildings,
water); the photo's region of a colour takes the look of the style's region of the same colour.

Label images drawn by hand or saved as JPEG have anti-aliased edges and near-colours: a colour
counts as a label when it covers MIN_LABEL of its image, and every other pixel joins the nearest
label. A label under MIN_REGION of either image, or missing from one of them, is no pair: those
photo pixels take the look of the whole style.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InputImageError, OptionsError
from ..media import images

MIN_LABEL = 0.002  # of an image's pixels: a colour this common is a label, not an edge's blend
MIN_REGION = 0.01  # of both images: a smaller region says too little about its look (DPST's own rule)
BLEND_DISTANCE = 12.0  # 0..255 RGB: a colour this near the segment between two labels is their blend
ASPECT_TOLERANCE = 0.03  # a label image may differ this much in aspect from its image (rounded sizes)


def from_files(
    labels: tuple[str, ...] | None, content: Image.Image, styles: tuple[Image.Image, ...]
) -> tuple[tuple[Image.Image, Image.Image], ...] | None:
    """`--labels`' paired regions (see `paired`) for `content` and its one style, or None."""
    if labels is None:
        return None
    if len(labels) != 2 or len(styles) != 1:
        raise OptionsError(f"--labels takes two label images (the photo's, the style's) and one style image, got "
                           f"{len(labels)} and {len(styles)}")  # fmt: skip
    photo, style = (images.load(path, "label image").convert("RGB") for path in labels)
    return paired(photo, style, content.size, styles[0].size)


def labels(label_image: Image.Image, size: tuple[int, int], what: str) -> dict[tuple[int, ...], np.ndarray]:
    """{label colour: boolean mask [H,W]} of `label_image` at `size` (W, H) (nearest neighbour)."""
    w, h = label_image.size
    if abs((w / h) / (size[0] / size[1]) - 1) > ASPECT_TOLERANCE:
        raise InputImageError(f"{what} is {w}x{h}, its image {size[0]}x{size[1]}: the shapes differ")
    rgb = np.asarray(label_image.convert("RGB").resize(size, Image.Resampling.NEAREST)).reshape(-1, 3)
    colours, inverse, counts = np.unique(rgb, axis=0, return_inverse=True, return_counts=True)
    kept = _labels(colours[counts >= MIN_LABEL * len(rgb)], counts[counts >= MIN_LABEL * len(rgb)])
    if not len(kept):
        raise InputImageError(f"{what} has no colour covering {MIN_LABEL:.1%} of it: not a label image")
    distance = ((colours[:, None, :].astype(float) - kept[None].astype(float)) ** 2).sum(-1)
    nearest = distance.argmin(1)[inverse.ravel()].reshape(size[1], size[0])
    return {tuple(int(v) for v in colour): nearest == k for k, colour in enumerate(kept)}


def _labels(colours: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The colours that are labels, most common first: not a blend of two more common ones (a blurred
    or anti-aliased edge between two regions, which can be a wide band)."""
    kept: list[np.ndarray] = []
    for colour in colours[np.argsort(-counts)].astype(float):
        if not any(_off_segment(colour, a, b) < BLEND_DISTANCE for i, a in enumerate(kept) for b in kept[i + 1 :]):
            kept.append(colour)
    return np.array(kept, dtype=np.uint8).reshape(-1, 3)


def _off_segment(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """How far colour `c` is from the segment between colours `a` and `b`."""
    t = np.clip(np.dot(c - a, b - a) / max(np.dot(b - a, b - a), 1e-9), 0.0, 1.0)
    return float(np.linalg.norm(c - (a + t * (b - a))))


def paired(
    photo_labels: Image.Image, style_labels: Image.Image, photo_size: tuple[int, int], style_size: tuple[int, int]
) -> tuple[tuple[Image.Image, Image.Image], ...]:
    """(photo region, style region) masks ("L", white = in) at the photo's and the style's sizes, one
    per label both images share; the photo's other pixels, if any, paired with the whole style."""
    photo = labels(photo_labels, photo_size, "the photo's label image")
    style = labels(style_labels, style_size, "the style's label image")
    pairs = pair(photo, style)
    if not pairs:
        raise InputImageError("the label images share no region (no colour covers 1 % of both)")
    return pairs


def pair(
    photo: dict[object, np.ndarray], style: dict[object, np.ndarray]
) -> tuple[tuple[Image.Image, Image.Image], ...]:
    """(photo region, style region) masks ("L", white = in), one per label both {label: boolean mask
    [H,W]} share that covers MIN_REGION of both images, and the photo's other pixels, if any, paired
    with the whole style; () when no label pairs."""
    photo_shape, style_shape = next(iter(photo.values())).shape, next(iter(style.values())).shape
    pairs, rest = [], np.ones(photo_shape, bool)
    for label, region in photo.items():
        other = style.get(label)
        if other is not None and region.mean() >= MIN_REGION and other.mean() >= MIN_REGION:
            pairs.append((region, other))
            rest &= ~region
    if not pairs:
        return ()
    if rest.mean() > 0:
        pairs.append((rest, np.ones(style_shape, bool)))
    return tuple((_mask(a), _mask(b)) for a, b in pairs)


def borders(grid: np.ndarray) -> float:
    """The share of neighbouring positions (across and down) of a [h,w] grid of cluster numbers that differ."""
    return float((np.mean(grid[1:] != grid[:-1]) + np.mean(grid[:, 1:] != grid[:, :-1])) / 2)


def _mask(region: np.ndarray) -> Image.Image:
    return Image.fromarray(region.astype(np.uint8) * 255, "L")

"""An object in front of a background, found without a label image (issue 41): a teapot on a window
sill does not split into areas the joint clusters can pair (`clusters`), but it is what differs from
the picture's frame.

The frame prior of salient-object detection: the background is what the image's border shows, so
each feature position's distance to its nearest border positions (in the joint reduced features
`clusters` makes) says how much it belongs to an object; Otsu's threshold splits the distances,
and the largest connected part, holes filled, is the object. It counts only as an object when it
is one compact area (`clusters.COHERENT`), neither a speck nor most of the picture, and off the
frame. The deep features' grid (8 px at 512 px) and their wide view make the area a little too
large, so its outline is re-drawn by colour: a band around it takes the colour of the nearer of the
object's and the background's own colours (k-means in CIELAB).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import regions

RING = 2  # feature positions from the border that show the background
NEAREST = 8  # border positions a position's distance is the mean of (one odd border position does not count)
AREA = (0.1, 0.7)  # an object's share of its image: smaller is a speck, larger the picture itself
FRAME = 0.1  # at most this share of the outermost positions may be the object (it stands in front, inside)
OUTLINE_SIDE = 512  # px: the long side the outline is re-drawn at
BAND = 2  # feature positions either side of the deep outline whose pixels are decided by colour
COLOURS = 4  # k-means colours for the object and for the background
SAMPLE = 8  # every SAMPLE-th pixel of a side gives its colours (a 512 px image has tens of thousands)
RESTARTS = 4


def find(reduced: np.ndarray, image: Image.Image, *, coherent: float) -> np.ndarray | None:
    """The object's boolean mask [H,W] at `image`'s size, from its [h,w,D] reduced deep features, or
    None when the image shows no single object in front of a background (`coherent`: the largest
    share of neighbouring positions on either side of its outline, `regions.borders`)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    h, w, _ = reduced.shape
    frame = np.zeros((h, w), bool)
    frame[:RING], frame[-RING:], frame[:, :RING], frame[:, -RING:] = True, True, True, True
    flat = reduced.reshape(h * w, -1)
    squared = ((flat[:, None, :] - flat[frame.ravel()][None]) ** 2).sum(-1)
    distance = np.sqrt(np.sort(squared, 1)[:, :NEAREST].mean(1)).reshape(h, w)
    mask = ndimage.binary_fill_holes(ndimage.binary_opening(distance > threshold_otsu(distance)))
    parts, count = ndimage.label(mask)
    if not count:
        return None
    mask = parts == 1 + int(np.argmax(ndimage.sum(mask, parts, range(1, count + 1))))
    edge = np.zeros((h, w), bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    compact = regions.borders(mask.astype(int)) <= coherent
    if not AREA[0] <= mask.mean() <= AREA[1] or mask[edge].mean() > FRAME or not compact:
        return None
    return _outline(mask, image)


def _outline(mask: np.ndarray, image: Image.Image) -> np.ndarray:
    """`mask` ([h,w] on the feature grid) re-drawn by colour at `image`'s size: [H,W] bool."""
    from scipy import ndimage
    from scipy.cluster.vq import kmeans, vq
    from skimage.color import rgb2lab

    w, h = image.size
    scale = OUTLINE_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    coarse = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 127
    band = max(1, round(BAND * size[0] / mask.shape[1]))
    inside = ndimage.binary_erosion(coarse, iterations=band)
    outside = ~ndimage.binary_dilation(coarse, iterations=max(1, band // 2))
    lab = rgb2lab(np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR)) / 255.0).reshape(-1, 3)
    if inside.sum() < COLOURS or outside.sum() < COLOURS:
        fine = coarse
    else:
        # the colours from every SAMPLE-th pixel of each side, the best of RESTARTS k-means runs
        near = [vq(lab, kmeans(lab[where.ravel()][::SAMPLE], COLOURS, iter=RESTARTS, seed=0)[0])[1]
                for where in (inside, outside)]  # fmt: skip
        fine = np.where(inside, True, np.where(outside, False, (near[0] < near[1]).reshape(coarse.shape)))
        fine = ndimage.binary_fill_holes(ndimage.binary_opening(fine, iterations=2))
    return np.asarray(Image.fromarray(fine.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 127

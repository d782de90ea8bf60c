"""Paired regions found without label images: both images' deep features clustered together, so the
photo's sky pairs with the style's sky and its buildings with the style's buildings (issue 41).

Each image goes through VGG-19 to `LAYER` at `SIDE` px; every feature position is standardised per
image (each channel's mean and spread over that image removed, so day and night, or two palettes,
do not separate the clusters: what is left is what the position shows), the two images' positions
are reduced to `DIMENSIONS` principal components together and split into k clusters (k-means, the
best of RESTARTS, a fixed seed). A cluster is a region of both images; one under
`regions.MIN_REGION` of either image takes the whole style, as a label image's would. Measured
against Deep Photo Style Transfer's hand-made masks (docs/NOTES.md, "pairing purity"): standardised
conv4_1 features pair better than colours, conv3_1 or conv5_1.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import objects, regions, vgg

LAYER = "conv4_1"  # stride 8: a 64-position grid on the long side at SIDE
SIDE = 512  # px: the images' long side for the features
DIMENSIONS = 16  # principal components kept of the 512 channels
SEED = 0
RESTARTS = 10  # k-means runs from different starts; the one with the least distortion is kept (one run is unstable)
# Share of neighbouring feature positions in different clusters of a split into two, above which an image
# does not split into areas and its clusters are speckle: both skylines of a sky over a city split into two
# areas, a plain teapot in front of a window does not, and pairing such speckle painted the wrong parts
# (docs/NOTES.md, "Photo look transfer: 85 iterations, and two regions where there is a sky").
COHERENT = 0.05


def automatic(
    photo: Image.Image, style: Image.Image, count: int, net: vgg.VGG19
) -> tuple[tuple[tuple[Image.Image, Image.Image], ...], str]:
    """(photo region, style region) masks ("L", white = in) at the images' sizes, and how they were found:
    from `count` joint clusters of the two images' `LAYER` features (`net` reaches it), "areas"; when
    either image's split into two clusters is speckle rather than areas (`COHERENT`), an object in front
    of a background in both images, object to object (`objects`), "object"; else ((), "") (no cluster
    covers MIN_REGION of both images, or no object: the whole style everywhere)."""
    from scipy.cluster.vq import kmeans, vq  # here: scipy's import would slow every run's start, most never pair

    a, b = features(photo, net), features(style, net)
    both = np.concatenate([a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])]).astype(np.float64)
    both -= both.mean(0)
    _, _, axes = np.linalg.svd(both, full_matrices=False)
    reduced = both @ axes[:DIMENSIONS].T

    def split(k: int) -> tuple[np.ndarray, np.ndarray]:  # each image's [h,w] grid of k joint clusters
        centres, _ = kmeans(reduced, k, iter=RESTARTS, seed=SEED)  # the best of RESTARTS runs
        label, _ = vq(reduced, centres)
        cut = a.shape[0] * a.shape[1]
        return label[:cut].reshape(a.shape[:2]), label[cut:].reshape(b.shape[:2])

    grids = split(count)
    if max(regions.borders(g) for g in (grids if count == 2 else split(2))) <= COHERENT:
        photo_masks, style_masks = (_masks(g, im.size, count) for g, im in zip(grids, (photo, style)))
        pairs = regions.pair(photo_masks, style_masks)
        return pairs, "areas" if pairs else ""
    # the two images do not split into areas (pairing clusters would pair speckle): one object in each?
    cut = a.shape[0] * a.shape[1]
    grid_a, grid_b = reduced[:cut].reshape(*a.shape[:2], -1), reduced[cut:].reshape(*b.shape[:2], -1)
    found = objects.find(grid_a, photo, coherent=COHERENT), objects.find(grid_b, style, coherent=COHERENT)
    if found[0] is None or found[1] is None:
        return (), ""
    pairs = regions.pair({1: found[0], 0: ~found[0]}, {1: found[1], 0: ~found[1]})
    return pairs, "object" if pairs else ""


def features(image: Image.Image, net: vgg.VGG19) -> np.ndarray:
    """`LAYER`'s features of `image` at SIDE px, standardised per channel over the image: [h, w, C]."""
    w, h = image.size
    scale = SIDE / max(w, h)
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    device = next(net.parameters()).device
    x = torch.from_numpy(np.array(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))).to(device)
    with torch.no_grad():
        f = net(vgg.preprocess(x.permute(2, 0, 1)[None].float() / 255), [LAYER])[LAYER][0].float()
    f = f.flatten(1).T.cpu().numpy().reshape(f.shape[1], f.shape[2], -1)
    return (f - f.mean((0, 1))) / (f.std((0, 1)) + 1e-3)


def _masks(grid: np.ndarray, size: tuple[int, int], count: int) -> dict[int, np.ndarray]:
    """{cluster: boolean mask [H,W]} at `size` (W, H) from a [h,w] grid of cluster numbers."""
    full = np.asarray(Image.fromarray(grid.astype(np.uint8)).resize(size, Image.Resampling.NEAREST))
    return {k: full == k for k in range(count)}

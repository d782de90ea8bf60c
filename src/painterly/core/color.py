"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer"), with scikit-image's colour spaces and histogram matching.

- `histogram`: the style image's colour histogram is matched to the content's before transfer.
- `luminance`: transfer runs on luminance only (content and style as gray images, the style's
  luminance matched in mean and spread to the content's); the result's lightness is then
  combined with the content's chroma in CIELAB.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from skimage import color, exposure


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _image(array: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(array, 0, 1) * 255.0).round().astype(np.uint8), "RGB")


def match_histogram(style: Image.Image, content: Image.Image) -> Image.Image:
    """`style` with each RGB channel's histogram matched to `content`'s."""
    return _image(exposure.match_histograms(_array(style), _array(content), channel_axis=-1))


PALETTE_PIXELS = 256 * 256  # of the artworks, sampled for their palette


def palette(
    photo: Image.Image,
    styles: list[Image.Image],
    weights: list[float] | None = None,
    regions: Sequence[tuple[Image.Image, Image.Image]] | None = None,
) -> Image.Image:
    """`photo` in the artworks' palette: each RGB channel's histogram matched to the styles' pixels
    (several styles in proportion to their blend `weights`, default equal). The start image of
    `--init palette`: the photo's shapes in the artwork's colours from the first iteration.

    With paired `regions` ((photo mask, style mask), "L" at any size, white = in; one style), each
    region of the photo takes the palette of its style region: a sky the style's sky's colours, not
    the ground's (a whole-image match can give the photo's sky the colours of the style's lit streets)."""
    if regions:
        return _regional_palette(photo, styles[0], regions)
    weights = weights or [1.0] * len(styles)
    pixels = [_sample(s, PALETTE_PIXELS * w / sum(weights)).reshape(-1, 1, 3) for s, w in zip(styles, weights) if w > 0]
    return _image(exposure.match_histograms(_array(photo), np.concatenate(pixels), channel_axis=-1))


def _regional_palette(
    photo: Image.Image, style: Image.Image, regions: Sequence[tuple[Image.Image, Image.Image]]
) -> Image.Image:
    """`photo` with each paired region's RGB histograms matched to its style region's."""
    out = _array(photo)
    sample = _sample(style, PALETTE_PIXELS)
    for photo_mask, style_mask in regions:
        inside = _inside(photo_mask, photo.size)
        source = _inside(style_mask, sample.shape[1::-1])
        if inside.any() and source.any():
            matched = exposure.match_histograms(out[inside][:, None], sample[source][:, None], channel_axis=-1)
            out[inside] = matched[:, 0]
    return _image(out)


def _sample(style: Image.Image, pixels: float) -> np.ndarray:
    """`style` as an RGB 0..1 array [h,w,3] of at most `pixels` pixels (its palette, cheaply)."""
    w, h = style.size
    scale = min(1.0, (pixels / (w * h)) ** 0.5)
    return _array(style.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR))


def _inside(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A region mask ("L", white = in) as booleans [H,W] at `size` (W, H)."""
    return np.asarray(mask.convert("L").resize(tuple(size), Image.Resampling.NEAREST)) > 127


def luminance(image: Image.Image) -> Image.Image:
    """The image's CIELAB lightness as a gray RGB image."""
    lightness = color.rgb2lab(_array(image))[..., 0] / 100.0
    return _image(np.repeat(lightness[..., None], 3, axis=-1))


def luminance_matched(style: Image.Image, content: Image.Image) -> Image.Image:
    """The style's luminance, shifted and scaled to the content's luminance mean and spread."""
    s = color.rgb2lab(_array(style))[..., 0]
    c = color.rgb2lab(_array(content))[..., 0]
    matched = (s - s.mean()) * (c.std() / max(s.std(), 1e-6)) + c.mean()
    return _image(np.repeat(matched[..., None] / 100.0, 3, axis=-1))


def combine_luminance(result: torch.Tensor, content: Image.Image) -> torch.Tensor:
    """Lightness of `result` (a gray-ish RGB tensor [1,3,H,W] in 0..1) with `content`'s a*, b*."""
    rgb = result.detach()[0].permute(1, 2, 0).cpu().double().clamp(0, 1).numpy()
    h, w = rgb.shape[:2]
    chroma = color.rgb2lab(_array(content.resize((w, h), Image.LANCZOS)))
    lab = np.concatenate([color.rgb2lab(rgb)[..., :1], chroma[..., 1:]], axis=-1)
    with warnings.catch_warnings():
        # The photo's chroma on another lightness leaves the RGB gamut in places; scikit-image clips
        # those colours and warns about it at every iteration. Clipping is what we want.
        warnings.filterwarnings("ignore", message=".*negative Z values", category=UserWarning)
        out = np.clip(color.lab2rgb(lab), 0, 1)
    return torch.from_numpy(out).permute(2, 0, 1).unsqueeze(0).to(result.dtype)


def prepare(content: Image.Image, styles: list[Image.Image], method: str) -> tuple[Image.Image, list[Image.Image]]:
    """The images the network sees for colour preservation `method` (none, luminance, histogram):
    histogram-matched styles, or luminance-only content and styles."""
    if method == "histogram":
        return content, [match_histogram(s, content) for s in styles]
    if method == "luminance":
        return luminance(content), [luminance_matched(s, content) for s in styles]
    return content, styles

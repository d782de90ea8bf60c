"""Artist controls: each must have a measurable effect in the right direction."""

import math

import numpy as np
import pytest
from PIL import Image
from skimage import color

import painterly
from conftest import artwork_like, photo_like
from painterly.core import losses

TINY = dict(size=48, iterations=25)


def red_artwork() -> Image.Image:
    """Strongly red/magenta strokes: far from the photo's blue/green palette."""
    a = np.asarray(artwork_like(), np.float32)
    return Image.fromarray(np.stack([a[..., 1], a[..., 2] * 0.2, a[..., 0] * 0.6], -1).astype(np.uint8))


def mean_chroma(image: Image.Image) -> np.ndarray:
    return color.rgb2lab(np.asarray(image.convert("RGB")) / 255.0)[..., 1:].reshape(-1, 2).mean(0)


@pytest.mark.parametrize("method", ["luminance", "histogram"])
def test_colour_preservation_keeps_the_photos_chroma(method):
    content = photo_like()
    plain = painterly.stylize(content, red_artwork(), **TINY)
    kept = painterly.stylize(content, red_artwork(), preserve_colors=method, **TINY)
    target = mean_chroma(content.resize(plain.size))
    off_plain = np.linalg.norm(mean_chroma(plain) - target)
    off_kept = np.linalg.norm(mean_chroma(kept) - target)
    assert off_kept < off_plain / 2
    assert off_kept < 12


def test_blend_weights_one_zero_equal_single_style():
    content, a, b = photo_like(), artwork_like(seed=1), red_artwork()
    single = painterly.stylize(content, a, **TINY)
    blended = painterly.stylize(content, [a, b], style_blend_weights=(1, 0), **TINY)
    assert np.array_equal(np.asarray(single), np.asarray(blended))
    other = painterly.stylize(content, [a, b], style_blend_weights=(1, 1), **TINY)
    assert not np.array_equal(np.asarray(single), np.asarray(other))


def test_tv_weight_smooths_the_result():
    import torch

    rough = painterly.stylize(photo_like(), artwork_like(), **TINY)
    smooth = painterly.stylize(photo_like(), artwork_like(), tv_weight=3000.0, **TINY)

    def tv(image):
        return losses.tv_loss(torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)[None]).item()

    assert tv(smooth) < 0.8 * tv(rough), (tv(smooth), tv(rough))


def dominant_wavelength(image: Image.Image) -> float:
    """Power-weighted mean wavelength (px) of the image's luminance spectrum (DC removed)."""
    g = np.asarray(image.convert("L"), np.float64)
    power = np.abs(np.fft.fft2(g - g.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(g.shape[0]), np.fft.fftfreq(g.shape[1]), indexing="ij")
    radius = np.hypot(fy, fx)
    mask = radius > 0
    return float((power[mask] / radius[mask]).sum() / power[mask].sum())


def test_style_scale_changes_stroke_size():
    style = artwork_like(96, 96)
    small = painterly.stylize(photo_like(), style, size=64, iterations=40, style_scale=0.5)
    large = painterly.stylize(photo_like(), style, size=64, iterations=40, style_scale=2.0)
    assert dominant_wavelength(large) > 1.2 * dominant_wavelength(small)


def test_adam_also_lowers_the_objective():
    start = list(painterly.stylize_iter(photo_like(), artwork_like(), size=48, iterations=0))[-1].loss
    steps = list(painterly.stylize_iter(photo_like(), artwork_like(), size=48, iterations=60, optimizer="adam"))
    assert steps[-1].loss < start / 3


def test_masks_keep_each_region_closer_to_its_own_style(tmp_path):
    import torch

    from painterly.core import network
    from painterly.media import images

    blue, red = artwork_like(seed=3), red_artwork()
    left = np.zeros((48, 64), np.uint8)
    left[:, :32] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(255 - left).save(tmp_path / "right.png")
    out = painterly.stylize(
        photo_like(),
        [blue, red],
        size=64,
        iterations=40,
        style_masks=(str(tmp_path / "left.png"), str(tmp_path / "right.png")),
    )
    net = network.build(painterly.Options(), ["conv2_1"], torch.device("cpu"))

    def gram(image):
        from painterly.core.vgg import preprocess

        with torch.no_grad():
            f = net(preprocess(images.to_tensor(image)), ["conv2_1"])["conv2_1"]
        return losses.gram(f) / (f.shape[2] * f.shape[3])

    g_blue, g_red = gram(blue), gram(red)
    g_left, g_right = gram(out.crop((0, 0, 28, 48))), gram(out.crop((36, 0, 64, 48)))
    assert (g_left - g_blue).norm() < (g_left - g_red).norm()
    assert (g_right - g_red).norm() < (g_right - g_blue).norm()


def test_wrong_number_of_masks_is_an_options_error(tmp_path):
    Image.new("L", (8, 8), 255).save(tmp_path / "m.png")
    with pytest.raises(painterly.OptionsError, match="1 masks for 2 style images"):
        painterly.stylize(
            photo_like(), [artwork_like(), red_artwork()], size=32, iterations=1, style_masks=(str(tmp_path / "m.png"),)
        )


def test_style_layer_weights_choose_which_statistics_are_matched():
    import torch

    from painterly.core.objective import build

    content, style = photo_like(), artwork_like()
    shallow = painterly.stylize(content, style, style_layer_weights=(1, 0, 0, 0, 0), **TINY)
    deep = painterly.stylize(content, style, style_layer_weights=(0, 0, 0, 0, 1), **TINY)
    opts = painterly.Options(size=48, style_layers=("conv1_1",))
    objective = build(content, [style], opts, shallow.size, torch.device("cpu"))

    def conv1_1_style_loss(image):
        with torch.no_grad():
            return objective(painterly.media.images.to_tensor(image)).style

    assert conv1_1_style_loss(shallow) < conv1_1_style_loss(deep) / 2


def test_several_content_layers_and_init_from_file(tmp_path):
    content, style = photo_like(), artwork_like()
    init = tmp_path / "init.png"
    content.save(init)
    steps = list(
        painterly.stylize_iter(
            content, style, size=48, iterations=0, init=str(init), content_layers=("conv2_2", "conv4_2")
        )
    )
    assert steps[-1].content == 0.0  # started from the photo itself
    balanced = dict(size=48, iterations=40, style_weight=1.0)  # content matters at this ratio
    fine = painterly.stylize(content, style, content_layers=("conv2_2",), **balanced)
    coarse = painterly.stylize(content, style, content_layers=("conv4_2",), **balanced)
    target = np.asarray(content.resize(fine.size), np.float32)
    # matching a shallow layer keeps the photo's pixels much closer
    assert np.abs(np.asarray(fine, np.float32) - target).mean() < np.abs(np.asarray(coarse, np.float32) - target).mean()


def test_each_range_is_declared_once_and_every_door_keeps_inside_it():
    """An option's range is its declaration's `within`: validation refuses a value just outside it with
    a one-line message, and a web control may narrow it (a slider's ends) but never reach outside."""
    from painterly.core.declare import Control
    from painterly.core.options import SPECS

    ranged = [s for s in SPECS if s.within is not None]
    assert {"iterations", "seed", "tv_weight", "style_scale", "affine_radius", "min_scale"} <= {s.name for s in ranged}
    for spec in ranged:
        low, high = spec.within
        step = 1 if spec.kind == "int" else 0.01
        outside = [low - step] + ([high + step] if math.isfinite(high) else [math.nan])
        for value in outside:
            with pytest.raises(painterly.OptionsError, match=f"^{spec.key.replace('_', '-')} must be"):
                painterly.Options().replace(**{spec.name: value})
        c = spec.web if isinstance(spec.web, Control) else None
        if c is not None:
            assert c.minimum is None or low <= c.minimum, spec.name
            assert c.maximum is None or c.maximum <= high, spec.name

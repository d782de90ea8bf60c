"""The fast defaults (issue "Fast and clean") and the paper preset that keeps the paper's method."""

from __future__ import annotations

import pytest
import torch

import painterly
from conftest import artwork_like, photo_like
from painterly.core import evaluate, losses, network, vgg
from painterly.core.objective import build
from painterly.core.plan import schedule
from painterly.core.presets import with_preset
from painterly.media import images


def test_paper_preset_is_the_papers_method():
    paper = with_preset("paper")
    assert schedule(paper) == [(512, 1000)]  # one scale
    assert (paper.init, paper.optimizer, paper.line_search) == ("noise", "lbfgs", True)
    assert (paper.content_weight, paper.style_weight) == (1.0, 1e3)  # alpha/beta = 1e-3
    assert paper.content_weights_per_layer() == {"conv4_2": 1.0}
    assert paper.style_weights_per_layer() == {f"conv{b}_1": 0.2 for b in range(1, 6)}  # w_l = 1/5
    assert (paper.balance_layers, paper.print_balance, paper.tv_weight, paper.precision) == (False, False, 0.0, "fp32")
    assert (paper.pooling, paper.network) == ("avg", "plain")


@pytest.mark.numerics
def test_balancing_makes_the_style_layers_count_alike():
    opts = painterly.Options(size=64)
    objective = build(photo_like(), [artwork_like()], opts, (64, 48), torch.device("cpu"))
    start = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))

    def contributions():
        with torch.no_grad():
            feats = objective.features(start, list(objective.style_layers))
            return [w * float(objective._style_loss(feats, k)) for k, w in objective.style_layers.items()]

    before = contributions()
    evaluate.balance(objective, start)
    after = contributions()
    assert sum(after) == pytest.approx(sum(before), rel=1e-3)  # the same style loss in total
    assert max(after) / min(after) < (max(before) / min(before)) ** 0.5  # much closer to equal


@pytest.mark.numerics
def test_style_loss_gradient_is_the_papers_eq6():
    torch.manual_seed(0)
    features = torch.rand(1, 16, 6, 5).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    target = losses.gram(torch.rand(1, 16, 6, 5))
    loss = losses.style_layer_loss(features, target)
    loss.backward()
    f = features.detach().reshape(16, -1)
    expected = ((f @ f.t() - target) @ f / (16**2 * 30**2)).reshape(1, 16, 6, 5)  # eq. 6 for F > 0
    assert torch.allclose(features.grad, expected, rtol=1e-4, atol=1e-9)
    reference = (losses.gram(features.detach()) - target).pow(2).sum() / (4 * 16**2 * 30**2)
    assert torch.allclose(loss, reference, rtol=1e-5)


def test_a_bf16_network_s_style_loss_and_gradient_stay_within_a_percent_of_fp32():
    """The Gram and (G - A) F run in the network's bf16 (twice as fast as fp32 where bf16 is native):
    the loss the optimiser sees and its gradient stay those of the fp32 features."""
    torch.manual_seed(0)
    features = torch.rand(1, 64, 24, 32).contiguous(memory_format=torch.channels_last)
    target = losses.gram(torch.rand(1, 64, 24, 32) * 1.2)
    results = []
    for dtype in (torch.float32, torch.bfloat16):
        f = features.to(dtype).detach().requires_grad_(True)
        loss = losses.style_layer_loss(f, target)
        loss.backward()
        assert loss.dtype == torch.float32 and f.grad.dtype == dtype
        results.append((float(loss.detach()), f.grad.float()))
    (exact, exact_grad), (fast, fast_grad) = results
    assert fast == pytest.approx(exact, rel=0.01)
    assert float((fast_grad - exact_grad).norm() / exact_grad.norm()) < 0.02


@pytest.fixture
def pretend_cpu(monkeypatch, tmp_path):
    """Make this machine look like another CPU kind: its /proc/cpuinfo flags, the ISA torch's kernels
    run at and what the bf16 calibration would measure there (its cache in a fresh folder). Returns the
    setter and the list of calibrations run (True = a bf16 timing)."""
    calibrations: list[bool] = []

    def pretend(flags, isa="AVX512", fp32_s=1.0, bf16_s=0.5, onednn_limit=None):
        monkeypatch.setattr(network, "cpu_flags", lambda: set(flags))
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: isa)
        if onednn_limit:
            monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", onednn_limit)
        else:
            monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        monkeypatch.setattr(
            network, "_conv_seconds", lambda bf16: calibrations.append(bf16) or (bf16_s if bf16 else fp32_s)
        )
        network.cpu_bf16_pays.cache_clear()

    monkeypatch.setattr(vgg, "cache_dir", lambda: tmp_path)
    yield pretend, calibrations
    network.cpu_bf16_pays.cache_clear()


# Flag sets of the CPU kinds seen, with the bf16/fp32 time ratio a calibration measured there.
AVX2_EPYC = {"avx", "avx2", "fma"}
SKYLAKE_AVX512 = AVX2_EPYC | {"avx512f", "avx512bw"}
ZEN4 = SKYLAKE_AVX512 | {"avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN4 | {"amx_bf16", "amx_tile"}


@pytest.mark.numerics
@pytest.mark.parametrize(
    ("flags", "isa", "bf16_s", "expected"),
    [
        (AVX2_EPYC, "AVX2", 12.0, False),  # no native bf16: never calibrated, fp32
        (SKYLAKE_AVX512, "AVX512", 12.0, False),  # AVX-512 without bf16 emulates it too
        (ZEN4, "AVX512", 1 / 1.8, True),  # 1.8x measured on a Zen 4
        (SAPPHIRE_RAPIDS, "AVX512", 1 / 4.4, True),  # 4.4x with AMX
        (ZEN4, "AVX512", 1 / 1.1, False),  # native, but the calibration finds too little gain
        (SAPPHIRE_RAPIDS, "AVX2", 1 / 4.4, False),  # ATEN_CPU_CAPABILITY=avx2: AVX2 kernels
    ],
)
def test_auto_precision_on_every_cpu_kind(pretend_cpu, flags, isa, bf16_s, expected):
    pretend, calibrations = pretend_cpu
    pretend(flags, isa, bf16_s=bf16_s)
    opts = painterly.Options()
    assert network.use_bf16(opts.precision, torch.device("cpu")) is expected
    assert calibrations == ([] if isa == "AVX2" or "avx512_bf16" not in flags else [False, True])
    assert network.use_bf16("fp32", torch.device("cpu")) is False  # asked for: obeyed
    assert network.use_bf16("bf16", torch.device("cpu")) is True


@pytest.mark.numerics
def test_the_calibration_is_kept_per_kernel_isa(pretend_cpu):
    pretend, calibrations = pretend_cpu
    pretend(SAPPHIRE_RAPIDS, bf16_s=0.25)
    assert network.cpu_bf16_pays()
    pretend(SAPPHIRE_RAPIDS, bf16_s=0.25)  # a new process on the same machine: read from the cache
    assert network.cpu_bf16_pays() and calibrations == [False, True]
    # the same machine held to AVX2 kernels (ONEDNN_MAX_CPU_ISA=AVX2) must not reuse the AMX answer
    pretend(SAPPHIRE_RAPIDS, onednn_limit="AVX2")
    assert not network.cpu_bf16_pays() and calibrations == [False, True]
    pretend(SAPPHIRE_RAPIDS, onednn_limit="AVX512_CORE_AMX", bf16_s=2.0)  # another setting: measured anew
    assert not network.cpu_bf16_pays() and calibrations == [False, True, False, True]


@pytest.mark.numerics
def test_cuda_runs_bf16_where_the_gpu_supports_it(monkeypatch):
    opts = painterly.Options()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert network.pick_device("auto").type == "cuda"
    for supported in (True, False):  # e.g. an H100, a V100
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda s=supported: s)
        assert network.use_bf16(opts.precision, torch.device("cuda")) is supported
    assert not network.use_bf16("fp32", torch.device("cuda"))


@pytest.mark.numerics
@pytest.mark.parametrize(("flags", "dtype"), [(SAPPHIRE_RAPIDS, torch.bfloat16), (AVX2_EPYC, torch.float32)])
def test_a_render_runs_its_network_in_the_chosen_precision(pretend_cpu, flags, dtype):
    pretend, _ = pretend_cpu
    pretend(flags, "AVX512" if dtype == torch.bfloat16 else "AVX2", bf16_s=0.25)
    objective = build(
        photo_like(32, 24), [artwork_like(32, 32)], painterly.Options(size=32), (32, 24), torch.device("cpu")
    )
    feats = objective.features(torch.rand(1, 3, 24, 32), ["conv1_1", "conv4_2"])
    assert {f.dtype for f in feats.values()} == {dtype}
    assert objective(torch.rand(1, 3, 24, 32)).total.dtype == torch.float32  # losses stay float32


@pytest.mark.numerics
def test_fixed_step_lbfgs_converges_from_noise_with_one_evaluation_per_iteration():
    steps = list(painterly.stylize_iter(photo_like(), artwork_like(), size=64, iterations=40))
    assert steps[-1].loss * 10 < steps[0].loss
    assert steps[-1].evaluations <= 40 + 10  # the first steps search; after that one pass per iteration


def test_the_memory_guard_knows_bf16_needs_less():
    from painterly.core import resources

    bf16 = resources.estimate(2048, 1536, 20, bf16=True)[1]
    fp32 = resources.estimate(2048, 1536, 20, bf16=False)[1]
    assert bf16 < 8 * 2**30 < fp32  # a 2048 px bf16 render (6.95 GiB measured) passes --max-memory 8G
    assert bf16 > 6.95 * 2**30  # and the estimate stays above what was measured


@pytest.mark.numerics
def test_an_enlarged_style_gives_its_fine_texture_from_its_own_pixels():
    """A 64 px style for a 256 px output is enlarged 4x: conv1_1-conv4_1 match the style's own pixels
    (an enlarged scan's texture is blur: bench/print_look.py), conv5_1 (the strokes' layout) the enlarged one."""
    from painterly.core import features
    from painterly.core.objective import FINE_LAYERS

    opts = painterly.Options(size=256, precision="fp32")
    style = artwork_like(64, 64)
    objective = build(photo_like(256, 192), [style], opts, (256, 192), torch.device("cpu"))
    own, enlarged = (images.to_tensor(s) for s in (style, style.resize((256, 256), images.RESAMPLE)))

    def per_position(image, layer):
        g = features.grams(objective.features, image, [layer], 0)[layer]
        return g / (image.shape[2] // 2 ** (int(layer[4]) - 1)) / (image.shape[3] // 2 ** (int(layer[4]) - 1))

    def target(layer):  # the objective's A per position (its output's positions)
        h, w = 192 // 2 ** (int(layer[4]) - 1), 256 // 2 ** (int(layer[4]) - 1)
        return objective.style_targets[layer] / (h * w)

    assert set(objective.style_layers) - set(FINE_LAYERS) == {"conv5_1"}
    for layer in objective.style_layers:
        source = own if layer in FINE_LAYERS else enlarged
        assert torch.allclose(target(layer), per_position(source, layer), rtol=1e-4, atol=1e-6), layer
    assert not torch.allclose(per_position(own, "conv1_1"), per_position(enlarged, "conv1_1"), rtol=1e-2)
    large = build(photo_like(256, 192), [artwork_like(300, 300)], opts, (256, 192), torch.device("cpu"))
    assert torch.allclose(
        large.style_targets["conv1_1"] / (192 * 256),
        per_position(images.to_tensor(artwork_like(300, 300).resize((256, 256), images.RESAMPLE)), "conv1_1"),
        rtol=1e-4,
        atol=1e-6,
    )  # a style as large as the output is used as before


def test_a_print_keeps_the_balance_of_2048_px():
    """Eq. 1 and TV sum over positions, the style loss does not: at fixed weights a 4096 px print would
    weigh the photo and the smoothing 4x more than the same render at 2048 px. Above 2048 px alpha and the
    TV weight fall with the pixels, so the balance stays; up to 2048 px they are as given (strips: cheap)."""
    opts = painterly.Options(size=4096, precision="fp32", content_weight=2.0, tv_weight=8.0)
    style = artwork_like(2048, 16)

    def weights(w: int) -> tuple[float, float]:
        objective = build(photo_like(w, 24), [style], opts, (w, 24), torch.device("cpu"))
        return objective.weights.content, objective.weights.tv

    assert weights(2048) == pytest.approx((2.0, 8.0))
    assert weights(4096) == pytest.approx((2.0 / 4, 8.0 / 4))
    assert weights(2896) == pytest.approx((2.0 * (2048 / 2896) ** 2, 8.0 * (2048 / 2896) ** 2))
    opts = opts.replace(print_balance=False)  # the paper's plain weights (--preset paper)
    assert weights(4096) == pytest.approx((2.0, 8.0))


def test_the_palette_start_is_the_photos_shapes_in_the_artworks_colours():
    """The default start: each channel of the photo takes the artwork's histogram, its layout stays."""
    import numpy as np
    from PIL import Image

    from painterly.core import color, render

    grain = np.random.default_rng(0).normal(0, 4, (72, 96, 3))  # a photo's sensor noise: few exact ties
    photo = Image.fromarray(np.clip(np.asarray(photo_like(96, 72), np.float64) + grain, 0, 255).astype(np.uint8))
    art = artwork_like(96, 96)
    start = render.initial_image("palette", photo, [art], None, (96, 72), 0)
    pixels = start[0].permute(1, 2, 0).reshape(-1, 3).numpy()
    theirs = np.asarray(art, np.float32).reshape(-1, 3) / 255
    for c in range(3):  # the artwork's colours, not the photo's
        assert abs(pixels[:, c].mean() - theirs[:, c].mean()) < 0.02
    ranks = np.asarray(photo.convert("L"), np.float32).ravel().argsort().argsort()
    luma = (pixels @ np.array([0.3, 0.59, 0.11])).argsort().argsort()
    assert np.corrcoef(ranks, luma)[0, 1] > 0.5  # the photo's light and dark places stay where they were
    blended = color.palette(photo, [art, photo_like(64, 48)], [1.0, 0.0])  # a zero-weight style adds nothing
    assert np.abs(np.asarray(blended, np.float32) - np.asarray(color.palette(photo, [art]), np.float32)).mean() < 6


def test_the_palette_start_gives_way_where_it_would_fight_the_users_choice():
    from painterly.core.inputs import load_inputs
    from painterly.core.plan import make_plan

    photo, art = photo_like(96, 72), artwork_like(96, 96)
    kept = make_plan(load_inputs(photo, [art], painterly.Options(size=96, preserve_colors="luminance")),
                     painterly.Options(size=96, preserve_colors="luminance", init="palette"))  # fmt: skip
    assert kept.options.init == "content" and any("own colours" in n for n in kept.notes)
    plain = make_plan(load_inputs(photo, [art], painterly.Options(size=96)), painterly.Options(size=96, init="palette"))
    assert plain.options.init == "palette" and not plain.notes

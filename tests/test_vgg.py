"""VGG-19: the real published weights, their order, the Caffe (BGR) input convention, loaders."""

import pytest
import torch

from painterly.core import vgg
from painterly.errors import ResourceError


@pytest.fixture(scope="module")
def state():
    return vgg.load_state()


def synthetic(h=32, w=48):
    """A fixed chromatic test image, RGB 0..1, [1,3,H,W]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xx, yy, torch.full_like(xx, 0.2)], 0).unsqueeze(0)


def test_layer_spec_is_vgg19():
    assert len(vgg.LAYER_NAMES) == 16
    assert vgg.LAYER_NAMES[:3] == ("conv1_1", "conv1_2", "conv2_1")
    assert vgg.LAYER_NAMES[-1] == "conv5_4"


def test_published_weights_golden_values(state):
    # Fails for random, re-initialised or shuffled weights.
    w, b = state["conv1_1"]
    assert w.shape == (64, 3, 3, 3)
    assert w.abs().sum().item() == pytest.approx(270.4311, rel=1e-5)
    assert b[:2].tolist() == pytest.approx([0.730178, 0.064936], rel=1e-5)
    w, b = state["conv5_4"]
    assert w.sum().item() == pytest.approx(-2534.85, rel=1e-4)
    assert b[:2].tolist() == pytest.approx([0.722275, -0.485727], rel=1e-5)
    assert state["conv3_2"][0].abs().sum().item() == pytest.approx(4682.5, rel=1e-4)


@pytest.mark.numerics
def test_features_of_fixed_image_golden_and_bgr(state):
    net = vgg.VGG19(state, "avg", "conv3_1")
    x = synthetic()
    with torch.no_grad():
        f = net(vgg.preprocess(x), ["conv1_1", "conv3_1"])
        rgb_fed = x * 255 - torch.tensor(vgg.CAFFE_MEAN_BGR).flip(0).view(1, 3, 1, 1)
        wrong = net(rgb_fed, ["conv3_1"])["conv3_1"].mean().item()
    assert f["conv1_1"].mean().item() == pytest.approx(28.7329, rel=2e-4)
    assert f["conv3_1"].mean().item() == pytest.approx(130.7918, rel=2e-4)
    # feeding RGB instead of BGR moves the statistic by far more than the tolerance
    assert abs(wrong - 130.7918) / 130.7918 > 5e-3


def test_preprocess_is_caffe_bgr():
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    out = vgg.preprocess(red).flatten().tolist()
    assert out == pytest.approx([-103.939, -116.779, 255 - 123.68])


def test_truncated_at_deepest_needed_layer(state):
    net = vgg.VGG19(state, "avg", vgg.deepest(["conv4_2", "conv1_1"]))
    assert len(net.convs) == 10
    assert net.names[-1] == "conv4_2"
    assert not any(p.requires_grad for p in net.parameters())


def test_pooling_choice_changes_deep_features(state):
    x = vgg.preprocess(synthetic())
    with torch.no_grad():
        avg = vgg.VGG19(state, "avg", "conv2_1")(x, ["conv2_1"])["conv2_1"]
        mx = vgg.VGG19(state, "max", "conv2_1")(x, ["conv2_1"])["conv2_1"]
    assert avg.shape == mx.shape == (1, 128, 16, 24)
    assert not torch.allclose(avg, mx)


@pytest.mark.numerics
def test_torchvision_layout_is_converted_to_caffe_input(state, tmp_path):
    # Build a torchvision-style file (RGB 0..1 normalised input) from the Caffe weights by
    # inverting the conversion; loading it must give the same features away from the border.
    mean = torch.tensor(vgg.TORCHVISION_MEAN_RGB)
    std = torch.tensor(vgg.TORCHVISION_STD_RGB)
    w, b = state["conv1_1"]
    w_rgb = w.flip(1) * (255.0 * std).view(1, 3, 1, 1)
    offset = (torch.tensor(vgg.CAFFE_MEAN_BGR).flip(0) / 255.0 - mean) / std
    b_tv = b - (w_rgb.sum(dim=(2, 3)) * offset).sum(dim=1)
    raw, index = {}, 0
    for (n, _), block in zip(vgg.BLOCKS, range(5)):
        for k in range(n):
            layer = f"conv{block + 1}_{k + 1}"
            lw, lb = (w_rgb, b_tv) if layer == "conv1_1" else state[layer]
            raw[f"features.{index}.weight"], raw[f"features.{index}.bias"] = lw, lb
            index += 2
        index += 1
    path = tmp_path / "vgg19-test.pth"
    torch.save(raw, path)
    converted = vgg.load_state(path)
    x = vgg.preprocess(synthetic())
    with torch.no_grad():
        ref = vgg.VGG19(state, "avg", "conv1_2")(x, ["conv1_2"])["conv1_2"][..., 2:-2, 2:-2]
        got = vgg.VGG19(converted, "avg", "conv1_2")(x, ["conv1_2"])["conv1_2"][..., 2:-2, 2:-2]
    assert torch.allclose(ref, got, rtol=1e-4, atol=1e-2)


def test_wrong_weights_files_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(ResourceError, match="not a PyTorch weights file"):
        vgg.load_state(junk)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, partial)
    with pytest.raises(ResourceError, match="VGG-19 needs 16"):
        vgg.load_state(partial)
    with pytest.raises(ResourceError, match="not found"):
        vgg.load_state(tmp_path / "missing.pth")
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(ResourceError, match="layout"):
        vgg.load_state(other)


def test_download_needs_explicit_flag():
    with pytest.raises(ResourceError, match="--download-weights"):
        vgg.load_state("torchvision")


@pytest.mark.numerics
def test_normalised_network_has_unit_mean_activations(state):
    from painterly.core import network

    means = network.mean_activations(state, "avg")
    normalised = vgg.normalize_state(state, means)
    again = network.mean_activations(normalised, "avg")
    for layer in ("conv1_1", "conv3_1", "conv5_1"):
        m = again[layer]
        kept = means[layer] >= 0.1 * means[layer].median()  # filters above the floor
        assert m[kept].mean().item() == pytest.approx(1.0, rel=1e-3)

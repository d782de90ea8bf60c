"""The network a run uses: device and precision choice, VGG-19 with the chosen weights,
normalisation and pooling (weights cached per process, normalisation factors on disk)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from . import images, samples, vgg
from .errors import ResourceError
from .options import Options

NORMALISATION_SIZE = 256  # long side of the sample photos used for the normalised network


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ResourceError("--device cuda asked for, but no CUDA GPU is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def use_bf16(options: Options, device: torch.device) -> bool:
    """Whether to run the network in bfloat16 (losses stay float32).

    'auto' uses it on CUDA only: on CPUs without AMX (e.g. AVX2-only) bf16 convolutions are
    emulated and were >10x slower than float32 in bench/speed.py.
    """
    if options.precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return options.precision == "bf16"


@functools.lru_cache(maxsize=4)
def _state(weights: str | None, fmt: str, allow_download: bool, network: str, pooling: str) -> vgg.State:
    state = vgg.load_state(weights, fmt, allow_download)
    if network == "normalized":
        state = vgg.normalize_state(state, mean_activations(state, pooling))
    return state


def mean_activations(state: vgg.State, pooling: str) -> dict[str, torch.Tensor]:
    """Per-filter mean activations over scikit-image's sample photos, cached on disk."""
    key = f"means-{vgg.state_fingerprint(state)}-{pooling}-{NORMALISATION_SIZE}.pt"
    path = vgg.cache_dir() / key
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError):
        pass
    photos = []
    for photo in samples.photos():
        t = vgg.preprocess(images.to_tensor(images.resize_long_side(photo, NORMALISATION_SIZE)))
        photos += [t, t.flip(3)]
    means = vgg.mean_activations(state, photos, pooling)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(means, path)
    except OSError:
        pass  # a read-only cache only costs recomputation
    return means


def build(options: Options, layers: Sequence[str], device: torch.device) -> vgg.VGG19:
    """VGG-19 with the chosen weights/normalisation/pooling, truncated at the deepest of `layers`."""
    state = _state(options.weights, options.weights_format, options.allow_download, options.network, options.pooling)
    net = vgg.VGG19(state, options.pooling, last_layer=vgg.deepest(layers))
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    return net.to(device=device, memory_format=memory_format)

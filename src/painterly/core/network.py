"""The network a run uses: device and precision choice, VGG-19 with the chosen weights,
normalisation and pooling (weights cached per process, normalisation factors on disk)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..errors import OutputError, ResourceError
from ..media import files, images, samples
from . import vgg
from .options import BF16_FLAGS, Options

NORMALISATION_SIZE = 256  # long side of the sample photos used for the normalised network


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ResourceError("--device cuda asked for, but no CUDA GPU is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether `precision` (--precision: auto, bf16 or fp32) runs the network in bfloat16 autocast on
    `device` (the style Grams' products too; losses and the optimiser stay float32).

    'auto' uses it where the hardware does bf16 natively: CUDA GPUs that support it, and CPUs with
    avx512_bf16 or AMX when a short calibration confirms it is faster (it was 1.8x on a Zen 4 and
    4.6x on a Sapphire Rapids with AMX). On AVX2-only CPUs bf16 is emulated and >10x slower.
    """
    if precision == "auto":
        if device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return cpu_bf16_pays()
    return precision == "bf16"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux), or an empty set where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _onednn_limit() -> str:
    """ONEDNN_MAX_CPU_ISA (upper case), or '' where oneDNN may use all the CPU has."""
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return "" if limit == "ALL" else limit


def kernel_isa() -> str:
    """The instruction sets torch's CPU kernels may use in this process: ATen's capability and the
    oneDNN limit, which ATEN_CPU_CAPABILITY and ONEDNN_MAX_CPU_ISA can hold below the CPU's own
    (e.g. 'AVX2 onednn<=AVX2' on an AVX-512 machine run as an AVX2 one)."""
    limit = _onednn_limit()
    return torch.backends.cpu.get_cpu_capability() + (f" onednn<={limit}" if limit else "")


def native_bf16_cpu() -> bool:
    """Whether this CPU does bf16 arithmetic natively (avx512_bf16 or AMX) and torch's kernels are
    allowed to use it: an ISA held at AVX2 or plain AVX-512 emulates bf16, >10x slower than fp32."""
    if not set(BF16_FLAGS) & cpu_flags() or not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return False
    limit = _onednn_limit()
    return not limit or any(word in limit for word in ("BF16", "AMX", "AVX10"))


@functools.lru_cache(maxsize=1)
def cpu_bf16_pays() -> bool:
    """True where the CPU has native bf16 and a convolution's forward+backward runs at least 1.25x
    faster in bf16 than in float32 (measured once, cached on disk per CPU, kernel ISA, torch version
    and thread count)."""
    if not native_bf16_cpu():
        return False
    setting = f"{cpu_model()} {kernel_isa()} {torch.__version__} {torch.get_num_threads()}"

    def calibrate() -> dict:
        fp32, bf16 = _conv_seconds(False), _conv_seconds(True)
        return {"pays": bf16 * 1.25 < fp32, "fp32_s": fp32, "bf16_s": bf16}

    return bool(measured_once("bf16", setting, calibrate, ("pays",))["pays"])


def measurement_path(kind: str, setting: str) -> Path:
    """Where the measurement `kind` of this machine `setting` is cached."""
    return vgg.cache_dir() / f"{kind}-{hashlib.sha256(setting.encode()).hexdigest()[:16]}.json"


def measured_once(
    kind: str,
    setting: str,
    measure: Callable[[], dict],
    fields: Sequence[str],
    keep: Callable[[dict], bool] = lambda value: True,
) -> dict:
    """`measure()`'s answer for this machine `setting` (CPU, kernels, torch, ...), read from the cache
    when it holds all of `fields`, else measured now and cached (atomically: runs may race) when
    `keep(answer)` says it is worth keeping."""
    path = measurement_path(kind, setting)
    try:
        cached = json.loads(path.read_text())
        if isinstance(cached, dict) and set(fields) <= set(cached):
            return cached
    except (OSError, ValueError):
        pass
    value = measure()
    if keep(value):
        remember(kind, setting, value)
    return value


def remember(kind: str, setting: str, value: dict) -> None:
    """Cache the measurement `kind` of this machine `setting` (atomically: runs may race)."""
    path = measurement_path(kind, setting)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text_atomic(path, json.dumps(value), f"{kind} cache")
    except (OSError, OutputError):
        pass  # a read-only cache only costs the measurement again


def _conv_seconds(bf16: bool, repeats: int = 3) -> float:
    """Best time of a VGG-sized 3x3 convolution's forward+backward (128 channels, 96x128)."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(1, 128, 96, 128).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = conv(x)
        y.float().sum().backward()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model() -> str:
    """The CPU's model name (Linux), or an empty string where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return ""


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
    """VGG-19 with the chosen weights/normalisation/pooling, truncated at the deepest of `layers`
    (one per setting and process: its weights are frozen, so every scale and run can share it)."""
    o = options
    return _network(
        o.weights, o.weights_format, o.allow_download, network=o.network, pooling=o.pooling,
        last_layer=vgg.deepest(layers), device=str(device), channels_last=o.channels_last,
    )  # fmt: skip


@functools.lru_cache(maxsize=2)
def _network(
    weights: str | None,
    fmt: str,
    allow_download: bool,
    *,
    network: str,
    pooling: str,
    last_layer: str,
    device: str,
    channels_last: bool,
) -> vgg.VGG19:
    state = _state(weights, fmt, allow_download, network, pooling)
    net = vgg.VGG19(state, pooling, last_layer=last_layer)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return net.to(device=device, memory_format=memory_format)

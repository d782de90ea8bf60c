"""Time and memory estimates, and the memory guard that refuses a run before any work.

The fp32 constants are fitted to bench/speed.py's peak RSS on a 2-core AVX2 machine (L-BFGS, network up
to conv5_1), plus L-BFGS's history of 2 x `history` image-sized float32 vectors; the bf16 ones to
bench/passes.py and bench/print_size.py's peak RSS per scale up to 4096 px (whole, then in tiles); the
tiled image-sized buffers to an fp32 4096 px scale in tiles of 512 px with glibc's heap trimmed after every
tile (`heap`). The estimate stays above each measurement; the figures, and the one case not covered (a
2048 px scale in tiles of 512 px), are in docs/NOTES.md ("Print size", "Prints that look painted at 100%,
memory and tiles per scale").
"""

from __future__ import annotations

import math

from ..errors import ResourceError

SECONDS_PER_MEGAPIXEL_EVALUATION = 6.0
EVALUATIONS_PER_ITERATION = 1.3
BASE_BYTES = 530 * 2**20  # interpreter, torch, weights
NETWORK_BYTES_PER_PIXEL = 3000  # activations kept for the backward pass (fp32, up to conv5_1)
BF16_BASE_BYTES = 900 * 2**20  # bf16 runs keep an fp32 and a bf16 copy of the weights, and more allocator slack
BF16_NETWORK_BYTES_PER_PIXEL = 1900  # bf16 activations, fp32 Grams' inputs
OPTIMIZER_BYTES_PER_VALUE = 4 * 2  # float32 s and y vectors per history entry
TILE_HALO = 80  # px around each tile (tiling.HALO): conv5_1's receptive field reaches 78 px
# float32 image-sized buffers a tiled run keeps (x, grad, best, the evaluated x, ...): 14 fitted, +1 since
IMAGE_BYTES_PER_PIXEL = 3 * 4 * 15
PROJECTION_BYTES_PER_PIXEL = 640  # float64 means, covariances and inverses of the windows (docs/NOTES.md)


def estimate(width: int, height: int, history: int = 20, bf16: bool = False, tile: int = 0) -> tuple[float, float]:
    """(seconds per iteration on a 2-core CPU, peak memory in bytes) for an output of W x H px,
    the network in bf16 or fp32, on the whole image or (`tile` > 0) on one tile and its halo at a time."""
    pixels = width * height
    seconds = SECONDS_PER_MEGAPIXEL_EVALUATION * EVALUATIONS_PER_ITERATION * pixels / 1e6
    if not tile:
        return seconds, _base(bf16) + pixels * _per_pixel(history, bf16)
    crop = min(width, tile + 2 * TILE_HALO) * min(height, tile + 2 * TILE_HALO)
    network = crop * (_per_pixel(0, bf16) + IMAGE_BYTES_PER_PIXEL)
    return seconds * 2, _base(bf16) + network + pixels * (
        _per_pixel(history, bf16) - _per_pixel(0, bf16) + IMAGE_BYTES_PER_PIXEL
    )


def projection_bytes(width: int, height: int, bf16: bool = False) -> float:
    """Peak bytes of the end's locally affine recolouring of a W x H result (`matting.locally_affine`, its
    float64 window statistics), the network still loaded."""
    return _base(bf16) + width * height * PROJECTION_BYTES_PER_PIXEL


def image_buffer_bytes(width: int, height: int, history: int) -> float:
    """Bytes of the buffers as large as the whole image that tiling cannot shrink: the image, its
    gradient, the best image and the like, and L-BFGS's `history` pairs of image-sized vectors."""
    return width * height * (IMAGE_BYTES_PER_PIXEL + 3 * OPTIMIZER_BYTES_PER_VALUE * history)


def disk_bytes(width: int, height: int, history: int, checkpoints: bool) -> float:
    """Free disk space a run needs for its output (an uncompressed W x H image at most) and, with
    `checkpoints`, intermediate images plus a checkpoint (L-BFGS history of float32 images)."""
    need = 3 * width * height + 2**20
    if checkpoints:
        need += 2 * need + 4 * 3 * width * height * (2 * history + 3)
    return need


def available_memory() -> float | None:
    """Bytes of memory available now (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _base(bf16: bool) -> float:
    return BF16_BASE_BYTES if bf16 else BASE_BYTES


def _per_pixel(history: int, bf16: bool) -> float:
    network = BF16_NETWORK_BYTES_PER_PIXEL if bf16 else NETWORK_BYTES_PER_PIXEL
    return network + 3 * OPTIMIZER_BYTES_PER_VALUE * history


def largest_fitting_side(width: int, height: int, history: int, limit: float, bf16: bool = False) -> int:
    """The largest long side (px) whose estimated peak memory stays under `limit` bytes."""
    pixels = max(0.0, (limit - _base(bf16)) / _per_pixel(history, bf16))
    aspect = min(width, height) / max(width, height)
    return int(math.sqrt(pixels / aspect))


def check_memory(
    width: int, height: int, history: int, limit: float | None, bf16: bool = False, tile: int = 0
) -> int | None:
    """None if W x H fits under `limit` bytes (or the available memory when None); otherwise
    the largest long side that fits. Raises ResourceError when not even 64 px fits."""
    need = estimate(width, height, history, bf16, tile)[1]
    cap = limit if limit is not None else available_memory()
    if cap is None or need <= cap:
        return None
    side = largest_fitting_side(width, height, history, cap, bf16)
    if side < 64:
        raise ResourceError(f"only {cap / 2**30:.2f} GiB of memory allowed: not enough for any useful size")
    return side


def fits(width: int, height: int, history: int, limit: float | None, bf16: bool = False, tile: int = 0) -> bool:
    """Whether W x H fits under `limit` bytes (or the memory available now, when None)."""
    cap = limit if limit is not None else available_memory()
    return cap is None or estimate(width, height, history, bf16, tile)[1] <= cap


def parse_bytes(text: str) -> float:
    """'512M', '4G', '1.5GiB', '1000000' -> bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"expected a size like 512M or 4G, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"expected a size > 0, got {text!r}")
    return value

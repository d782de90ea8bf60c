"""VGG-19's conv layers by name (the paper's convB_K), torch-free so options can check layer names
without loading the network (`vgg` builds the network from them)."""

from __future__ import annotations

# Conv layers per block and their output channels (Simonyan & Zisserman, config "E").
BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))
LAYER_NAMES: tuple[str, ...] = tuple(f"conv{b + 1}_{k + 1}" for b, (n, _) in enumerate(BLOCKS) for k in range(n))

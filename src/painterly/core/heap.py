"""Give the C heap's freed memory back to the system between tiles.

With the moving tile grid every evaluation runs the network on crops of new shapes; glibc keeps the
freed activations in its heap, fragmented, and the resident memory grew with every evaluation (a fixed
grid did not). Trimming after each tile keeps the peak flat; after each evaluation only, the peak is
higher (figures in docs/NOTES.md, "Prints that look painted at 100%, memory and tiles per scale").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None


def release_freed() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim); a no-op elsewhere."""
    trim = _trim()
    if trim is not None:
        trim(0)

"""painterly: neural style transfer after Gatys, Ecker & Bethge (CVPR 2016)."""

from __future__ import annotations

import importlib

from .core.options import Options
from .errors import InputImageError, OptionsError, OutputError, PainterlyError, ResourceError
from .version import __version__

# Names from modules that load torch, imported on first use: `painterly --help` and importing
# `painterly.core.options` stay quick (torch takes seconds to import on a small machine).
_LAZY = {
    "plan": "api",
    "render": "api",
    "Score": "api",
    "score": "api",
    "stylize": "api",
    "stylize_iter": "api",
    "stylize_video": "api",
    "Step": "core.optimize",
}

__all__ = [
    "InputImageError",
    "Options",
    "OptionsError",
    "OutputError",
    "PainterlyError",
    "ResourceError",
    "Score",
    "Step",
    "__version__",
    "plan",
    "render",
    "score",
    "stylize",
    "stylize_iter",
    "stylize_video",
]


def __getattr__(name: str) -> object:
    """`painterly.stylize` and the other names in `_LAZY`, from their module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

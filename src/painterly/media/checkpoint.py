"""Resumable run state on disk: written atomically, read back with `weights_only=True`."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError
from .files import write_atomic

FORMAT = 1


def path_for(output: str | os.PathLike) -> Path:
    """The checkpoint that belongs to an output image: `out.png` -> `out.png.ckpt`."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def save(path: str | os.PathLike, state: dict, settings: dict[str, str]) -> Path:
    """Write `state` (from `Step.checkpoint()`) and the run's `settings` atomically."""
    import torch  # here, not above: the CLI's quick answers import this module without torch

    data = {"format": FORMAT, "settings": settings, "state": state}
    return write_atomic(path, lambda f: torch.save(data, f), "checkpoint")


def load(path: str | os.PathLike, settings: dict[str, str]) -> dict:
    """The saved state, after checking it was made with the same `settings`."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(f"checkpoint {path}: not a painterly checkpoint ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a painterly checkpoint")
    differ = [k for k in settings if data["settings"].get(k) != settings[k]]
    if differ:
        k = differ[0]
        raise CheckpointError(
            f"checkpoint {path}: made with {k}={data['settings'].get(k)}, not {settings[k]}; "
            "resume with the same settings"
        )
    return data["state"]

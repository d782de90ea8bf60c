"""Resumable run state on disk: written atomically, read back with `weights_only=True`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .errors import InputImageError, OutputError

FORMAT = 1


def path_for(output: str | os.PathLike) -> Path:
    """The checkpoint that belongs to an output image: `out.png` -> `out.png.ckpt`."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def save(path: str | os.PathLike, state: dict, settings: dict[str, str]) -> Path:
    """Write `state` (from `Step.checkpoint()`) and the run's `settings` atomically."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, "settings": settings, "state": state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"checkpoint {path}: cannot write ({exc.strerror or exc})") from exc
    return path


def load(path: str | os.PathLike, settings: dict[str, str]) -> dict:
    """The saved state, after checking it was made with the same `settings`."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputImageError(f"checkpoint {path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise InputImageError(f"checkpoint {path}: not a painterly checkpoint ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputImageError(f"checkpoint {path}: not a painterly checkpoint")
    differ = [k for k in settings if data["settings"].get(k) != settings[k]]
    if differ:
        k = differ[0]
        raise InputImageError(
            f"checkpoint {path}: made with {k}={data['settings'].get(k)}, not {settings[k]}; "
            "resume with the same settings"
        )
    return data["state"]

"""The one atomic file writer: a temporary file in the target's directory, fsync, rename.

A reader (or a crash) never sees a half-written file; a failure raises OutputError naming
the file and leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import OutputError


def write_atomic(
    path: str | os.PathLike, write: Callable[[BinaryIO], None], what: str = "output", private: bool = False
) -> Path:
    """Create or replace `path` with what `write(file)` writes, atomically; returns the path.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600; with `private`
    it is its owner's only (0600) from its creation on, never readable by others on the way.
    """
    path = Path(path)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o600 if private else 0o666 & ~_umask())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "output", private: bool = False) -> Path:
    """`write_atomic` for UTF-8 text."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")), what, private)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

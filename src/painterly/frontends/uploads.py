"""Uploads in flight on a shared web server: each byte charged to its user as it arrives, and what
an aborted or refused upload leaves in Gradio's cache swept (`studio.Studio` owns the budget)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

STALE = 40.0  # s: a temporary file unwritten this long is an ended upload's (a live one writes every 20 s)
LEFTOVER_SECONDS = STALE + 20.0  # s an ended upload's leftover bytes stay charged: swept by then
BUDGET_TAKEN = "Upload refused: this server's disk budget is taken by other users' files now; try again later."


class Uploads:
    """Uploads in flight: each byte is charged to its user as it arrives, against the user's share
    and the server's budget together with the files kept, so what is written never exceeds them. An
    upload belongs to its user from its first byte. Gradio writes it as a temporary file in the
    cache's top folder and moves it into a hash folder when it is done; what an aborted or refused
    upload leaves there stays charged to its user (`LEFTOVER_SECONDS`) until it is swept: when no
    upload is in flight, and before any upload makes room, as soon as nothing wrote to it for
    `STALE` seconds. Used from the server's event loop; the disk work runs on worker threads."""

    def __init__(self, studio):  # the `studio.Studio` whose budget this is (it makes its Uploads)
        self.studio = studio
        self.kept: dict[str | None, int] = {None: 0}  # bytes kept, per user and in all, at the last trim
        self._held: dict[str, int] = defaultdict(int)  # bytes of uploads in flight, per user
        self._leftovers: list[tuple[float, str, int, float]] = []  # (charged until, user, bytes, ended at)
        self._open = 0
        self._lock = threading.Lock()

    def held(self) -> dict[str, int]:
        """Bytes charged now per user: uploads in flight and what ended ones may have left."""
        with self._lock:
            now = time.monotonic()
            self._leftovers = [left for left in self._leftovers if left[0] > now]
            held = defaultdict(int, self._held)
            for _, user, size, _ in self._leftovers:
                held[user] += size
            return dict(held)

    @contextlib.asynccontextmanager
    async def open(self, user: str):
        """An upload of `user` in flight: `charge` its bytes as they come, `settle` what it saved."""
        upload = _Upload(self, user)
        with self._lock:
            self._open += 1
        try:
            await asyncio.to_thread(self.studio.make_room, user)
            yield upload
        finally:
            with self._lock:
                self._held[user] -= upload.size
                if self._held[user] <= 0:
                    del self._held[user]
                if upload.size > upload.settled:
                    left = (time.monotonic() + LEFTOVER_SECONDS, user, upload.size - upload.settled, time.time())
                    self._leftovers.append(left)
                self._open -= 1
                idle = time.time() if self._open == 0 else None
            if idle is not None:
                await asyncio.to_thread(self.sweep, idle)

    def sweep(self, before: float) -> None:
        """Delete the temporary files in the cache's top folder last written before `before` (a
        time.time()); with no upload in flight since then, what they held is no longer charged."""
        sweep(cache_folder(), before)
        with self._lock:
            self._leftovers = [left for left in self._leftovers if left[3] >= before]

    def fits(self, user: str, more: int) -> bool:
        """Whether `more` bytes of `user` fit their share and the server's budget now."""
        held = self.held()
        with self._lock:
            mine = self.kept.get(user, 0) + held.get(user, 0) + more
            return mine <= self.studio.max_disk_per_user and self.kept[None] + sum(held.values()) + more <= (
                self.studio.max_disk
            )

    def add(self, user: str, size: int) -> None:
        with self._lock:
            self._held[user] += size


class _Upload:
    """One upload in flight, the bytes it has charged and those that became files in the cache."""

    def __init__(self, uploads: Uploads, user: str):
        self.uploads, self.user, self.size, self.settled = uploads, user, 0, 0

    async def charge(self, size: int) -> str | None:
        """Charge `size` more bytes: None, or why the upload cannot go on (they do not fit even after
        its user's own oldest files made room; then they are not charged, nor passed on to be written,
        so what a user holds never exceeds their share)."""
        if not self.uploads.fits(self.user, size):
            await asyncio.to_thread(self.uploads.studio.make_room, self.user, more=size)
            if not self.uploads.fits(self.user, size):
                return self._refusal(size)
        self.size += size
        self.uploads.add(self.user, size)
        return None

    def _refusal(self, size: int) -> str:
        if self.size + size > self.uploads.studio.max_disk_per_user:
            return self.uploads.studio.too_big(self.size + size)
        return BUDGET_TAKEN

    def settle(self, paths: list[str]) -> None:
        """The upload is done and saved `paths`: their bytes are kept files now, the rest of what it
        charged (other form fields, multipart framing) may be left over."""
        self.settled = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))


def cache_folder() -> Path:
    """Gradio's file cache (GRADIO_TEMP_DIR; `painterly web` gives each server its own)."""
    from gradio import utils

    return Path(utils.get_upload_folder())


def sweep(folder: Path, before: float) -> None:
    """Delete the files in the cache's top folder last written before `before` (a time.time()):
    uploads write there only while in flight."""
    for entry in folder.iterdir() if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            if (entry.is_file() or entry.is_symlink()) and entry.lstat().st_mtime < before:
                entry.unlink()

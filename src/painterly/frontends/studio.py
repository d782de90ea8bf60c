"""What a shared web server keeps per user: who owns which file in Gradio's cache, how many runs each
may queue, each user's share of the disk budget for the files the server keeps, and the uploads in
flight (the gateway, `gateway`, enforces them on every request).

Gradio keeps every upload and result in its cache folder, `CACHE/<content hash>/<name>`; a file
belongs to the users who uploaded or made it here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .uploads import BUDGET_TAKEN, STALE, Uploads, cache_folder, sweep

ANYONE = ""  # the one user of a server without sign-in
JOIN_SECONDS = 15.0  # how long a place reserved at joining the queue waits for its run to start


class Owners:
    """{file (its real path): users who may fetch it}; thread-safe. Per file, not per folder: Gradio
    names a cache folder by its file's content, so two users' identical uploads share a folder."""

    def __init__(self) -> None:
        self._by_file: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()

    def add(self, user: str, path: str | Path) -> None:
        with self._lock:
            self._by_file[os.path.realpath(path)].add(user)

    def allowed(self, user: str | None, path: str | Path) -> bool:
        with self._lock:
            return user is not None and user in self._by_file.get(os.path.realpath(path), ())

    def forget(self, files: set[str]) -> None:
        with self._lock:
            for file in files:
                self._by_file.pop(os.path.realpath(file), None)

    def of(self, path: str | Path) -> set[str]:
        """The users who own the file `path`."""
        with self._lock:
            return set(self._by_file.get(os.path.realpath(path), ()))

    def disown(self, user: str, path: str | Path) -> bool:
        """Take the file `path` from `user`; True when nobody owns it any more."""
        with self._lock:
            key = os.path.realpath(path)
            owners = self._by_file.get(key, set())
            owners.discard(user)
            if not owners:
                self._by_file.pop(key, None)
            return not owners

    def files(self) -> list[str]:
        with self._lock:
            return list(self._by_file)


class Studio:
    """What a shared server keeps per user: who owns which file, how many runs each may queue, and
    the disk budget of Gradio's file cache. Without sign-in every visitor is one user, `ANYONE`."""

    def __init__(
        self,
        max_per_user: int | None = None,
        max_disk: float = 2e9,
        max_age: float = 24 * 3600,
        max_disk_per_user: float | None = None,
    ):
        self.owners = Owners()
        self.max_per_user, self.max_disk, self.max_age = max_per_user, max_disk, max_age
        self.max_disk_per_user = max_disk if max_disk_per_user is None else max_disk_per_user
        self.uploads = Uploads(self)
        self._trim_lock = threading.Lock()
        self._joins: dict[str, list[float]] = defaultdict(list)  # admitted runs not started yet, per user
        self._join_lock = threading.Lock()

    def admit(self, user: str | None, in_queue: int) -> bool:
        """Reserve a place for one more run of `user`, who has `in_queue` runs waiting or running in
        Gradio's queue now, if that stays within `max_per_user`. The check and the reservation are
        one step under a lock, so joins that arrive together cannot all pass a count taken before any
        of them was queued. A reservation ends when its run starts (`started`), or after JOIN_SECONDS
        for a run that never starts (cancelled or refused while waiting)."""
        if not self.max_per_user or user is None:
            return True
        with self._join_lock:
            now = time.monotonic()
            pending = [t for t in self._joins[user] if now - t < JOIN_SECONDS]
            admitted = max(in_queue, len(pending)) < self.max_per_user  # a queued run is in both counts
            self._joins[user] = [*pending, now] if admitted else pending
            return admitted

    def started(self, request) -> None:
        """A run of the user of `request` has started: its reservation is now counted by the queue."""
        user = getattr(request, "username", None)
        with self._join_lock:
            if self._joins.get(user):
                self._joins[user].pop(0)

    def own(self, request, path: str) -> None:
        """Let the user of `request` fetch the cached copy of the output file `path`."""
        self.owners.add(user_of(request), cached_path(path))

    def may_use(self, request, path: str | None) -> bool:
        """Whether the user of `request` may run on the file `path`: one they uploaded or made here."""
        return not path or owned_path(self.owners, user_of(request), path) is not None

    def trim(self, request=None) -> dict[str | None, int]:
        """Keep the cache within its limits, less what uploads in flight hold, taking files from the
        user of `request` (a run's) when all keep too much; the bytes kept, as `trim` returns them."""
        return self.make_room(user_of(request) if request is not None else None)

    def make_room(self, user: str | None, keep: frozenset[str] = frozenset(), more: int = 0) -> dict[str | None, int]:
        """Trim the cache so that what is kept plus what uploads in flight hold, and `more` bytes
        `user` is about to add, fit the budget and each user's share, `user`'s own oldest files
        first (files in `keep` stay)."""
        with self._trim_lock:
            sweep(cache_folder(), time.time() - STALE)  # what aborted uploads left, unwritten since
            held = self.uploads.held()
            if user is not None and more:
                held[user] = held.get(user, 0) + more
            kept = trim(
                cache_folder(),
                self.max_disk - sum(held.values()),
                self.max_age,
                self.owners,
                self.max_disk_per_user,
                user,
                keep=keep,
                held=held,
            )
            self.uploads.kept = kept
            return kept

    def uploaded(self, user: str, paths: list[str]) -> str | None:
        """Record `paths`, just uploaded, as `user`'s and make room for them within the user's share
        and the server's budget from that user's own oldest files. When even that cannot make room,
        the upload is deleted and the reason returned."""
        new = frozenset(os.path.realpath(p) for p in paths)
        for path in new:
            self.owners.add(user, path)
        kept = self.make_room(user, keep=new)
        if kept.get(user, 0) <= self.max_disk_per_user and kept[None] <= self.max_disk:
            return None
        size = 0
        for path in new:
            size += os.path.getsize(path) if os.path.exists(path) else 0
            if self.owners.disown(user, path):
                _remove(Path(path))
        if size > self.max_disk_per_user:
            return self.too_big(size)
        return BUDGET_TAKEN

    def too_big(self, size: float) -> str:
        """The refusal of an upload of `size` bytes, more than one user's share."""
        share = self.max_disk_per_user / 1e6
        return f"Upload refused: {size / 1e6:.1f} MB, more than your share of this server's disk ({share:.1f} MB)."


def user_of(request) -> str:
    """The user of a Gradio request: the signed-in name, or `ANYONE` on a server without sign-in."""
    return getattr(request, "username", None) or ANYONE


def owned_path(owners: Owners, user: str | None, path: str | os.PathLike) -> str | None:
    """`path` made absolute and normalised (symlinks, `..`), when it lies in a hash folder of this
    server's cache that `user` owns; else None."""
    if user is None:
        return None
    file = Path(os.path.realpath(path))
    if file.parent.parent != Path(os.path.realpath(cache_folder())) or not owners.allowed(user, file):
        return None
    return str(file)


def cached_path(path: str | Path) -> Path:
    """Where Gradio's cache will hold a copy of the output file `path` (its content hash folder)."""
    from gradio import processing_utils
    from gradio_client.utils import strip_invalid_filename_characters

    name = strip_invalid_filename_characters(Path(path).name)
    return cache_folder() / processing_utils.hash_file(path) / name


def runs_of(blocks, user: str | None) -> int:
    """The runs `user` has waiting in Gradio's queue or running now."""
    queue = getattr(blocks, "_queue", None)
    if queue is None or user is None:
        return 0
    waiting = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    running = [e for job in queue.active_jobs if job for e in job]
    return sum(e.username == user for e in (*waiting, *running))


@dataclass
class _Kept:
    """One file of the cache: its real path, when it was written, its bytes."""

    path: str
    written: float
    size: int


def _kept(folder: Path) -> list[_Kept]:
    """The files in the hash folders under `folder`, oldest first (files in `folder` itself are
    uploads being written: see `Uploads`)."""
    entries = []
    for sub in folder.iterdir() if folder.is_dir() else ():
        try:
            files = [f for f in sub.rglob("*") if f.is_file()] if sub.is_dir() else []
            entries += [_Kept(os.path.realpath(f), f.stat().st_mtime, f.stat().st_size) for f in files]
        except OSError:
            continue
    return sorted(entries, key=lambda e: e.written)


def trim(
    folder: Path,
    max_bytes: float,
    max_age: float,
    owners: Owners | None = None,
    per_user: float | None = None,
    user: str | None = None,
    keep: frozenset[str] = frozenset(),
    held: dict[str, int] | None = None,
) -> dict[str | None, int]:
    """Delete the files under `folder` older than `max_age` seconds; then take each user's oldest
    files from them while they keep more than `per_user` bytes (less what their uploads in flight,
    `held`, hold); then, while all keep more than `max_bytes`, the oldest file nobody owns, else the
    oldest file of `user` (None: of whoever keeps the most), so one user's files never make room for
    another's. A file is deleted when its last owner loses it; files named in `keep` (real paths)
    stay. Returns the bytes kept: per user, and in all under None."""
    owners, held = owners or Owners(), held or {}
    now, alive, mine = time.time(), {}, defaultdict(list)
    for entry in _kept(folder):
        if now - entry.written > max_age and entry.path not in keep:
            _delete(entry.path, owners)
            continue
        alive[entry.path] = entry
        for owner in owners.of(entry.path):
            mine[owner].append(entry)
    owners.forget({f for f in owners.files() if f not in alive and f not in keep})  # deleted by Gradio

    def kept(who: str) -> int:
        return sum(e.size for e in mine[who])

    def take(who: str) -> bool:
        """Take `who`'s oldest file from them (deleted when nobody else owns it)."""
        entry = next((e for e in mine[who] if e.path not in keep), None)
        if entry is None:
            return False
        mine[who].remove(entry)
        if owners.disown(who, entry.path):
            _delete(alive.pop(entry.path).path, owners)
        return True

    for who in list(mine) if per_user is not None else ():
        while kept(who) + held.get(who, 0) > per_user and take(who):
            pass
    while sum(e.size for e in alive.values()) > max_bytes:
        unowned = next((e for e in alive.values() if not owners.of(e.path) and e.path not in keep), None)
        if unowned is not None:
            _delete(alive.pop(unowned.path).path, owners)
        elif not take(user if user is not None else max(mine, key=kept, default=None)):
            break
    return {None: sum(e.size for e in alive.values()), **{who: kept(who) for who in mine}}


def _delete(path: str, owners: Owners) -> None:
    _remove(Path(path))
    owners.forget({path})


def _remove(file: Path) -> None:
    """Delete a cached file, and its hash folder once empty."""
    file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        file.parent.rmdir()


def release_memory() -> None:
    """Hand the heap that finished runs freed back to the system. glibc keeps it per thread arena,
    and Gradio runs each event on a pool thread, so without this a long-lived server's RSS creeps."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass

"""What a shared web server keeps per user: who owns which file in Gradio's cache, how many runs each
may queue, and each user's share of the disk budget for the files the server keeps (the web guard,
`webguard`, enforces them on every request).

Gradio keeps every upload and result in its cache folder, `CACHE/<content hash>/<name>`; a hash
folder belongs to the users who uploaded or made its file here.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

JOIN_SECONDS = 15.0  # how long a place reserved at joining the queue waits for its run to start


class Owners:
    """{hash folder name: users who may fetch its files}; thread-safe."""

    def __init__(self) -> None:
        self._by_folder: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()

    def add(self, user: str, path: str | Path) -> None:
        with self._lock:
            self._by_folder[Path(path).parent.name].add(user)

    def allowed(self, user: str | None, path: str | Path) -> bool:
        with self._lock:
            return user is not None and user in self._by_folder.get(Path(path).parent.name, ())

    def forget(self, folders: set[str]) -> None:
        with self._lock:
            for folder in folders:
                self._by_folder.pop(folder, None)

    def of(self, folder: str) -> set[str]:
        """The users who own hash folder `folder`."""
        with self._lock:
            return set(self._by_folder.get(folder, ()))

    def disown(self, user: str, folder: str) -> bool:
        """Take `folder` from `user`; True when nobody owns it any more."""
        with self._lock:
            owners = self._by_folder.get(folder, set())
            owners.discard(user)
            if not owners:
                self._by_folder.pop(folder, None)
            return not owners


class Studio:
    """What a shared server keeps per user: who owns which file, how many runs each may queue, and
    the disk budget of Gradio's file cache. Without sign-in every visitor is one user."""

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
        """Let the signed-in user of `request` fetch the cached copy of the output file `path`."""
        user = getattr(request, "username", None)
        if user is not None:
            self.owners.add(user, cached_path(path))

    def may_use(self, request, path: str | None) -> bool:
        """Whether the user of `request` may run on the file `path`: one they uploaded or made here
        (without sign-in every visitor is the one user)."""
        user = getattr(request, "username", None)
        return user is None or not path or owned_path(self.owners, user, path) is not None

    def trim(self, request=None) -> None:
        """Keep the cache within its limits, taking files from the user of `request` (a run's) when
        all keep too much."""
        with self._trim_lock:
            user = getattr(request, "username", None)
            trim(cache_folder(), self.max_disk, self.max_age, self.owners, self.max_disk_per_user, user)

    def uploaded(self, user: str, paths: list[str]) -> str | None:
        """Record `paths`, just uploaded, as `user`'s and make room for them within the user's share
        and the server's budget from that user's own oldest files. When even that cannot make room,
        the upload is deleted and the reason returned."""
        new = frozenset(Path(p).parent.name for p in paths)
        for path in paths:
            self.owners.add(user, path)
        with self._trim_lock:
            folder = cache_folder()
            kept = trim(folder, self.max_disk, self.max_age, self.owners, self.max_disk_per_user, user, keep=new)
            if kept.get(user, 0) <= self.max_disk_per_user and kept[None] <= self.max_disk:
                return None
            size = sum(e.size for e in _kept(folder) if e.path.name in new)
            for name in new:
                if self.owners.disown(user, name):
                    shutil.rmtree(folder / name, ignore_errors=True)
        if size > self.max_disk_per_user:
            return self.too_big(size)
        return "Upload refused: this server's disk budget is taken by other users' files now; try again later."

    def too_big(self, size: float) -> str:
        """The refusal of an upload of `size` bytes, more than one user's share."""
        share = self.max_disk_per_user / 1e6
        return f"Upload refused: {size / 1e6:.1f} MB, more than your share of this server's disk ({share:.1f} MB)."


def owned_path(owners: Owners, user: str | None, path: str | os.PathLike) -> str | None:
    """`path` made absolute and normalised (symlinks, `..`), when it lies in a hash folder of this
    server's cache that `user` owns; else None."""
    if user is None:
        return None
    file = Path(os.path.realpath(path))
    if file.parent.parent != Path(os.path.realpath(cache_folder())) or not owners.allowed(user, file):
        return None
    return str(file)


def cache_folder() -> Path:
    """Gradio's file cache (GRADIO_TEMP_DIR; `painterly web` gives each server its own)."""
    from gradio import utils

    return Path(utils.get_upload_folder())


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
    """One hash folder of the cache: when its newest file was written, its bytes."""

    path: Path
    newest: float
    size: int


def _kept(folder: Path) -> list[_Kept]:
    """The hash folders (or stray files) under `folder`, oldest first."""
    entries = []
    for sub in folder.iterdir() if folder.is_dir() else ():
        try:
            files = [f for f in sub.rglob("*") if f.is_file()] if sub.is_dir() else [sub]
            size = sum(f.stat().st_size for f in files)
            newest = max((f.stat().st_mtime for f in files), default=sub.stat().st_mtime)
        except OSError:
            continue
        entries.append(_Kept(sub, newest, size))
    return sorted(entries, key=lambda e: e.newest)


def trim(
    folder: Path,
    max_bytes: float,
    max_age: float,
    owners: Owners | None = None,
    per_user: float | None = None,
    user: str | None = None,
    keep: frozenset[str] = frozenset(),
) -> dict[str | None, int]:
    """Delete the hash folders under `folder` older than `max_age` seconds; then take each user's
    oldest folders from them while they keep more than `per_user` bytes; then, while all keep more
    than `max_bytes`, the oldest folder nobody owns, else the oldest folder of `user` (None: of
    whoever keeps the most), so one user's files never make room for another's. A folder is deleted
    when its last owner loses it; folders named in `keep` stay. Returns the bytes kept: per user,
    and in all under None."""
    owners = owners or Owners()
    now, alive, mine = time.time(), {}, defaultdict(list)
    for entry in _kept(folder):
        if now - entry.newest > max_age and entry.path.name not in keep:
            _delete(entry, owners)
            continue
        alive[entry.path.name] = entry
        for owner in owners.of(entry.path.name):
            mine[owner].append(entry)

    def kept(who: str) -> int:
        return sum(e.size for e in mine[who])

    def take(who: str) -> bool:
        """Take `who`'s oldest folder from them (deleted when nobody else owns it)."""
        entry = next((e for e in mine[who] if e.path.name not in keep), None)
        if entry is None:
            return False
        mine[who].remove(entry)
        if owners.disown(who, entry.path.name):
            _delete(alive.pop(entry.path.name), owners)
        return True

    for who in list(mine) if per_user is not None else ():
        while kept(who) > per_user and take(who):
            pass
    while sum(e.size for e in alive.values()) > max_bytes:
        unowned = next((e for e in alive.values() if not owners.of(e.path.name) and e.path.name not in keep), None)
        if unowned is not None:
            _delete(alive.pop(unowned.path.name), owners)
        elif not take(user if user is not None else max(mine, key=kept, default=None)):
            break
    return {None: sum(e.size for e in alive.values()), **{who: kept(who) for who in mine}}


def _delete(entry: _Kept, owners: Owners) -> None:
    shutil.rmtree(entry.path, ignore_errors=True) if entry.path.is_dir() else entry.path.unlink(missing_ok=True)
    owners.forget({entry.path.name})


def release_memory() -> None:
    """Hand the heap that finished runs freed back to the system. glibc keeps it per thread arena,
    and Gradio runs each event on a pool thread, so without this a long-lived server's RSS creeps."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass

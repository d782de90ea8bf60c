"""What keeps a shared web server's users apart: who owns which file, a guard in front of Gradio's
file route, the per-user queue limit, and a disk budget for the files the server keeps.

Gradio keeps every upload and result in its cache folder, `CACHE/<content hash>/<name>`, and serves
them at `/gradio_api/file=<path>` to anyone signed in. The guard lets a request through only when
the signed-in user owns that hash folder: their uploads (taken from the upload route's answer)
and the previews and results of their runs (registered by the run handler). Anything else is 404.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote

FILE_ROUTE = "/file="
UPLOAD_ROUTE = "/gradio_api/upload"


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


class Studio:
    """What a shared server keeps per user: who owns which file, how many runs each may queue, and
    the disk budget of Gradio's file cache (`webguard`). Without sign-in every visitor is one user."""

    def __init__(self, max_per_user: int | None = None, max_disk: float = 2e9, max_age: float = 24 * 3600):
        self.owners = Owners()
        self.max_per_user, self.max_disk, self.max_age = max_per_user, max_disk, max_age
        self._trim_lock = threading.Lock()

    def own(self, request, path: str) -> None:
        """Let the signed-in user of `request` fetch the cached copy of the output file `path`."""
        user = getattr(request, "username", None)
        if user is not None:
            self.owners.add(user, cached_path(path))

    def trim(self) -> None:
        with self._trim_lock:
            trim(cache_folder(), self.max_disk, self.max_age, self.owners)


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


class Guard:
    """ASGI middleware (give it to Gradio's FastAPI app) that checks every file fetch against
    `owners` and records who uploaded what. The signed-in user comes from Gradio's own session
    cookie, looked up in the app's token table."""

    def __init__(self, app, owners: Owners):
        self.app, self.owners = app, owners

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = unquote(scope.get("path", ""))
        if FILE_ROUTE in path:
            if not self.owners.allowed(_user(scope), path.split(FILE_ROUTE, 1)[1]):
                return await _not_found(send)
            return await self.app(scope, receive, send)
        if path.rstrip("/").endswith(UPLOAD_ROUTE) and scope.get("method") == "POST":
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _upload(self, scope, receive, send):
        """Pass the upload through, then record its files (the answer lists their paths) as the user's."""
        user, body, status = _user(scope), [], [0]

        async def capture(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body") and status[0] == 200 and user is not None:
                    try:
                        for saved in json.loads(b"".join(body)):
                            self.owners.add(user, saved)
                    except (ValueError, TypeError):
                        pass
            await send(message)

        await self.app(scope, receive, capture)


def _user(scope) -> str | None:
    app = scope.get("app")
    cookies = {}
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, token = part.strip().partition("=")
                cookies[name] = token
    cookie_id = getattr(app, "cookie_id", None)
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return getattr(app, "tokens", {}).get(token) if token else None


async def _not_found(send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Not found"})


def runs_of(blocks, user: str | None) -> int:
    """The runs `user` has waiting in Gradio's queue or running now."""
    queue = getattr(blocks, "_queue", None)
    if queue is None or user is None:
        return 0
    waiting = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    running = [e for job in queue.active_jobs if job for e in job]
    return sum(e.username == user for e in (*waiting, *running))


def trim(folder: Path, max_bytes: float, max_age: float, owners: Owners | None = None) -> int:
    """Delete the hash folders under `folder` older than `max_age` seconds, then the oldest until
    the rest take at most `max_bytes`. Returns the bytes left."""
    entries = []
    for sub in folder.iterdir() if folder.is_dir() else ():
        try:
            files = [f for f in sub.rglob("*") if f.is_file()] if sub.is_dir() else [sub]
            size = sum(f.stat().st_size for f in files)
            newest = max((f.stat().st_mtime for f in files), default=sub.stat().st_mtime)
        except OSError:
            continue
        entries.append((newest, size, sub))
    entries.sort()
    total, now, gone = sum(e[1] for e in entries), time.time(), set()
    for newest, size, sub in entries:
        if now - newest <= max_age and total <= max_bytes:
            break
        shutil.rmtree(sub, ignore_errors=True) if sub.is_dir() else sub.unlink(missing_ok=True)
        total -= size
        gone.add(sub.name)
    if owners is not None:
        owners.forget(gone)
    return total


def release_memory() -> None:
    """Hand the heap that finished runs freed back to the system. glibc keeps it per thread arena,
    and Gradio runs each event on a pool thread, so without this a long-lived server's RSS creeps."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass

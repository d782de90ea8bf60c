"""What keeps a shared web server's users apart: who owns which file, a guard in front of Gradio's
file route, the per-user queue limit, and a disk budget for the files the server keeps.

Gradio keeps every upload and result in its cache folder, `CACHE/<content hash>/<name>`, and serves
files at `/gradio_api/file=<path>` and `/gradio_api/file/<path>` (a path relative to the server's
working folder) to anyone signed in. The guard decodes and normalises the path first (percent-escapes,
doubled slashes, `..`) exactly once, lets the request through only when the result lies in a hash
folder of this server's cache that the signed-in user owns (their uploads, taken from the upload
route's answer, and the previews and results of their runs, registered by the run handler), and
hands Gradio that checked path, so what is served is what was checked. Gradio's other routes that
serve files or streams (`proxy=`, `stream/`, `run-history/`) are not used by the page: 404.
"""

from __future__ import annotations

import ctypes
import json
import os
import posixpath
import shutil
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote

FILE_ROUTES = ("/file=", "/file/")  # Gradio's routes that serve a file by its path on disk
REFUSED_ROUTES = ("/proxy=", "/stream/", "/run-history/")  # other file and stream routes: unused here
UPLOAD_ROUTE = "/gradio_api/upload"
SESSION_ROUTES = ("/queue/join", "/queue/data", "/cancel", "/reset", "/heartbeat/")  # name a session hash
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


class Studio:
    """What a shared server keeps per user: who owns which file, how many runs each may queue, and
    the disk budget of Gradio's file cache (`webguard`). Without sign-in every visitor is one user."""

    def __init__(self, max_per_user: int | None = None, max_disk: float = 2e9, max_age: float = 24 * 3600):
        self.owners = Owners()
        self.max_per_user, self.max_disk, self.max_age = max_per_user, max_disk, max_age
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

    def trim(self) -> None:
        with self._trim_lock:
            trim(cache_folder(), self.max_disk, self.max_age, self.owners)


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


class Guard:
    """ASGI middleware (give it to Gradio's FastAPI app) that checks every file fetch against
    `owners` and records who uploaded what. The signed-in user comes from Gradio's own session
    cookie, looked up in the app's token table."""

    def __init__(self, app, owners: Owners):
        self.app, self.owners = app, owners
        self._sessions: dict[str, str] = {}  # session hash -> the user who first used it
        self._sessions_lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = _decoded(scope.get("path", ""))
        if any(route in path for route in REFUSED_ROUTES):
            return await _refuse(send)
        route = next((r for r in FILE_ROUTES if r in path), None)
        if route is not None:
            prefix, target = path.split(route, 1)
            file = owned_path(self.owners, _user(scope), target) if target else None  # relative: to the cwd
            if file is None:
                return await _refuse(send)
            checked = f"{posixpath.normpath(prefix or '/').rstrip('/')}/file={file}"
            scope = {**scope, "path": checked, "raw_path": quote(checked).encode()}
            return await self.app(scope, receive, send)
        if any(route in path for route in SESSION_ROUTES):
            return await self._session(scope, receive, send, path)
        if posixpath.normpath(path).endswith(UPLOAD_ROUTE) and scope.get("method") == "POST":
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _session(self, scope, receive, send, path: str):
        """Queue, cancel, reset and heartbeat requests: only signed in, and only with a session hash
        of the user's own (bound to the first user who names it), wherever the request carries it."""
        user = _user(scope)
        if user is None:
            return await _refuse(send, 401, b"Not signed in")
        body, more = [], True
        while more:  # read the body to find its session hash, then hand the same body on
            message = await receive()
            body.append(message.get("body", b""))
            more = message.get("more_body", False)
        data = b"".join(body)
        hashes = [path.rsplit("/heartbeat/", 1)[1].strip("/")] if "/heartbeat/" in path else []
        hashes += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [])
        try:
            named = json.loads(data).get("session_hash") if data else None
        except (ValueError, AttributeError):
            named = None
        hashes += [named] if isinstance(named, str) else []
        with self._sessions_lock:
            theirs = any(self._sessions.setdefault(h, user) != user for h in hashes)
        if theirs:
            return await _refuse(send)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        return await self.app(scope, replay, send)

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


def _decoded(path: str) -> str:
    """A request path with its percent-escapes undone until none is left (`%252e` -> `%2e` -> `.`)."""
    for _ in range(4):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    return path


async def _refuse(send, status: int = 404, text: bytes = b"Not found") -> None:
    """Answer without passing the request on (404: as if there were nothing there)."""
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text})


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

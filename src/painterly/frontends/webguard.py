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

import asyncio
import ctypes
import json
import math
import os
import posixpath
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote

from starlette.requests import Request

from . import signin

FILE_ROUTES = ("/file=", "/file/")  # Gradio's routes that serve a file by its path on disk
REFUSED_ROUTES = ("/proxy=", "/stream/", "/run-history/")  # other file and stream routes: unused here
UPLOAD_ROUTE = "/upload"  # Gradio's upload route (under /gradio_api)
CALL_ROUTE = "/call/"  # runs started with POST .../call/<api> and followed with GET .../call/<api>/<event id>
SIGN_IN_ROUTE = "/login"
SIGNED_IN_ROUTES = ("/openapi.json",)  # FastAPI's own API description, which Gradio leaves open
MAX_SIGN_IN_BYTES = 64 * 1024
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
    the disk budget of Gradio's file cache (`webguard`). Without sign-in every visitor is one user."""

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


class Guard:
    """ASGI middleware (give it to Gradio's FastAPI app) that checks every file fetch against
    `owners` and records who uploaded what. The signed-in user comes from Gradio's own session
    cookie, looked up in the app's token table."""

    def __init__(self, app, studio: Studio):
        self.app, self.studio, self.owners = app, studio, studio.owners
        self.sign_ins = signin.SignIns()
        self._sessions: dict[str, str] = {}  # session hash -> the user who first used it
        self._events: dict[str, str] = {}  # event id of a run started with .../call/ -> its user
        self._sessions_lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = _decoded(scope.get("path", ""))
        if any(route in path for route in REFUSED_ROUTES):
            return await self._refuse(scope, send)
        route = next((r for r in FILE_ROUTES if r in path), None)
        if route is not None:
            prefix, target = path.split(route, 1)
            file = owned_path(self.owners, _user(scope), target) if target else None  # relative: to the cwd
            if file is None:
                return await self._refuse(scope, send)
            checked = f"{posixpath.normpath(prefix or '/').rstrip('/')}/file={file}"
            scope = {**scope, "path": checked, "raw_path": quote(checked).encode()}
            return await self.app(scope, receive, send)
        if "/" + path.strip("/") in SIGNED_IN_ROUTES and _user(scope) is None:
            return await self._refuse(scope, send, 401, b"Not signed in")
        if any(route in path for route in SESSION_ROUTES):
            return await self._session(scope, receive, send, path)
        if CALL_ROUTE in path:
            return await self._call(scope, receive, send, path)
        if scope.get("method") == "POST" and "/" + path.strip("/") == SIGN_IN_ROUTE:
            return await self._sign_in(scope, receive, send)
        if scope.get("method") == "POST" and posixpath.normpath(path).rstrip("/").endswith(UPLOAD_ROUTE):
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _refuse(self, scope, send, status: int = 404, text: bytes = b"Not found") -> None:
        """Refuse a request; slowly from an address that keeps failing to sign in (`signin.TARPIT`),
        so a client that guesses passwords and file paths in a loop costs the server little."""
        if self.sign_ins.suspect((scope.get("client") or ("?",))[0]):
            await asyncio.sleep(signin.TARPIT)
        await _refuse(send, status, text)

    async def _sign_in(self, scope, receive, send):
        """Sign-ins wait after repeated failures for their name or from their address (`signin`)."""
        data = await _body(receive, MAX_SIGN_IN_BYTES)
        if data is None:
            return await _refuse(send, 413, b"Sign-in request too large")
        try:
            name = str((await Request(scope, _replay(data, receive)).form()).get("username", "")).strip()
        except Exception:  # not a form: Gradio refuses it (422), counted against the address
            name = ""
        address = (scope.get("client") or ("?",))[0]
        wait = self.sign_ins.begin(name, address)
        if wait:
            text = f"Too many failed sign-ins: try again in {math.ceil(wait)} s"
            return await self._refuse(scope, send, 429, text.encode())
        status = []

        async def watch(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, _replay(data, receive), watch)
        finally:
            self.sign_ins.end(name, address, status == [200])

    async def _session(self, scope, receive, send, path: str):
        """Queue, cancel, reset and heartbeat requests: only signed in, and only with a session hash
        of the user's own (bound to the first user who names it), wherever the request carries it."""
        user = _user(scope)
        if user is None:
            return await self._refuse(scope, send, 401, b"Not signed in")
        data = await _body(receive)
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
            return await self._refuse(scope, send)
        return await self.app(scope, _replay(data, receive), send)

    async def _call(self, scope, receive, send, path: str):
        """Runs started with `POST .../call/<api>` (the answer names an event id, bound here to the
        user who started it) and followed with `GET .../call/<api>/<event id>`: by that user only."""
        user = _user(scope)
        if user is None:
            return await self._refuse(scope, send, 401, b"Not signed in")
        if scope.get("method") != "POST":
            with self._sessions_lock:
                mine = self._events.get(path.rstrip("/").rsplit("/", 1)[1]) == user
            return await (self.app(scope, receive, send) if mine else self._refuse(scope, send))
        answer = await _answer(self.app, scope, receive)
        try:
            event = json.loads(b"".join(m.get("body", b"") for m in answer[1:])).get("event_id")
        except (ValueError, AttributeError):
            event = None
        if isinstance(event, str):
            with self._sessions_lock:
                self._events[event] = user
        for message in answer:
            await send(message)

    async def _upload(self, scope, receive, send):
        """Pass the upload through, then record its files (the answer lists their paths) as the user's
        and make room for them within the user's share of the disk, or refuse it (413)."""
        user = _user(scope)
        length = int(dict(scope.get("headers", ())).get(b"content-length", b"0") or 0)
        if user is not None and length > self.studio.max_disk_per_user:
            return await _refuse(send, 413, self.studio.too_big(length).encode())
        answer = await _answer(self.app, scope, receive)
        status = answer[0]["status"] if answer and answer[0]["type"] == "http.response.start" else 0
        if status == 200 and user is not None:
            try:
                saved = [str(p) for p in json.loads(b"".join(m.get("body", b"") for m in answer[1:]))]
            except (ValueError, TypeError):
                saved = []
            refusal = await asyncio.to_thread(self.studio.uploaded, user, saved)
            if refusal:
                return await _refuse(send, 413, refusal.encode())
        for message in answer:
            await send(message)


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


async def _answer(app, scope, receive) -> list[dict]:
    """The messages of `app`'s whole answer to a request, held back to be looked at (short answers only)."""
    answer = []

    async def hold(message):
        answer.append(message)

    await app(scope, receive, hold)
    return answer


async def _body(receive, limit: int | None = None) -> bytes | None:
    """A request's whole body (None when longer than `limit` bytes)."""
    parts, size, more = [], 0, True
    while more:
        message = await receive()
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if limit is not None and size > limit:
            return None
        more = message.get("more_body", False)
    return b"".join(parts)


def _replay(data: bytes, receive):
    """A `receive` that gives `data` (the body already read) once, then what the client sends next."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    return replay


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

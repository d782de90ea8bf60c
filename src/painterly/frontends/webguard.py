"""What keeps a shared web server's users apart: an ASGI guard in front of Gradio that decides for
every request whether it may touch a file or a session, and slows down guessing (`studio` keeps
who owns what; `signin` the password check and the back-off).

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
import json
import math
import posixpath
import threading
from urllib.parse import parse_qs, quote, unquote

from starlette.requests import Request

from . import signin
from .studio import Studio, owned_path

FILE_ROUTES = ("/file=", "/file/")  # Gradio's routes that serve a file by its path on disk
REFUSED_ROUTES = ("/proxy=", "/stream/", "/run-history/")  # other file and stream routes: unused here
UPLOAD_ROUTE = "/upload"  # Gradio's upload route (under /gradio_api)
CALL_ROUTE = "/call/"  # runs started with POST .../call/<api> and followed with GET .../call/<api>/<event id>
SIGN_IN_ROUTE = "/login"
SIGNED_IN_ROUTES = ("/openapi.json",)  # FastAPI's own API description, which Gradio leaves open
MAX_SIGN_IN_BYTES = 64 * 1024
SESSION_ROUTES = ("/queue/join", "/queue/data", "/cancel", "/reset", "/heartbeat/")  # name a session hash


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

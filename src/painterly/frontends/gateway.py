"""The one door of the web server: an ASGI gateway in front of Gradio (the outermost app, so every
request and every answer passes it) that denies by default.

- **Allowlist.** A request passes only when `routes.allowed` names its method and path and its
  query keys; anything else is 404, signed in or not.
- **One identity.** The user of a request is decided once (`identify`), with Starlette's cookie
  parser, the one Gradio reads its session cookie with; a request whose cookies could be read two
  ways (quoted, escaped, named twice, two different tokens) is refused. Every later check uses it.
- **Every byte counted.** Request bodies are metered while they stream, chunked or not (`Meter`):
  bounded per route, uploads charged against their user's disk share from the first byte, a body
  that stalls times out, and what an aborted upload left is swept (`studio.Studio.uploads`).
- **Bounded state.** Session hashes have Gradio's alphabet and length; the tables that bind them
  and `/call/` event ids to their user are capped per user (`Bound`).
- **Same origin.** A request from another origin is refused; answers carry no CORS headers, the
  session cookies are `SameSite=Lax`, and signing out is a POST that ends this session only.
- **Files per owner.** `/file=` serves exactly the files the user uploaded or their runs made
  (`studio.owned_path`), the path decoded and normalised once and handed on as checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import OrderedDict
from http import cookies as http_cookies
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from starlette.requests import Request

from . import routes, signin
from .asgi import Answer, Meter, Refused, answer, call, keep_headers, replay
from .studio import ANYONE, Studio, owned_path

SESSIONS_PER_USER = 1000  # session hashes (and /call/ events) remembered per user, the oldest dropped
SESSION_HASH = re.compile(routes.SESSION_HASH)
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")  # Gradio's tokens: secrets.token_urlsafe
FILE_HEADERS = {  # what a file answer may carry (Gradio's ranged answers echoed the request's)
    b"content-type", b"content-length", b"content-range", b"accept-ranges", b"content-disposition",
    b"content-encoding", b"etag", b"last-modified", b"cache-control", b"date", b"server", b"vary",
}  # fmt: skip
log = logging.getLogger("painterly.web")


class Bound:
    """{key: owner} that keeps at most `cap` keys per owner and forgets keys unused for `age` s;
    the first owner to name a key keeps it. Not thread-safe: used on the event loop only."""

    def __init__(self, cap: int = SESSIONS_PER_USER, age: float = 24 * 3600, clock=time.monotonic):
        self.cap, self.age, self.clock = cap, age, clock
        self._owner: dict[str, str] = {}
        self._keys: dict[str, OrderedDict[str, float]] = {}  # owner -> {key: last used}

    def claim(self, key: str, user: str) -> bool:
        """Bind `key` to `user` unless another user holds it; whether `user` may use it."""
        owner = self._owner.get(key)
        keys = self._keys.setdefault(user, OrderedDict())
        if owner is not None and owner != user:
            return False
        now = self.clock()
        keys[key] = now
        keys.move_to_end(key)
        self._owner[key] = user
        while keys and (len(keys) > self.cap or now - next(iter(keys.values())) > self.age):
            self._owner.pop(keys.popitem(last=False)[0], None)
        return True

    def owner(self, key: str) -> str | None:
        return self._owner.get(key)

    def __len__(self) -> int:
        return len(self._owner)


class Gateway:
    """The ASGI app the server runs: checks each request (see the module's docstring) and passes
    what may pass to `app` (a FastAPI app with Gradio mounted in it). `gradio` is the mounted Gradio
    app (its sign-in tokens), `studio` the owners and disk budget, `signed_in` whether users sign in
    (without, everyone is the one user `ANYONE`)."""

    HANDLERS = ("pass", "sign_in", "sign_out", "upload", "file", "session", "call")

    def __init__(self, app, gradio, studio: Studio, signed_in: bool):
        self.app, self.gradio, self.studio, self.signed_in = app, gradio, studio, signed_in
        self.sign_ins = signin.SignIns()
        self.sessions, self.events = Bound(), Bound()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":  # websockets: the page uses none
            return await send({"type": "websocket.close", "code": 1008})
        send = Answer(send)
        try:
            route, user = self._admit(scope)
            handler = getattr(self, "_" + route.handler)
            return await handler(scope, Meter(receive, route.body), send, user)
        except Refused as refused:
            if self.sign_ins.suspect(_address(scope)):
                await asyncio.sleep(signin.TARPIT)  # a client that keeps failing: one answer a second
            await send.refuse(refused.status, refused.text)

    def _admit(self, scope) -> tuple[routes.Route, str | None]:
        """The route that lets the request through and its user (None: signed out), or Refused."""
        path = scope.get("path", "")
        route = routes.allowed(scope.get("method", ""), path)
        if route is None or "\0" in path:
            raise Refused(404, "Not found")
        keys = {key for key, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)}
        if keys - set(route.query):
            raise Refused(404, "Not found")
        if not _same_origin(scope):
            raise Refused(403, "Cross-origin requests are refused")
        user = identify(scope, self.gradio) if self.signed_in else ANYONE
        if user is None and not route.signed_out:
            raise Refused(401, "Not signed in")
        return route, user

    async def _pass(self, scope, receive, send, user):
        await call(self.app, scope, receive, send)

    async def _sign_in(self, scope, receive, send, user):
        """Sign-ins wait after repeated failures for their name from their address, or from their
        address for any name (`signin.SignIns`)."""
        data = await receive.body()
        try:
            name = str((await Request(scope, replay(data, receive)).form()).get("username", "")).strip()
        except Exception:  # not a form: Gradio refuses it (422), counted against the address
            name = ""
        address = _address(scope)
        wait = self.sign_ins.begin(name, address)
        if wait:
            raise Refused(429, f"Too many failed sign-ins: try again in {math.ceil(wait)} s")
        status = []

        async def watch(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await call(self.app, scope, replay(data, receive), watch)
        finally:
            self.sign_ins.end(name, address, status == [200])

    async def _sign_out(self, scope, receive, send, user):
        """End this browser's session only (Gradio's GET /logout ended every session of the user)."""
        await receive.body()
        cookies = Request(scope).cookies
        names = [f"access-token-{self.gradio.cookie_id}", f"access-token-unsecure-{self.gradio.cookie_id}"]
        for name in names:
            self.gradio.tokens.pop(cookies.get(name), None)
        expired = [f"{n}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax".encode() for n in names]
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"./"), *((b"set-cookie", c) for c in expired)]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    async def _file(self, scope, receive, send, user):
        """A file by its owner only: the path decoded and normalised once, handed on as checked."""
        target = _decoded(scope["path"]).split("/file=", 1)[1]
        file = owned_path(self.studio.owners, user, target) if "\0" not in target else None
        if file is None:
            raise Refused(404, "Not found")
        checked = "/gradio_api/file=" + file
        scope = {**scope, "path": checked, "raw_path": quote(checked).encode()}
        await call(self.app, scope, receive, keep_headers(send, FILE_HEADERS))

    async def _session(self, scope, receive, send, user):
        """Queue, cancel, reset and predict requests: session hashes of Gradio's form, each bound to
        the first user who names it, wherever the request carries it."""
        data = await receive.body() if scope["method"] == "POST" else b""
        hashes = [v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k == "session_hash"]
        try:
            named = json.loads(data).get("session_hash") if data else None
        except (ValueError, AttributeError):
            raise Refused(400, "Expected a JSON object") from None
        hashes += [] if named is None else [named]
        if not all(isinstance(h, str) and SESSION_HASH.fullmatch(h) for h in hashes):
            raise Refused(400, "Not a session hash")
        if not hashes and not scope["path"].endswith("/reset"):
            raise Refused(400, "No session hash")
        if not all(self.sessions.claim(h, user) for h in hashes):
            raise Refused(404, "Not found")
        await call(self.app, scope, replay(data, receive) if data else receive, send)

    async def _call(self, scope, receive, send, user):
        """Runs started with `POST .../call/stylize` (the answer names an event id, bound here to its
        user) and followed with `GET .../call/stylize/<event id>`: by that user only."""
        if scope["method"] == "GET":
            if self.events.owner(scope["path"].rstrip("/").rsplit("/", 1)[1]) != user:
                raise Refused(404, "Not found")
            return await call(self.app, scope, receive, send)
        held = await answer(self.app, scope, replay(await receive.body(), receive))
        event = _json_of(held)
        if isinstance(event, dict) and isinstance(event.get("event_id"), str):
            self.events.claim(event["event_id"], user)
        for message in held:
            await send(message)

    async def _upload(self, scope, receive, send, user):
        """Each byte of an upload is charged to its user's share as it arrives (`Studio.uploads`),
        so nothing beyond the share is ever written; when it is done its files are the user's."""
        length = dict(scope.get("headers", ())).get(b"content-length", b"0")
        length = int(length) if length.isdigit() else 0  # chunked: counted as it comes
        if length > self.studio.max_disk_per_user:
            raise Refused(413, self.studio.too_big(length))
        async with self.studio.uploads.open(user) as upload:

            async def charge(size: int) -> None:
                refusal = await upload.charge(size)
                if refusal:
                    raise Refused(413, refusal)

            receive.limit, receive.charge = math.inf, charge
            try:
                held = await answer(self.app, scope, receive)
            except Refused:
                raise
            except Exception as exc:  # Gradio failed on a malformed upload (e.g. an empty file name)
                log.warning("upload refused: %s: %s", type(exc).__name__, exc)
                raise Refused(400, "Malformed upload") from None
            status = held[0]["status"] if held and held[0]["type"] == "http.response.start" else 0
            if status >= 500:
                raise Refused(400, "Malformed upload")
            saved = _json_of(held) if status == 200 else None
            saved = [str(p) for p in saved] if isinstance(saved, list) else []
            upload.settle(saved)
        if saved:
            refusal = await asyncio.to_thread(self.studio.uploaded, user, saved)
            if refusal:
                raise Refused(413, refusal)
        for message in held:
            await send(message)


def _json_of(held: list[dict]) -> object:
    """The JSON value of a held answer's body (None when it is not JSON)."""
    try:
        return json.loads(b"".join(m.get("body", b"") for m in held[1:]))
    except ValueError:
        return None


def identify(scope, gradio) -> str | None:
    """The signed-in user of a request, read as Gradio reads it (Starlette's cookie parser, the
    secure cookie first); None when signed out. Cookies that could be read two ways are Refused."""
    names = (f"access-token-{gradio.cookie_id}", f"access-token-unsecure-{gradio.cookie_id}")
    raw = [
        (key.strip(), value.strip())
        for name, header in scope.get("headers", ())
        if name == b"cookie"
        for key, _, value in (part.partition("=") for part in header.decode("latin-1").split(";"))
    ]
    seen = [(key, value) for key, value in raw if key.startswith("access-token")]
    values = {value for _, value in seen}
    if (
        len({key for key, _ in seen}) != len(seen)
        or len(values) > 1
        or any(not TOKEN.fullmatch(value) or http_cookies._unquote(value) != value for value in values)
    ):
        raise Refused(400, "Ambiguous session cookies")
    cookies = Request(scope).cookies
    token = cookies.get(names[0]) or cookies.get(names[1])
    return gradio.tokens.get(token) if token else None


def _same_origin(scope) -> bool:
    """Whether the request comes from this server's own pages (or from no page: API clients send
    no Origin). Behind a proxy, the proxy must pass the Host header on."""
    headers = dict(scope.get("headers", ()))
    origin = headers.get(b"origin")
    if origin is None:
        return headers.get(b"sec-fetch-site", b"same-origin") in (b"same-origin", b"none")
    host = headers.get(b"host", b"").decode("latin-1").lower()
    try:
        parts = urlsplit(origin.decode("latin-1").lower())
    except ValueError:
        return False
    default = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
    return bool(parts.netloc) and parts.netloc.removesuffix(default) == host.removesuffix(default)


def _address(scope) -> str:
    return (scope.get("client") or ("?",))[0]


def _decoded(path: str) -> str:
    """A request path with its percent-escapes undone until none is left (`%252e` -> `%2e` -> `.`)."""
    for _ in range(4):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    return path

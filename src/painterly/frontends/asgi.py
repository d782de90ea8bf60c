"""ASGI plumbing for the gateway (`gateway`): a request body metered as it streams, answers kept
same-origin, a request passed on with the gateway's refusals winning over Gradio's error pages."""

from __future__ import annotations

import asyncio
import re
import time

BODY_IDLE = 20.0  # s: a request body that sends nothing for this long is cut off
BODY_RATE = 16 * 1024  # bytes/s: ...or that averages less than this after its first BODY_IDLE seconds


class Refused(Exception):
    """A request stopped by the gateway: (HTTP status, one-line reason)."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status, self.text = status, text


class Meter:
    """A `receive` that counts the body as it streams: `limit` bytes at most, each chunk passed to
    `charge` (which may raise Refused), and a body that stalls for BODY_IDLE s or averages less
    than BODY_RATE after that is cut off (408)."""

    def __init__(self, receive, limit: float):
        self.receive, self.limit, self.charge = receive, limit, None
        self.size, self.started, self.done = 0, time.monotonic(), False

    async def __call__(self):
        if self.done:  # the body is in: what comes next is the client's disconnect, whenever
            return await self.receive()
        try:
            message = await asyncio.wait_for(self.receive(), BODY_IDLE)
        except TimeoutError:
            raise Refused(408, "The request body stalled") from None
        if message["type"] == "http.request":
            chunk = len(message.get("body", b""))
            self.size += chunk
            if self.size > self.limit:
                raise Refused(413, "Request too large")
            elapsed = time.monotonic() - self.started
            if elapsed > BODY_IDLE and self.size < BODY_RATE * elapsed and message.get("more_body"):
                raise Refused(408, "The request body is too slow")
            if self.charge is not None and chunk:
                await self.charge(chunk)
            self.done = not message.get("more_body", False)
        return message

    async def body(self) -> bytes:
        """The whole body (within `limit`)."""
        parts, more = [], True
        while more:
            message = await self()
            if message["type"] == "http.disconnect":
                raise Refused(400, "The client went away")
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(parts)


class Answer:
    """A `send` that keeps answers same-origin (no CORS headers; cookies SameSite=Lax) and can
    refuse a request whose answer has not started yet."""

    def __init__(self, send):
        self.send, self.started = send, False

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.started = True
            headers = []
            for key, value in message.get("headers", ()):
                if key.lower().startswith(b"access-control-"):
                    continue
                if key.lower() == b"set-cookie":
                    value = re.sub(rb"(?i)samesite=none", b"SameSite=Lax", value)
                headers.append((key, value))
            message = {**message, "headers": headers}
        await self.send(message)

    async def refuse(self, status: int, text: str) -> None:
        if self.started:  # the answer is on its way: all that is left is to end it
            return
        await self({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await self({"type": "http.response.body", "body": text.encode()})


def keep_headers(send, keep: set[bytes]):
    async def filtered(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [(k, v) for k, v in message.get("headers", ()) if k.lower() in keep]}
        await send(message)

    return filtered


async def call(app, scope, receive, send) -> None:
    """Pass the request on; a Refused raised while Gradio read the body (too large, too slow, over
    the share) wins over whatever Gradio's error handler made of it."""
    refused: list[Refused] = []

    async def watched():
        try:
            return await receive()
        except Refused as exc:
            refused.append(exc)
            raise

    async def held(message):
        if not refused:
            await send(message)

    try:
        await app(scope, watched, held)
    except Exception:
        if refused:
            raise refused[0] from None
        raise
    if refused:
        raise refused[0]


async def answer(app, scope, receive) -> list[dict]:
    """The messages of `app`'s whole answer to a request, held back to be looked at (short answers only)."""
    answer = []

    async def hold(message):
        answer.append(message)

    await call(app, scope, receive, hold)
    return answer


def replay(data: bytes, receive):
    """A `receive` that gives `data` (the body already read) once, then what the client sends next
    (its disconnect)."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    return replay

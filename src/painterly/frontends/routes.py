"""The web server's allowlist: every (method, route) the page and the documented `gradio_client` API
use, and nothing else. The gateway (`gateway.Gateway`) answers 404 to any request that matches no
entry here, signed in or not, so a route a new Gradio version adds starts closed.

One entry per route, each with what uses it. `handler` names how the gateway passes it on
(`gateway.Gateway.HANDLERS`); `query` the query keys it may carry (any other key: 404);
`signed_out` marks what the sign-in page needs (the rest answers 401 without sign-in); `body` the
largest request body in bytes (uploads are bounded by the user's disk share instead).
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL_BODY = 64 * 1024  # bytes: a sign-in form, a cancel
RUN_BODY = 256 * 1024  # bytes: a run's inputs (file references and the controls' values)
SESSION_HASH = r"[A-Za-z0-9_-]{1,64}"  # the page's (base 36) and gradio_client's (a UUID)


@dataclass(frozen=True)
class Route:
    """One allowed (method, path): `path` is exact, or a prefix when it ends in '/' or '='."""

    method: str
    path: str
    handler: str = "pass"
    query: tuple[str, ...] = ()
    signed_out: bool = False
    body: int = 0

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        if self.path.endswith(("/", "=")) and self.path != "/":
            return path.startswith(self.path) and len(path) > len(self.path)
        return path == self.path


ROUTES = (
    # The sign-in page and what it loads (Gradio shows the sign-in form to a signed-out browser).
    Route("GET", "/", signed_out=True),  # the page
    Route("HEAD", "/", signed_out=True),  # uptime checks, the tests' "is it up"
    Route("GET", "/assets/", signed_out=True),  # the page's scripts and styles
    Route("GET", "/static/", signed_out=True),  # fonts, logo, iframe resizer
    Route("GET", "/favicon.ico", signed_out=True),  # the browser's tab icon
    Route("GET", "/manifest.json", signed_out=True),  # the browser, at load
    Route("GET", "/theme.css", query=("v",), signed_out=True),  # the page's colours
    Route("GET", "/config", signed_out=True),  # the page's layout (signed out: Gradio's 401 and sign-in message)
    Route("POST", "/login", "sign_in", signed_out=True, body=SMALL_BODY),  # the sign-in form, gradio_client's auth
    Route("POST", "/logout", "sign_out", body=SMALL_BODY),  # ends this browser's session only
    # Signed in: the page and gradio_client.
    Route("GET", "/gradio_api/info", query=("serialize", "all_endpoints")),  # gradio_client at connect; API page
    Route("GET", "/gradio_api/startup-events"),  # the page, once at load
    Route("POST", "/gradio_api/upload", "upload", query=("upload_id",)),  # the file controls; handle_file()
    Route("GET", "/gradio_api/upload_progress", query=("upload_id",)),  # the page's upload progress bar
    Route("GET", "/gradio_api/file=", "file"),  # previews, results and uploads, each by its owner only
    Route("POST", "/gradio_api/queue/join", "session", body=RUN_BODY),  # Run (page and gradio_client)
    Route("GET", "/gradio_api/queue/data", "session", query=("session_hash",)),  # a run's progress stream
    Route("POST", "/gradio_api/cancel", "session", body=SMALL_BODY),  # Cancel
    Route("POST", "/gradio_api/reset", "session", body=SMALL_BODY),  # the page, after a cancel
    Route("POST", "/gradio_api/run/predict", "session", body=RUN_BODY),  # demo button, presets, cancel's note
    Route("POST", "/gradio_api/call/stylize", "call", body=RUN_BODY),  # the API page's REST example: start...
    Route("GET", "/gradio_api/call/stylize/", "call"),  # ...and follow a run (its starter only)
)


def allowed(method: str, path: str) -> Route | None:
    """The entry that lets `method` `path` through, or None (answered 404)."""
    return next((route for route in ROUTES if route.matches(method, path)), None)

"""Hosting the web page (`web.build_app`): Gradio mounted in an app of our own, behind the gateway
(`gateway.Gateway`, the one door every request passes), served by uvicorn on a thread."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from . import gateway
from .studio import Studio
from .web import CSS, MAX_FILE_SIZE


@dataclass
class Served:
    """A running server: the page, its uvicorn server and the thread it runs in."""

    page: gr.Blocks
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def is_running(self) -> bool:
        return self.thread.is_alive() and not self.server.should_exit

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.page.close(verbose=False)


def serve(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    auth=None,
    studio: Studio | None = None,
) -> Served:
    """Start `app` (from `build_app`) on host:port (loopback unless told otherwise) behind the
    gateway (`gateway.Gateway`: only the routes the page uses, same origin, every byte counted);
    with `block`, serve until Ctrl-C, else return the running server (see `wait`). With `auth`
    ((name, password) -> bool) everyone signs in and fetches only their own files (`studio`'s
    owners, the one passed to `build_app`). Raises OSError when the port is taken."""
    studio = studio or Studio()
    # Gradio adds CORS headers of its own unless the app it is mounted in has a CORSMiddleware: this
    # one allows no other origin (and the gateway refuses cross-origin requests before it).
    outer = FastAPI(middleware=[Middleware(CORSMiddleware, allow_origins=[])], docs_url=None, redoc_url=None)
    gr.mount_gradio_app(
        outer,
        app,
        "/",
        server_name=host,
        server_port=port,
        footer_links=["api"],
        run_history=False,
        auth=auth,
        auth_message="Sign in with the name and password the server's owner gave you." if auth else None,
        allowed_paths=[],
        show_error=True,
        max_file_size=MAX_FILE_SIZE,
        ssr_mode=False,
        mcp_server=False,
        css=CSS,
    )
    gradio = next(route.app for route in outer.routes if isinstance(route, Mount))
    listening = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    config = uvicorn.Config(gateway.Gateway(outer, gradio, studio, auth is not None), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        raise OSError(f"the server on {host}:{port} did not start (see the log above)")
    served = Served(app, server, thread)
    if block:
        wait(served)
    return served


def wait(served: Served) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt), then close the server."""
    try:
        while served.is_running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        served.close()

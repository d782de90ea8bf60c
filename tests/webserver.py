"""Helpers for tests and scripts that drive a real `painterly web` server on 127.0.0.1: start,
wait, stop, measure its memory, and N gradio_client users submitting at once (bench/web_load.py,
tests/test_web.py, docs/make_web_screenshot.py). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

STARTUP_TIMEOUT = 240  # s: importing gradio and torch on a busy 2-core machine is slow

# Headless Debian Chromium on a machine without internet: without the networking flags it keeps
# trying (and failing) to reach Google's services. Used by tests/test_web.py and the screenshot script.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, *args: str, log: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """`painterly web --port PORT ARGS` in a subprocess (one torch thread unless OMP_NUM_THREADS
    says otherwise; stdout/stderr to `log`; `env` added to the environment)."""
    env = {"OMP_NUM_THREADS": "1", **os.environ, **(env or {})}
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "painterly", "web", "--port", str(port), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = STARTUP_TIMEOUT) -> None:
    """Return once `url` answers 200; raise if the server exits or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"server at {url} did not answer within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Ends(tuple):
    """(base URL, Gradio's file folder) of a running server, and its process id as `.pid`."""

    def __new__(cls, ends: tuple, pid: int):
        made = super().__new__(cls, ends)
        made.pid = pid
        return made


@contextlib.contextmanager
def signed_in_server(folder: Path, people: dict[str, str], *args: str):
    """A `painterly web --auth-file` server on 127.0.0.1 for `people` ({name: password}) with `args`,
    its files and log in `folder`: yields (base URL, Gradio's file folder) with the server's `.pid`;
    stopped afterwards."""
    from painterly.frontends import users

    auth = folder / "users.txt"
    for name, password in people.items():
        users.add(auth, name, password)
    port, files = free_port(), folder / "gradio"
    proc = start_server(
        port, "--auth-file", str(auth), *args, log=folder / "server.log", env={"GRADIO_TEMP_DIR": str(files)}
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)  # the sign-in page
        yield Ends((url, files), proc.pid)
    finally:
        stop_server(proc)
        print((folder / "server.log").read_text()[-3000:])


def folder_bytes(folder: Path) -> int:
    """Bytes in the files under `folder` now; counted again when a file goes while it is counted."""
    for _ in range(10):
        try:
            return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        except OSError:
            continue
    raise RuntimeError(f"{folder} keeps changing")


def rss_mib(pid: int) -> float:
    """Resident memory (VmRSS) of a live process now, MiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def idle(process, seconds: float, cpu_seconds: float) -> bool:
    """Whether `process` (psutil) used under `cpu_seconds` of CPU in the next `seconds` (it waits them)."""
    before = sum(process.cpu_times()[:2])
    time.sleep(seconds)
    return sum(process.cpu_times()[:2]) - before < cpu_seconds


def settled_rss_mib(pid: int, timeout: float = 120.0) -> float:
    """`rss_mib` once the process is idle (under 5 % of a CPU over half a second): a run another
    test started may still be ending, and a busy machine makes that take longer."""
    import psutil

    process, end = psutil.Process(pid), time.monotonic() + timeout
    while time.monotonic() < end and not idle(process, 0.5, 0.025):
        pass
    return rss_mib(pid)


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@dataclass
class ClientResult:
    """What one client saw: seconds queued and running, largest queue position, its PNG."""

    index: int
    wait_s: float = 0.0
    run_s: float = 0.0
    max_rank: int = 0
    png: str | None = None
    error: str = ""
    started: float = 0.0  # monotonic s when the server began its run
    finished: float = 0.0
    statuses: list[str] = field(default_factory=list)


def run_client(
    url: str, index: int, content: str, style: str, barrier: threading.Barrier, timeout: float, folder: Path, **controls
) -> ClientResult:
    """One user: connect, wait for the others, submit, follow the status until the result (saved in `folder`)."""
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    result = ClientResult(index)
    try:
        client = Client(url, verbose=False, download_files=str(folder))
        barrier.wait(timeout=timeout)
        submitted = time.monotonic()
        job = client.submit(content=handle_file(content), styles=[handle_file(style)], api_name="/stylize", **controls)
        deadline = submitted + timeout
        while not job.done() and time.monotonic() < deadline:
            status = job.status()
            result.max_rank = max(result.max_rank, status.rank or 0)
            if status.code == Status.PROCESSING and not result.started:
                result.started = time.monotonic()
            if status.code == Status.FINISHED and not result.finished:
                result.finished = time.monotonic()  # before the client has downloaded the outputs
            time.sleep(0.05)
        outputs = job.result(timeout=max(1.0, deadline - time.monotonic()))
        result.finished = result.finished or time.monotonic()
        result.started = result.started or submitted
        result.wait_s, result.run_s = result.started - submitted, result.finished - result.started
        result.png = outputs[2]
    except Exception as exc:  # reported per client; the table shows what failed
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def check_png(path: str | None, size: int, iterations: int) -> str:
    """'' if `path` is a finished painterly PNG of long side `size`, else what is wrong."""
    from painterly.media import images

    if not path or not Path(path).exists():
        return "no file"
    with Image.open(path) as im:
        if im.format != "PNG" or max(im.size) != size:
            return f"{im.format} {im.size}"
    meta = images.read_metadata(path)
    if meta.get("iterations_done") != str(iterations) or "partial" in meta:
        return f"metadata {meta.get('iterations_done')} partial={meta.get('partial')}"
    return ""


def most_at_once(results: list[ClientResult], slack: float = 1.0) -> int:
    """The most runs in progress at one moment, as the clients saw them.

    Each client hears of its start and end a little late (measured up to 0.5 s on a busy 2-core
    machine), so every interval is trimmed by `slack` s at both ends; shorter runs are left out.
    """
    events = []
    for r in results:
        if r.finished - r.started > 2 * slack:
            events += [(r.started + slack, 1), (r.finished - slack, -1)]
    running = peak = 0
    for _, delta in sorted(events):
        running += delta
        peak = max(peak, running)
    return peak


def load(
    url: str, clients: int, content: str, style: str, timeout: float, folder: Path, **controls
) -> list[ClientResult]:
    """Submit `clients` runs at the same moment, one thread and session each; results in order,
    their PNGs under `folder`."""
    barrier = threading.Barrier(clients)
    results: list[ClientResult | None] = [None] * clients

    def one(i: int) -> None:
        (folder / f"client{i}").mkdir(parents=True, exist_ok=True)
        results[i] = run_client(url, i, content, style, barrier, timeout, folder / f"client{i}", **controls)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    return [r or ClientResult(i, error="thread did not finish") for i, r in enumerate(results)]

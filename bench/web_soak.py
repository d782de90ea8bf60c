"""Soak test of a shared web server (issue "studio server", must-show 2): signed-in users, many runs.

Starts `painterly web --auth-file` on a free loopback port with USERS users, each a thread with its
own gradio_client session that submits RUNS runs one after another (64 px, few iterations). Prints
per-user queue waits and run times (no user starved), whether all results are valid PNGs, errors
in the server log, and the server's resident memory: its peak once the first 10 runs are done
against its peak at the end (a leak grows the second). Only 127.0.0.1 is contacted.

With `--attacker`, the same soak runs twice, without and then with one more client that hammers the
server throughout: wrong sign-ins for the users' names and fetches of their files (paths read from
the server's cache, as if leaked) in every form the file guard knows, signed out. It claims to come
from its own machine (X-Forwarded-For, which the server takes from a proxy on 127.0.0.1 only), or,
with `--attacker-addresses N`, from N machines in turn (the sign-in back-off then rarely applies).
The table gives the users' median wait and run time in both soaks, and what the attacker got.

    .venv/bin/python bench/web_soak.py --users 6 --runs 10 --iterations 40
    .venv/bin/python bench/web_soak.py --users 6 --runs 10 --iterations 40 --attacker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from painterly.core.resources import parse_bytes  # noqa: E402
from webserver import check_png, folder_bytes, free_port, rss_mib, start_server, stop_server, wait_ready  # noqa: E402


class Memory(threading.Thread):
    """Samples the server's resident memory (VmRSS) every 0.5 s; `mark()` notes the peak so far."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.marked, self.running, self.end = pid, 0.0, None, True, 0.0
        self.now, self.timeline = 0.0, []  # RSS after every 10th finished run

    def run(self) -> None:
        while self.running:
            try:
                self.now = rss_mib(self.pid)
                self.peak = max(self.peak, self.now)
            except (OSError, StopIteration):
                pass
            time.sleep(0.5)

    def mark(self) -> None:
        self.marked = self.marked or self.peak


def user(url: str, name: str, password: str, content: str, style: str, runs: int, folder: Path, log: list, done):
    """One signed-in user's runs, one after another: (wait s, run s, error) each."""
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    client = Client(url, auth=(name, password), verbose=False, download_files=str(folder))
    for _ in range(runs):
        submitted, started = time.monotonic(), None
        try:
            job = client.submit(
                content=handle_file(content), styles=[handle_file(style)], api_name="/stylize", **log[0]
            )
            while not job.done():
                if started is None and job.status().code == Status.PROCESSING:
                    started = time.monotonic()
                time.sleep(0.05)
            png = job.result()[2]
            started = started or submitted
            log.append(
                (name, started - submitted, time.monotonic() - started, check_png(png, 64, log[0]["iterations"]))
            )
        except Exception as exc:  # reported in the table
            log.append((name, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))
        done()


def attacker(url: str, names: list[str], cache: Path, addresses: int, stop: threading.Event, tally: Counter) -> None:
    """Hammer sign-in and the file routes until `stop`: one guess, then one file fetch, again and again."""
    import http.client
    import random

    import httpx

    host, port = url.split("//")[1].strip("/").split(":")
    forms = ("/gradio_api/file={}", "/gradio_api/file/{}", "/gradio_api/file/../../../..{}", "/gradio_api//file={}")
    n = 0
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            k = n % addresses
            headers = {"X-Forwarded-For": f"10.66.{k // 250 % 250}.{k % 250 + 1}"}
            guess = {"username": names[n % len(names)], "password": f"guess{n}"}
            tally[f"sign-in {client.post(url + 'login', data=guess, headers=headers).status_code}"] += 1
            leaked = [str(f) for f in cache.rglob("*.png")] or ["/etc/passwd"]
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request("GET", random.choice(forms).format(random.choice(leaked)), headers=headers)
            tally[f"file {conn.getresponse().status}"] += 1
            conn.close()
            n += 1


def insider(url: str, name: str, password: str, stop: threading.Event, tally: Counter) -> None:
    """A signed-in user who attacks the server's memory and disk until `stop` (issue 38's attacks 1,
    2, 3 and 5): an 8 MB session hash to /reset, a 3 x 1 MB upload with a quoted cookie, a 2 MB file
    to a route the page never uses, a 4 MB chunked upload, and 4 slow chunked uploads left open."""
    import json
    import os
    import socket

    import httpx

    client = httpx.Client(timeout=120)
    client.post(url + "login", data={"username": name, "password": password})
    cookie = next((k, v) for k, v in client.cookies.items() if k.startswith("access-token"))
    host, port = url.split("//")[1].strip("/").split(":")

    def chunked(size: int, pause: float) -> str:
        head = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.png"\r\n'
                b"Content-Type: image/png\r\n\r\n")  # fmt: skip
        sock = socket.create_connection((host, int(port)), timeout=60)
        try:
            sock.sendall(f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie[0]}={cookie[1]}"
                         "\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked"
                         "\r\n\r\n".encode())  # fmt: skip
            for part in (head, *[os.urandom(65536)] * (size // 65536), b"\r\n--b--\r\n"):
                sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                if stop.wait(pause):
                    return "stopped"
            sock.sendall(b"0\r\n\r\n")
            return sock.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError):
            return "cut off"
        finally:
            sock.close()

    def slow() -> None:
        while not stop.is_set():
            tally[f"slow upload {chunked(4_000_000, 2.0)}"] += 1

    for _ in range(4):
        threading.Thread(target=slow, daemon=True).start()
    n = 0
    while not stop.is_set():
        body = json.dumps({"session_hash": chr(65 + n % 50) + "A" * 8_000_000, "fn_index": 0, "event_id": "x"})
        try:
            tally[f"reset 8 MB {client.post(url + 'gradio_api/reset', content=body).status_code}"] += 1
        except httpx.HTTPError:
            tally["reset 8 MB cut off"] += 1
        quoted = {"Cookie": f'{cookie[0]}="{cookie[1]}"'}
        files = [("files", (f"q{k}.png", os.urandom(1_000_000))) for k in range(3)]
        tally[
            f"quoted-cookie upload {httpx.post(url + 'gradio_api/upload', headers=quoted, files=files).status_code}"
        ] += 1
        video = {"video": ("v.mp4", os.urandom(2_000_000))}
        tally[f"process_recording {client.post(url + 'gradio_api/process_recording', files=video).status_code}"] += 1
        tally[f"chunked 4 MB {chunked(4_000_000, 0.0)}"] += 1
        n += 1
        stop.wait(1.0)


class Disk(threading.Thread):
    """Samples the bytes in the server's file folder every second: the largest seen."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        self.folder, self.peak, self.running, self.samples = folder, 0, True, 0

    def run(self) -> None:
        while self.running:
            self.peak, self.samples = max(self.peak, folder_bytes(self.folder)), self.samples + 1
            time.sleep(1.0)


def soak(args, tmp: Path, names: list[str], contents: list[str], style: str, attack: bool):
    """One soak: (runs logged, seconds, memory, server log text, the attacker's tally)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = tmp / f"server-{'attacked' if attack else 'quiet'}.log"
    cache = tmp / f"files-{'attacked' if attack else 'quiet'}"
    proc = start_server(port, "--auth-file", str(tmp / "users.txt"), "--max-disk", args.max_disk, log=log_path,
                        env={"GRADIO_TEMP_DIR": str(cache)})  # fmt: skip
    tally, stop, disk = Counter(), threading.Event(), Disk(cache)
    try:
        wait_ready(url, proc)
        memory = Memory(proc.pid)
        memory.start()
        disk.start()
        log: list = [{"size": 64, "iterations": args.iterations}]
        finished = [0]
        lock = threading.Lock()

        def done():
            with lock:
                finished[0] += 1
                if finished[0] == 10:
                    memory.mark()
                if finished[0] % 10 == 0:
                    memory.timeline.append(memory.now)

        started = time.monotonic()
        threads = [
            threading.Thread(target=user, args=(url, n, f"{n}-password", c, style, args.runs, tmp / n, log, done))
            for n, c in zip(names, contents)
        ]
        if attack:
            threading.Thread(target=attacker, args=(url, names, cache, args.attacker_addresses, stop, tally)).start()
            threading.Thread(target=insider, args=(url, "mallory", "mallory-password", stop, tally)).start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        stop.set()
        time.sleep(3.0)  # the attacker's last requests end
        memory.end = memory.now
        memory.running = disk.running = False
    finally:
        stop.set()
        stop_server(proc)
    return log[1:], seconds, memory, disk, log_path.read_text(), tally


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=6)
    p.add_argument("--runs", type=int, default=10, help="per user")
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--attacker", action="store_true", help="soak again with an attacker and compare")
    p.add_argument("--attacker-addresses", type=int, default=1, metavar="N", help="machines it comes from")
    p.add_argument("--max-disk", default="20M", help="the server's --max-disk (default %(default)s)")
    args = p.parse_args()
    from painterly.frontends import users
    from painterly.media import images, samples

    tmp = Path(tempfile.mkdtemp(prefix="painterly-soak-"))
    names = [f"user{i}" for i in range(args.users)]
    for name in [*names, "mallory"]:  # mallory: the attacker's own ordinary account (--attacker)
        users.add(tmp / "users.txt", name, f"{name}-password")
    photos = ["chelsea", "coffee", "astronaut", "rocket", "camera", "chelsea"]
    contents = []
    for i, name in enumerate(names):
        image = images.resize_long_side(samples.photo(photos[i % len(photos)]), 256 - 16 * i)
        contents.append(str(images.save(image, tmp / f"{name}.png")))
    style = str(images.save(images.resize_long_side(samples.photo("immunohistochemistry"), 256), tmp / "style.png"))
    status, waits = 0, {}
    for attack in (False, True) if args.attacker else (False,):
        runs, seconds, memory, disk, server_log, tally = soak(args, tmp, names, contents, style, attack)
        print(f"\n== {'with the attacker' if attack else 'no attacker'} ==")
        status |= report(runs, seconds, memory, server_log, args)
        budget = parse_bytes(args.max_disk)
        rss = f"{memory.marked or 0:.0f} -> {memory.end:.0f} MiB"
        print(f"server RSS after the first 10 runs -> after the soak: {rss}; file folder at most "
              f"{disk.peak / 1e6:.1f} MB of {budget / 1e6:.0f} MB ({disk.samples} samples)")  # fmt: skip
        status |= disk.peak > budget
        waits[attack] = (statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs))
        if attack:
            print("attacker:", ", ".join(f"{k}: {v}" for k, v in sorted(tally.items())))
            leaks = sum(v for k, v in tally.items() if k.startswith("file 2"))
            status |= leaks > 0
    if args.attacker:
        (w0, r0), (w1, r1) = waits[False], waits[True]
        print(f"\nmedian wait {w0:.1f} s -> {w1:.1f} s with the attacker ({(w1 / w0 - 1) * 100:+.0f} %); "
              f"median run {r0:.1f} s -> {r1:.1f} s ({(r1 / r0 - 1) * 100:+.0f} %)")  # fmt: skip
    return status


def report(runs: list, seconds: float, memory: Memory, server_log: str, args) -> int:
    print(f"{args.users} users x {args.runs} runs, 64 px, {args.iterations} iterations: {seconds:.0f} s in all")
    print(f"{'user':<8} {'runs':>4} {'valid':>5} {'wait s (median / max)':>22} {'run s (median)':>15}")
    for name in sorted({r[0] for r in runs}):
        mine = [r for r in runs if r[0] == name]
        waits = [r[1] for r in mine]
        valid = sum(r[3] == "" for r in mine)
        run_s = statistics.median(r[2] for r in mine)
        print(
            f"{name:<8} {len(mine):>4} {valid:>5} {statistics.median(waits):>12.1f} / {max(waits):>6.1f} {run_s:>15.1f}"
        )
    bad = [r for r in runs if r[3]]
    errors = [line for line in server_log.splitlines() if "Traceback" in line or "Error" in line or "error" in line]
    growth = (memory.peak / memory.marked - 1) * 100 if memory.marked else float("nan")
    print(f"valid results: {len(runs) - len(bad)}/{len(runs)}; server log error lines: {len(errors)}")
    print(f"server RSS: peak after the first 10 runs {memory.marked or 0:.0f} MiB, at the end {memory.peak:.0f} MiB "
          f"(+{growth:.1f}%)")  # fmt: skip
    print("server RSS after every 10 runs (MiB):", " ".join(f"{m:.0f}" for m in memory.timeline))
    for r in bad[:5]:
        print("  failed:", r)
    for line in errors[:5]:
        print("  log:", line)
    return 0 if not bad and not errors and growth < 10 else 1


if __name__ == "__main__":
    sys.exit(main())

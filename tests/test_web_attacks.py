"""Attacks on a shared `painterly web` server (issue "The shared web server keeps its promises under
attack"), each against a real server on 127.0.0.1 with two signed-in users, alice and bob. Bob knows
the path of alice's file (it leaks through a shared link, proxy logs or a shared computer): whatever
form the request takes, he gets none of her files.

Requests go out through http.client, which sends a path exactly as written (httpx and browsers fold
`..` and `//` away before sending, so they could not make these attacks)."""

from __future__ import annotations

import asyncio
import http.client
import os
import time
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import artwork_like, photo_like
from painterly.frontends import signin, users

pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'painterly[web]')")
import httpx  # noqa: E402 - gradio's own HTTP client

import webserver  # noqa: E402

PEOPLE = {"alice": "alice-secret-1", "bob": "bob-secret-22"}


MAX_DISK = 1_000_000  # bytes kept by the server: a share of 500 kB each


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, Gradio's file folder) of a signed-in server with alice and bob."""
    with webserver.signed_in_server(tmp_path_factory.mktemp("attacked"), PEOPLE, "--max-disk", str(MAX_DISK)) as ends:
        yield ends


@pytest.fixture(scope="module")
def server(served):
    """The base URL of the server."""
    return served[0]


class User:
    """A signed-in user who can upload and send any request path as written."""

    def __init__(self, url: str, name: str):
        self.url, self.session = url, httpx.Client()
        assert self.session.post(url + "login", data={"username": name, "password": PEOPLE[name]}).status_code == 200

    def upload(self, path) -> str:
        """Upload a file; the path on the server where Gradio keeps it."""
        answer = self.send_file(path)
        assert answer.status_code == 200, answer.text
        [saved] = answer.json()
        return saved

    def send_file(self, path) -> httpx.Response:
        with open(path, "rb") as f:
            return self.session.post(self.url + "gradio_api/upload", files={"files": (path.name, f)})

    def get(self, raw_path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
        """Send `raw_path` byte for byte (no folding of `..` or `//`): (status, body; an event stream's
        body is not waited for)."""
        address = urlsplit(self.url)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.session.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, raw_path, body=body, headers=headers)
            response = conn.getresponse()
            streaming = "event-stream" in (response.getheader("content-type") or "")
            return response.status, b"" if streaming else response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def files(server, tmp_path_factory):
    """(alice, bob, alice's upload path, its bytes, bob's own upload path)."""
    folder = tmp_path_factory.mktemp("files")
    photo, art = folder / "alice.png", folder / "bob.png"
    photo_like(64, 48).save(photo)
    artwork_like().save(art)
    alice, bob = User(server, "alice"), User(server, "bob")
    return alice, bob, alice.upload(photo), photo.read_bytes(), bob.upload(art)


def test_alice_fetches_her_own_upload(files):
    alice, _, hers, data, _ = files
    assert alice.get("/gradio_api/file=" + quote(hers)) == (200, data)


@pytest.mark.parametrize(
    "form",
    [
        "/gradio_api/file={path}",  # the route the guard knew
        "/gradio_api/file/{path}",  # attack 1: the other file route, with a slash (and so '//')
        "/gradio_api/file/../../../../../../../..{path}",  # attack 1: '..' climbing out of the working folder
        "/gradio_api/file/{relative}",  # attack 1: relative to the server's working folder
        "/gradio_api//file={path}",  # doubled slashes before the route
        "/gradio_api/file={path}/{bobs_folder}/..",  # attack 2: '..' after a folder bob owns
        "/gradio_api/file={path}/{bobs_folder}/%2e%2e",  # attack 2, percent-encoded
        "/gradio_api/file={path}/{bobs_folder}/%252e%252e",  # attack 2, encoded twice
        "/gradio_api/file={escaped}",  # the whole path percent-encoded
        "/gradio_api/proxy={path}",  # a file route the page never uses
    ],
)
def test_bob_gets_none_of_alices_files_whatever_the_path(files, form):
    alice, bob, hers, data, his = files
    bobs_folder = os.path.basename(os.path.dirname(his))
    raw = form.format(
        path=hers,
        relative=os.path.relpath(hers, os.getcwd()),  # the server runs in this test's working folder
        bobs_folder=bobs_folder,
        escaped="".join(f"%{b:02x}" for b in hers.encode()),
    )
    status, body = bob.get(raw)
    assert status == 404 and data not in body, raw


def test_bob_still_fetches_his_own_upload_by_any_form(files):
    _, bob, _, _, his = files
    assert bob.get("/gradio_api/file=" + his)[0] == 200
    assert bob.get("/gradio_api/file/" + his)[0] == 200  # the same file: served once checked
    assert bob.get("/gradio_api/file=" + his + "/../" + os.path.basename(his))[0] == 200


def test_files_outside_the_cache_are_refused_even_to_a_user(files, tmp_path):
    _, bob, _, _, _ = files
    outside = tmp_path / "secret.txt"
    outside.write_text("not the server's")
    for raw in ("/gradio_api/file=" + str(outside), "/gradio_api/file=/etc/passwd", "/gradio_api/file/etc/passwd"):
        assert bob.get(raw)[0] == 404, raw


def test_an_unknown_name_costs_one_scrypt_like_a_known_one(monkeypatch):
    """Attack 7: names cannot be listed by timing sign-ins (counted in scrypt runs, not seconds)."""
    import hashlib

    check = signin.checker({"alice": users.hash_password(PEOPLE["alice"])})
    real, runs = hashlib.scrypt, []
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: runs.append(1) or real(*a, **k))
    assert not asyncio.run(check("alice", "wrong password")) and len(runs) == 1
    assert not asyncio.run(check("mallory", "wrong password")) and len(runs) == 2
    assert asyncio.run(check("alice", PEOPLE["alice"])) and len(runs) == 3


def test_the_auth_file_is_never_readable_by_others(tmp_path, monkeypatch):
    """Attack 9: --add-user rewrites the file through a temporary file that is 0600 from the start."""
    auth = tmp_path / "users.txt"
    users.add(auth, "alice", PEOPLE["alice"])
    auth.chmod(0o644)
    real_replace, modes = os.replace, []

    def replace(src, dst):
        modes.append(os.stat(src).st_mode & 0o777)  # the moment before it becomes the auth file
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert users.others_can_read(auth)  # `painterly web` warns at start with the chmod to run
    users.add(auth, "bob", PEOPLE["bob"])
    assert modes == [0o600] and auth.stat().st_mode & 0o777 == 0o600 and not users.others_can_read(auth)


def test_a_duplicate_name_or_a_broken_hash_is_refused_at_start_with_its_line(tmp_path):
    from painterly.errors import OptionsError

    auth = tmp_path / "users.txt"
    good = users.hash_password(PEOPLE["alice"])
    auth.write_text(f"alice:{good}\nbob:{good}\nalice:{good}\n")
    with pytest.raises(OptionsError, match="line 3: alice again"):
        users.read(auth)
    auth.write_text(f"alice:{good}\nbob:{good[:-3]}xyz\n")  # not hex: bob could never sign in
    with pytest.raises(OptionsError, match="line 2"):
        users.read(auth)


def test_a_run_on_another_users_file_is_refused_without_naming_it(tmp_path, monkeypatch):
    """Attack 3: bob's run request names alice's upload (a path in the server's cache) as its photo."""
    from types import SimpleNamespace

    import gradio as gr

    import painterly
    from painterly.frontends import web
    from painterly.frontends.studio import Studio

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "cache"))
    hers, his = tmp_path / "cache" / "a1" / "alice-photo.png", tmp_path / "cache" / "b2" / "art.png"
    for path, image in ((hers, photo_like()), (his, artwork_like())):
        path.parent.mkdir(parents=True)
        image.save(path)
    studio = Studio()
    studio.owners.add("alice", hers)
    studio.owners.add("bob", his)
    alice, bob = SimpleNamespace(username="alice"), SimpleNamespace(username="bob")
    assert studio.may_use(alice, str(hers)) and studio.may_use(bob, str(his))
    assert not studio.may_use(bob, str(hers)) and not studio.may_use(bob, str(his.parent / ".." / "a1" / hers.name))
    run = web._run_handler(painterly.Options(), 10**7, studio)
    with pytest.raises(gr.Error) as refused:
        next(run(str(hers), [str(his)], bob))
    assert "not one you uploaded" in str(refused.value) and "alice" not in str(refused.value)


def test_sixteen_joins_at_once_from_four_clients_admit_exactly_the_limit(server, tmp_path):
    """Attack 4: with --max-queue-per-user 2 (the default), joins sent at once all passed a count taken
    before any of them was queued (8-16 of 16 admitted). Now exactly 2 run; the rest get the reason."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    photo, art = tmp_path / "photo.png", tmp_path / "art.png"
    photo_like(64, 48).save(photo)
    artwork_like().save(art)

    def client(_):
        return Client(server, auth=("bob", PEOPLE["bob"]), verbose=False, download_files=False)

    with ThreadPoolExecutor(4) as pool:
        clients = list(pool.map(client, range(4)))
    # Runs of 20 s or more (64 px, 200 iterations): the two admitted are still queued or running
    # when the last join of the burst arrives (with 2 iterations a run could end first and free its
    # place). They are cancelled once the refusals are counted.
    inputs = dict(content=handle_file(str(photo)), styles=[handle_file(str(art))], size=64, iterations=200)
    jobs = [c.submit(**inputs, api_name="/stylize") for c in clients for _ in range(4)]
    deadline = time.monotonic() + 120
    while sum(job.done() for job in jobs) < 14 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a 15th refusal would arrive by now
    refused = [str(job.exception()) for job in jobs if job.done()]
    admitted = [job for job in jobs if not job.done()]
    assert len(admitted) == 2 and len(refused) == 14, refused[:3]
    assert all("400" in r for r in refused)  # API clients get a bare 400; the page shows the reason
    while not any(job.status().code == Status.PROCESSING for job in admitted) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(job.status().code == Status.PROCESSING for job in admitted)  # admitted: one runs, one waits
    for job in admitted:
        job.cancel()


def test_joins_checked_before_any_is_queued_admit_exactly_the_limit():
    """Attack 4 made deterministic: 16 joins are checked while none of them is in Gradio's queue yet
    (the window a burst hits). The old check counted the queue only and admitted all 16."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    import gradio as gr

    from painterly.frontends import web
    from painterly.frontends.studio import Studio

    studio = Studio(max_per_user=2)
    check = web._queue_limit(studio, SimpleNamespace(_queue=None))  # an empty queue
    bob = SimpleNamespace(username="bob")

    def join(_) -> bool:
        try:
            check(*[None] * (2 + len(web.CONTROLS)), bob)
            return True
        except gr.Error as refused:
            assert "2 runs queued or running" in str(refused)
            return False

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(join, range(16))) == 2
    assert check(*[None] * (2 + len(web.CONTROLS)), SimpleNamespace(username="alice"))  # others still join


def test_a_session_belongs_to_the_user_who_opened_it(server, files, tmp_path):
    """Attack 8: alice's session hash let a stranger cancel her run and bob read her messages."""
    import json

    from gradio_client import Client, handle_file

    photo, art = tmp_path / "photo.png", tmp_path / "art.png"
    photo_like(64, 48).save(photo)
    artwork_like().save(art)
    alice_client = Client(server, auth=("alice", PEOPLE["alice"]), verbose=False, download_files=False)
    inputs = dict(content=handle_file(str(photo)), styles=[handle_file(str(art))], size=64, iterations=2)
    assert alice_client.predict(**inputs, api_name="/stylize")[1].startswith("Done")  # her session is in use
    hers = alice_client.session_hash
    cancel = json.dumps({"session_hash": hers, "fn_index": 0, "event_id": "x"}).encode()
    stranger = httpx.post(server + "gradio_api/cancel", content=cancel, headers={"Content-Type": "application/json"})
    assert stranger.status_code == 401
    _, bob, _, _, _ = files
    assert bob.get("/gradio_api/queue/data?session_hash=" + hers)[0] == 404
    assert bob.get("/gradio_api/cancel", "POST", cancel)[0] == 404
    assert bob.get("/gradio_api/heartbeat/" + hers)[0] == 404
    assert bob.get("/gradio_api/heartbeat/a-session-of-bobs")[0] != 404  # his own: served as before
    assert alice_client.predict(**inputs, api_name="/stylize")[1].startswith("Done")  # hers still works


def _sign_in(url: str, name: str, password: str, address: str) -> httpx.Response:
    """A sign-in from `address` (uvicorn takes X-Forwarded-For from a proxy on this machine)."""
    form = {"username": name, "password": password}
    return httpx.post(url + "login", data=form, headers={"X-Forwarded-For": address})


def test_failed_sign_ins_make_the_next_wait_per_name_and_per_address(server):
    """Attack 6: guesses are slowed down. Five failures for a name make its next sign-in wait (1 s,
    doubling), even with the right password, from any address; other names sign in as before. An
    address that keeps failing waits 20 failures, then each of its refusals answers a second late."""
    for k in range(5):
        assert _sign_in(server, "alice", "a guess", f"10.6.0.{k}").status_code == 400
    for address in ("10.6.0.10", "10.6.0.11"):
        waited = _sign_in(server, "alice", PEOPLE["alice"], address)
        assert waited.status_code == 429 and "try again in" in waited.text
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.10").status_code == 200
    time.sleep(1.2)
    assert _sign_in(server, "alice", PEOPLE["alice"], "10.6.0.12").status_code == 200  # and her count is cleared
    for k in range(20):  # one address trying many names
        assert _sign_in(server, f"someone{k}", "a guess", "10.6.0.20").status_code == 400
    start = time.monotonic()
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.20").status_code == 429
    assert time.monotonic() - start >= signin.TARPIT
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.21").status_code == 200


def test_the_back_off_doubles_counts_tries_sent_at_once_and_forgets():
    now = [0.0]
    sign_ins = signin.SignIns(clock=lambda: now[0])
    for _ in range(5):  # five at once: each counted before any is checked
        assert sign_ins.begin("alice", "10.0.0.1") == 0
    assert sign_ins.begin("alice", "10.0.0.2") == 1.0
    for _ in range(5):
        sign_ins.end("alice", "10.0.0.1", False)
    waits = []
    for _ in range(4):  # each failure after the wait doubles the next wait
        now[0] += sign_ins.names.wait("alice")
        assert sign_ins.begin("alice", "10.0.0.1") == 0
        waits.append(sign_ins.names.wait("alice"))
    assert waits == [2.0, 4.0, 8.0, 16.0]
    now[0] += signin.FORGET_AFTER + 1
    assert sign_ins.begin("alice", "10.0.0.1") == 0
    sign_ins.end("alice", "10.0.0.1", True)
    assert sign_ins.names.wait("alice") == 0 and sign_ins.addresses.wait("10.0.0.1") == 0


def test_a_flood_of_wrong_sign_ins_does_not_stall_other_users(server, files):
    """Attack 6: scrypt ran on the event loop, so 4 connections guessing (~10 a second) took another
    user's small fetch from 10 ms to 2.2 s. Each guess here comes from a new address with a new name,
    so the back-off never applies (many machines): the checks queue on one worker thread."""
    import statistics
    import threading

    _, bob, _, _, his = files
    stop, guesses = threading.Event(), []

    def guess(k: int) -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                n = len(guesses)
                guesses.append(1)
                address = f"10.{k}.{n // 250 % 250}.{n % 250}"
                client.post(server + "login", data={"username": f"x{n}", "password": "y"},
                            headers={"X-Forwarded-For": address}, timeout=60)  # fmt: skip

    def fetch_times(count: int) -> list[float]:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            assert bob.get("/gradio_api/file=" + his)[0] == 200
            times.append(time.perf_counter() - start)
            time.sleep(0.05)
        return times

    quiet = statistics.median(fetch_times(10))
    attackers = [threading.Thread(target=guess, args=(k,)) for k in range(4)]
    for thread in attackers:
        thread.start()
    time.sleep(1.0)
    try:
        flooded = statistics.median(fetch_times(20))
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    print(f"median fetch: {quiet * 1000:.0f} ms quiet, {flooded * 1000:.0f} ms during {len(guesses)} guesses")
    assert len(guesses) >= 20 and flooded < quiet + 0.25


def test_one_user_cannot_fill_the_disk_or_evict_anothers_files(served, files, tmp_path):
    """Attack 5: uploads counted against --max-disk only when a run started or ended, so bob's six
    400 kB uploads put a 1 MB server at 2.4 MB, and his next run trimmed the oldest files: alice's.
    Now each user keeps at most a share (500 kB here): bob's own oldest files make room for his."""
    from gradio_client import Client, handle_file

    url, cache = served
    alice, bob, hers, data, _ = files
    art = tmp_path / "art.png"
    artwork_like().save(art)
    client = Client(url, auth=("alice", PEOPLE["alice"]), verbose=False, download_files=False)
    done = client.predict(content=handle_file(hers), styles=[handle_file(str(art))], size=64, iterations=2,
                          api_name="/stylize")  # fmt: skip
    her_result = done[2]["path"]
    assert alice.get("/gradio_api/file=" + her_result)[0] == 200
    rng = np.random.default_rng(5)
    for k in range(6):
        noise = tmp_path / f"noise{k}.png"
        Image.fromarray(rng.integers(0, 256, (370, 370, 3), dtype=np.uint8)).save(noise)  # ~400 kB
        last = bob.upload(noise)
    kept = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    assert kept <= MAX_DISK
    assert bob.get("/gradio_api/file=" + last)[0] == 200
    too_big = tmp_path / "too-big.png"
    Image.fromarray(rng.integers(0, 256, (450, 450, 3), dtype=np.uint8)).save(too_big)  # ~600 kB
    refused = bob.send_file(too_big)
    assert refused.status_code == 413 and "more than your share" in refused.text
    bobs = Client(url, auth=("bob", PEOPLE["bob"]), verbose=False, download_files=False)
    bobs.predict(content=handle_file(last), styles=[handle_file(str(art))], size=64, iterations=1, api_name="/stylize")
    assert alice.get("/gradio_api/file=" + quote(hers)) == (200, data)  # her upload and result survive
    assert alice.get("/gradio_api/file=" + her_result)[0] == 200


# Routes that answer without sign-in: the sign-in page and its assets, and answers that carry no
# user's data (who is signed in: nobody; the app's id; whether start-up events are pending).
OPEN_ROUTES = {"/", "/logout", "/favicon.ico", "/robots.txt", "/manifest.json", "/theme.css",
               "/gradio_api/theme.css", "/gradio_api/user", "/gradio_api/token", "/gradio_api/app_id",
               "/gradio_api/startup-events"}  # fmt: skip
ASSET_ROUTES = ("/static/", "/assets/", "/svelte/", "/pwa_icon", "/gradio_api/custom_component/")


def _route_table() -> list[tuple[str, list[str]]]:
    """(path template, methods) of every route of the installed Gradio's app for this page."""
    from gradio.routes import App

    from painterly.frontends import web

    def flat(routes):
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from flat(route.original_router.routes)
            else:
                yield route.path, sorted(getattr(route, "methods", None) or ["GET"])

    return list(flat(App.create_app(web.build_app()).routes))


def test_signed_out_every_route_of_gradio_is_refused_but_the_sign_in_page(server, files):
    """Must-show 2: every route in the installed Gradio's route table, signed out, with a plain value
    and with alice's file path in its path parameters: none serves her file or any user's data."""
    import re

    alice, _, hers, data, _ = files
    stranger = User.__new__(User)  # a client with no cookie
    stranger.url, stranger.session = alice.url, httpx.Client()
    table = _route_table()
    assert len(table) > 50 and any("/file=" in path for path, _ in table)
    answered = set()
    for template, methods in table:
        for value in ("x", quote(hers)):
            raw = re.sub(r"\{[^}]+\}", lambda _, v=value: v, template)
            for method in set(methods) - {"HEAD"}:
                status, body = stranger.get(raw, method, b"{}" if method == "POST" else None)
                assert data not in body and hers.encode() not in body, (method, raw)
                if status < 400:
                    answered.add(template.rstrip("/") or "/")
    opened = {path for path in answered if path not in OPEN_ROUTES and not path.startswith(ASSET_ROUTES)}
    assert not opened, opened


def test_a_run_started_through_the_call_route_is_followed_by_its_user_only(server, files):
    """Like attack 8 for Gradio's REST-style route: `GET /call/stylize/<event id>` streamed the run's
    messages (its result URLs) to whoever named the id."""
    import json

    from gradio_client import Client

    alice, bob, hers, _, his = files
    info = Client(server, auth=("bob", PEOPLE["bob"]), verbose=False, download_files=False).view_api(
        print_info=False, return_format="dict"
    )
    params = info["named_endpoints"]["/stylize"]["parameters"]
    photo = {"path": hers, "meta": {"_type": "gradio.FileData"}}
    values = {"content": photo, "styles": [photo], "size": 64, "iterations": 1}
    body = json.dumps({"data": [values.get(p["parameter_name"], p["parameter_default"]) for p in params]}).encode()
    status, answer = alice.get("/gradio_api/call/stylize", "POST", body)
    assert status == 200, answer
    event = json.loads(answer)["event_id"]
    assert bob.get(f"/gradio_api/call/stylize/{event}")[0] == 404
    assert bob.get(f"/gradio_api/call/v2/stylize/{event}")[0] == 404
    assert alice.get(f"/gradio_api/call/stylize/{event}")[0] == 200

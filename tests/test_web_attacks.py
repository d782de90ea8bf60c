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


def test_bob_still_fetches_his_own_upload_by_the_pages_route(files):
    _, bob, _, _, his = files
    assert bob.get("/gradio_api/file=" + his)[0] == 200
    assert bob.get("/gradio_api/file=" + his + "/../" + os.path.basename(his))[0] == 200  # served once checked
    assert bob.get("/gradio_api/file/" + his)[0] == 404  # a route the page does not use: closed


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
    his = json.dumps({"session_hash": "a-session-of-bobs", "fn_index": 0, "event_id": "x"}).encode()
    assert bob.get("/gradio_api/cancel", "POST", his)[0] == 200  # his own: served
    assert alice_client.predict(**inputs, api_name="/stylize")[1].startswith("Done")  # hers still works


def _sign_in(url: str, name: str, password: str, address: str) -> httpx.Response:
    """A sign-in from `address` (uvicorn takes X-Forwarded-For from a proxy on this machine)."""
    form = {"username": name, "password": password}
    return httpx.post(url + "login", data=form, headers={"X-Forwarded-For": address})


def test_failed_sign_ins_make_the_next_wait_per_name_at_an_address_and_per_address(server):
    """Attack 6 of the last round: guesses are slowed down. Five failures for a name from an address
    make that address's next sign-in for the name wait (1 s, doubling), even with the right password;
    other names sign in as before. An address that keeps failing waits 20 failures, then each of its
    refusals answers a second late."""
    for _ in range(5):
        assert _sign_in(server, "alice", "a guess", "10.6.0.1").status_code == 400
    waited = _sign_in(server, "alice", PEOPLE["alice"], "10.6.0.1")
    assert waited.status_code == 429 and "try again in" in waited.text
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.1").status_code == 200
    time.sleep(1.2)
    assert _sign_in(server, "alice", PEOPLE["alice"], "10.6.0.1").status_code == 200  # and her count is cleared
    for k in range(20):  # one address trying many names
        assert _sign_in(server, f"someone{k}", "a guess", "10.6.0.20").status_code == 400
    start = time.monotonic()
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.20").status_code == 429
    assert time.monotonic() - start >= signin.TARPIT
    assert _sign_in(server, "bob", PEOPLE["bob"], "10.6.0.21").status_code == 200


def test_attack_8_guessing_a_name_from_elsewhere_never_locks_its_owner_out(server):
    """Five wrong sign-ins for alice's name (no account needed) made alice herself wait, doubling to
    5 minutes: one request every few minutes kept her out. Now the count is per name at an address."""
    for _ in range(8):
        assert _sign_in(server, "alice", "a guess", "10.8.0.66").status_code in (400, 429)
    assert _sign_in(server, "alice", PEOPLE["alice"], "10.8.0.7").status_code == 200


def test_the_back_off_doubles_counts_tries_sent_at_once_and_forgets():
    now = [0.0]
    sign_ins = signin.SignIns(clock=lambda: now[0])
    for _ in range(5):  # five at once: each counted before any is checked
        assert sign_ins.begin("alice", "10.0.0.1") == 0
    assert sign_ins.begin("alice", "10.0.0.1") == 1.0
    assert sign_ins.begin("alice", "10.0.0.2") == 0  # from elsewhere her own sign-in is not held up
    sign_ins.end("alice", "10.0.0.2", True)
    for _ in range(5):
        sign_ins.end("alice", "10.0.0.1", False)
    waits = []
    for _ in range(4):  # each failure after the wait doubles the next wait
        now[0] += sign_ins.names.wait(signin._at("alice", "10.0.0.1"))
        assert sign_ins.begin("alice", "10.0.0.1") == 0
        waits.append(sign_ins.names.wait(signin._at("alice", "10.0.0.1")))
    assert waits == [2.0, 4.0, 8.0, 16.0]
    now[0] += signin.FORGET_AFTER + 1
    assert sign_ins.begin("alice", "10.0.0.1") == 0
    sign_ins.end("alice", "10.0.0.1", True)
    assert sign_ins.names.wait(signin._at("alice", "10.0.0.1")) == 0 and sign_ins.addresses.wait("10.0.0.1") == 0


def test_a_flood_of_wrong_sign_ins_does_not_stall_other_users(server, files):
    """Attack 6: scrypt ran on the event loop, so 4 connections guessing (~10 a second) took another
    user's small fetch from 10 ms to 2.2 s. Each guess here comes from a new address with a new name,
    so the back-off never applies (many machines): the checks queue on one worker thread.

    No clock window decides it (a busy machine makes fewer guesses): the flood runs until 20 guesses
    are answered, and a fetch is compared with a guess made at the same time. On the event loop a
    fetch would wait for the scrypt runs ahead of it (as long as a guess or longer); off it, a fetch
    takes a small part of one."""
    import statistics
    import threading

    _, bob, _, _, his = files
    stop, answered, guess_times = threading.Event(), [], []

    def guess(k: int) -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                n = len(answered) + 100 * k
                address = f"10.{k}.{n // 250 % 250}.{n % 250}"
                start = time.perf_counter()
                client.post(server + "login", data={"username": f"x{k}-{n}", "password": "y"},
                            headers={"X-Forwarded-For": address}, timeout=120)  # fmt: skip
                guess_times.append(time.perf_counter() - start)
                answered.append(1)

    attackers = [threading.Thread(target=guess, args=(k,)) for k in range(4)]
    for thread in attackers:
        thread.start()
    fetches = []
    try:
        while len(answered) < 4:  # the queue is full: every attacker has had a guess answered
            time.sleep(0.01)
        while len(answered) < 20 or len(fetches) < 10:
            start = time.perf_counter()
            assert bob.get("/gradio_api/file=" + his)[0] == 200
            fetches.append(time.perf_counter() - start)
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    fetch, one_guess = statistics.median(fetches), statistics.median(guess_times)
    print(f"median fetch {fetch * 1000:.0f} ms, median guess {one_guess * 1000:.0f} ms, {len(answered)} guesses")
    assert fetch < one_guess / 3


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
    kept = webserver.folder_bytes(cache)
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


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _route_table() -> list[str]:
    """The path template of every route of the installed Gradio's app for this page."""
    from gradio.routes import App

    from painterly.frontends import web

    def flat(routes):
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from flat(route.original_router.routes)
            else:
                yield route.path

    return sorted(set(flat(App.create_app(web.build_app()).routes)))


def test_every_route_outside_the_allowlist_answers_404_signed_in_or_not_by_any_method(files):
    """Must-show 2: every route of the installed Gradio (so a new version's routes start closed), by
    every method, signed out and signed in as bob: 404 unless `routes.ROUTES` lets it through."""
    import re

    from painterly.frontends import routes

    _, bob, _, _, _ = files
    stranger = User.__new__(User)  # a client with no cookie
    stranger.url, stranger.session = bob.url, httpx.Client()
    table = _route_table()
    assert len(table) > 50 and "/gradio_api/token" in table and "/gradio_api/process_recording" in table
    opened, tried = [], 0
    for template in table:
        raw = re.sub(r"\{[^}]+\}", "x", template) or "/"
        for method in METHODS:
            if routes.allowed(method, raw):
                continue
            for who in (stranger, bob):
                status, _ = who.get(raw, method, b"{}" if method in ("POST", "PUT", "PATCH") else None)
                tried += 1
                if status != 404:
                    opened.append((who is bob, method, raw, status))
    assert tried > 500 and not opened, opened


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


# Issue "The studio server denies by default": the attacks of the third round, each seen failing
# against the guard it replaced.


def _cookie(user: User) -> tuple[str, str]:
    """(name, value) of a signed-in user's session cookie."""
    return next((k, v) for k, v in user.session.cookies.items() if k.startswith("access-token"))


def _kept_bytes(cache) -> int:
    return webserver.folder_bytes(cache)


def _noise_png(path, side: int, seed: int = 0):
    """A PNG of random pixels (it does not compress): about 3 x side^2 bytes."""
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path


def _multipart(name: str, data: bytes, boundary: str = "b0undary") -> tuple[bytes, bytes, str]:
    """(head, tail, content type) of a one-file multipart upload of `data` named `name`."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()  # fmt: skip
    return head, f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_attack_1_huge_and_many_session_hashes_leave_the_servers_memory_flat(served, files):
    """`POST /reset` with a 20 MB session hash was read whole and kept: RSS 348 -> 1167 MiB after 40
    (here 12 x 8 MB grew it by >96 MiB). Now bodies are bounded while they stream and hashes have
    Gradio's form (measured: +1.3 MiB)."""
    import json

    alice = files[0]
    before = webserver.settled_rss_mib(served.pid)
    for k in range(12):
        body = json.dumps({"session_hash": chr(65 + k) + "A" * 8_000_000, "fn_index": 0, "event_id": "x"}).encode()
        assert alice.get("/gradio_api/reset", "POST", body)[0] in (400, 413)
    for k in range(300):  # well-formed hashes: each kept, but the table is capped per user
        body = json.dumps({"session_hash": f"s{k:06d}", "fn_index": 0, "event_id": "x"}).encode()
        assert alice.get("/gradio_api/reset", "POST", body)[0] == 200
    grown = webserver.settled_rss_mib(served.pid) - before  # 96 MB sent
    assert grown < 30, f"+{grown:.0f} MiB"


def test_the_session_table_is_bounded_per_user_and_first_come():
    from painterly.frontends.gateway import Bound

    now = [0.0]
    table = Bound(cap=3, age=100, clock=lambda: now[0])
    assert all(table.claim(f"h{k}", "bob") for k in range(10)) and len(table) == 3
    assert table.claim("alices", "alice") and not table.claim("alices", "bob")
    now[0] += 101
    assert table.claim("new", "bob") and table.owner("h9") is None  # bob's stale hashes went


def test_attack_2_a_quoted_or_doubled_cookie_is_refused_not_read_as_nobody(served, files, tmp_path):
    """`Cookie: access-token-<id>="<bob's token>"` passed the guard as nobody (not counted against
    bob's share) while Gradio read it as bob: 3 x 8 MB in a 20 MB cache."""
    url, cache = served
    _, bob, _, _, _ = files
    name, token = _cookie(bob)
    big = [_noise_png(tmp_path / f"n{k}.png", 300, seed=k) for k in range(3)]  # ~270 kB each, 800 kB together
    for cookie in (f'{name}="{token}"', f"{name}={token}; {name}={token}", f'{name}="{token[:4]}\\{token[4:]}"'):
        sent = httpx.post(url + "gradio_api/upload", headers={"Cookie": cookie},
                          files=[("files", (p.name, p.read_bytes())) for p in big])  # fmt: skip
        assert sent.status_code in (400, 413), (cookie, sent.status_code)
        assert _kept_bytes(cache) <= MAX_DISK


def test_attack_3_a_route_the_page_does_not_use_writes_nothing(server, files, tmp_path):
    """`POST /process_recording` (never used by the page) kept a 20 MB file in /tmp for good."""
    _, bob, _, _, _ = files
    sent = bob.session.post(server + "gradio_api/process_recording", files={"video": ("a.mp4", b"\0" * 1_000_000)})
    assert sent.status_code == 404


def test_attack_4_no_other_website_gets_an_answer_with_credentials(server, files):
    """Behind a proxy (Host not localhost), `Origin: https://evil.example` got
    `Access-Control-Allow-Origin: https://evil.example` with credentials, and `/token` alice's token."""
    alice = files[0]
    name, token = _cookie(alice)
    evil = {"Host": "studio.example", "Origin": "https://evil.example", "Cookie": f"{name}={token}"}
    for method, path in (("GET", "gradio_api/token"), ("GET", "config"), ("OPTIONS", "gradio_api/upload")):
        answer = httpx.request(method, server + path, headers={**evil, "Access-Control-Request-Method": "POST"})
        assert answer.status_code in (403, 404), (method, path)
        assert not any(h.lower().startswith("access-control") for h in answer.headers), answer.headers
        assert token not in answer.text
    own = {"Host": "studio.example", "Origin": "https://studio.example", "Cookie": f"{name}={token}"}
    assert httpx.get(server + "config", headers=own).status_code == 200  # the page itself, behind HTTPS
    assert httpx.get(server + "gradio_api/token", headers={"Cookie": f"{name}={token}"}).status_code == 404
    signed = httpx.post(server + "login", data={"username": "alice", "password": PEOPLE["alice"]})
    cookies = signed.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("samesite=lax" in c.lower() for c in cookies), cookies


def _upload_socket(url: str, user: User, name: str, data: bytes, chunked: bool = False):
    """An upload sent by hand on a socket, its body not yet sent: (socket, head, tail)."""
    import socket

    address = urlsplit(url)
    head, tail, kind = _multipart(name, data)
    cookie = "; ".join(f"{k}={v}" for k, v in user.session.cookies.items())
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + len(data) + len(tail)}"
    request = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {address.hostname}:{address.port}\r\n"
               f"Cookie: {cookie}\r\nContent-Type: {kind}\r\n{length}\r\n\r\n").encode()  # fmt: skip
    sock = socket.create_connection((address.hostname, address.port), timeout=60)
    sock.sendall(request)
    return sock, head, tail


def _answer_status(sock) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_attack_5_a_chunked_upload_is_counted_as_it_streams(served, files):
    """The size check read only Content-Length: chunked uploads of 20 MB each were held in a 20 MB
    cache. Now every byte is charged to bob's share (500 kB here) as it arrives, and what a refused
    upload leaves stays charged until it is swept, also while another upload is in flight (alice's,
    held open here, so the sweep of an idle moment never comes)."""
    url, cache = served
    alice, bob, _, _, _ = files
    data = np.random.default_rng(9).bytes(2_000_000)
    held_open, head, _ = _upload_socket(url, alice, "slow.png", data[:100_000])  # within her share
    held_open.sendall(head + data[:1000])
    for _ in range(3):
        sock, head, tail = _upload_socket(url, bob, "big.png", data, chunked=True)
        try:
            for part in (head, *(data[k : k + 65536] for k in range(0, len(data), 65536)), tail):
                sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                assert _kept_bytes(cache) <= MAX_DISK
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed mid-way
        assert _answer_status(sock) == 413
        sock.close()
        assert _kept_bytes(cache) <= MAX_DISK
    held_open.close()


def test_attack_5_an_upload_in_flight_is_its_users_and_an_aborted_one_leaves_nothing(served, files, tmp_path):
    """The trim after bob's finished upload deleted alice's half-written one (in flight it belonged
    to nobody), and aborted uploads left their temporary files in the cache."""
    url, cache = served
    alice, bob, _, _, _ = files
    data = _noise_png(tmp_path / "hers.png", 150, seed=11).read_bytes()
    sock, head, tail = _upload_socket(url, alice, "in-flight.png", data)
    sock.sendall(head + data[: len(data) // 2])
    time.sleep(0.5)
    bob.upload(_noise_png(tmp_path / "his.png", 100, seed=12))  # finishes first: a trim runs
    sock.sendall(data[len(data) // 2 :] + tail)
    assert _answer_status(sock) == 200
    sock.close()
    hers = next(cache.glob("*/in-flight.png"))
    assert alice.get("/gradio_api/file=" + quote(str(hers))) == (200, data)
    aborted, _, _ = _upload_socket(url, bob, "aborted.png", data)
    aborted.sendall(head + data[:10000])
    time.sleep(0.5)
    aborted.close()
    time.sleep(1.5)
    assert [p.name for p in cache.iterdir() if p.is_file()] == []  # no temporary file left


def test_a_body_that_stalls_is_cut_off(monkeypatch):
    import asyncio

    from painterly.frontends import asgi

    monkeypatch.setattr(asgi, "BODY_IDLE", 0.2)

    async def never():
        await asyncio.sleep(10)

    with pytest.raises(asgi.Refused) as refused:
        asyncio.run(asgi.Meter(never, 1000).body())
    assert refused.value.status == 408


def test_attack_6_another_users_page_state_cannot_be_linked_to(server, files):
    """`/deep_link?session_hash=<alice's>` then `/config?deep_link=<id>` gave bob alice's page state."""
    _, bob, _, _, _ = files
    assert bob.get("/gradio_api/deep_link?session_hash=abc123")[0] == 404
    assert bob.get("/config?deep_link=abc123")[0] == 404
    assert bob.get("/config")[0] == 200


def test_attack_7_identical_bytes_never_reveal_another_users_file(server, files, tmp_path):
    """Cache folders are named by content: bob uploaded alice's bytes and then fetched her path."""
    alice, bob, hers, data, _ = files
    copy = tmp_path / "bobs-copy.png"
    copy.write_bytes(data)
    his = bob.upload(copy)
    assert os.path.dirname(his) == os.path.dirname(hers)  # the same folder...
    assert bob.get("/gradio_api/file=" + quote(hers))[0] == 404  # ...but not her file
    assert bob.get("/gradio_api/file=" + quote(his)) == (200, data)
    assert alice.get("/gradio_api/file=" + quote(his))[0] == 404


def test_low_a_nul_in_a_path_or_an_empty_file_name_is_a_plain_refusal(server, files):
    _, bob, _, _, his = files
    assert bob.get("/gradio_api/file=/tmp/x%00y.png")[0] == 404
    assert bob.get("/gradio_api/file=" + his + "%00")[0] == 404
    empty = bob.session.post(server + "gradio_api/upload", files={"files": ("", b"data")})
    assert empty.status_code == 400


def test_low_a_ranged_file_answer_repeats_none_of_the_requests_headers(server, files):
    alice, _, hers, data, _ = files
    name, token = _cookie(alice)
    answer = httpx.get(server + "gradio_api/file=" + quote(hers),
                       headers={"Range": "bytes=0-10", "Cookie": f"{name}={token}", "X-Secret": "s3"})  # fmt: skip
    assert answer.status_code == 206 and answer.content == data[:11]
    assert token not in str(answer.headers) and "s3" not in str(answer.headers)


def test_low_signing_out_is_a_post_that_ends_this_session_only(server):
    phone, laptop = User(server, "alice"), User(server, "alice")
    assert phone.get("/logout")[0] == 404  # a cross-site <img src=.../logout> signs nobody out
    assert laptop.get("/config")[0] == 200
    out = phone.session.post(server + "logout")
    assert out.status_code == 303
    assert phone.get("/config")[0] == 401
    assert laptop.get("/config")[0] == 200  # her other session goes on


def test_low_scrypt_parameters_beyond_the_bound_are_refused_at_start(tmp_path):
    from painterly.errors import OptionsError

    auth = tmp_path / "users.txt"
    kind, n, r, p, salt, digest = users.hash_password(PEOPLE["alice"]).split("$")
    auth.write_text(f"alice:{kind}${2**24}${r}${p}${salt}${digest}\n")  # 16 GiB and minutes per sign-in
    with pytest.raises(OptionsError, match="line 1"):
        users.read(auth)
    assert not users.verify(PEOPLE["alice"], f"{kind}${2**24}${r}${p}${salt}${digest}")

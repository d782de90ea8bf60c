"""`painterly web` as a shared server: sign-in from an auth file, private files, a queue limit per
user and a disk budget, against a real server on 127.0.0.1 (a subprocess on a free port)."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import artwork_like, photo_like
from painterly.frontends import users
from painterly.frontends.cli import main

pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'painterly[web]')")
import httpx  # noqa: E402 - gradio's own HTTP client
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

import webserver  # noqa: E402
from test_web import new_browser, open_page, status_text, wait_for  # noqa: E402, F401 - the browser fixture

PEOPLE = {"alice": "alice-secret-1", "bob": "bob-secret-22"}
MAX_DISK = 1_500_000  # bytes: the server's budget here, so a few runs with big uploads exceed it


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(base URL, Gradio's file folder) of a signed-in server with alice and bob."""
    limits = ("--max-queue-per-user", "1", "--max-disk", str(MAX_DISK))
    with webserver.signed_in_server(tmp_path_factory.mktemp("studio"), PEOPLE, *limits) as server:
        yield server


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("pictures")
    photo_like(64, 48).save(folder / "photo.png")
    artwork_like(64, 64).save(folder / "style.png")
    return [str(folder / "photo.png"), str(folder / "style.png")]


def _signed_in(url: str, name: str) -> httpx.Client:
    session = httpx.Client()
    assert session.post(url + "login", data={"username": name, "password": PEOPLE[name]}).status_code == 200
    return session


def _run(client: Client, photo: str, style: str, **controls) -> list:
    return client.predict(
        content=handle_file(photo), styles=[handle_file(style)], size=64, iterations=4, api_name="/stylize", **controls
    )


def test_strangers_and_wrong_passwords_are_refused(studio):
    url, _ = studio
    assert httpx.get(url + "config").status_code == 401
    assert httpx.post(url + "gradio_api/queue/join", json={"data": [], "fn_index": 0}).status_code == 401
    page = httpx.get(url).text.replace(" ", "")  # the sign-in form, without the app's layout
    assert '"auth_required":true' in page and '"components":[]' in page
    assert httpx.get(url + "gradio_api/info").status_code == 401
    assert httpx.post(url + "gradio_api/upload").status_code == 401
    assert httpx.post(url + "login", data={"username": "alice", "password": "alice-secret-2"}).status_code != 200
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("alice", "wrong password"), verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("mallory", PEOPLE["alice"]), verbose=False)


def test_a_signed_in_run_completes_and_only_its_user_can_fetch_the_result(studio, pictures):
    url, _ = studio
    alice = Client(url, auth=("alice", PEOPLE["alice"]), verbose=False, download_files=False)
    preview, status, result = _run(alice, *pictures)
    assert status.startswith("Done")
    own = _signed_in(url, "alice").get(result["url"])
    assert own.status_code == 200 and Image.open(io.BytesIO(own.content)).size == (64, 48)
    assert _signed_in(url, "bob").get(result["url"]).status_code in (403, 404)
    assert httpx.get(result["url"]).status_code in (401, 403, 404)


def test_signed_in_on_the_page_a_run_shows_its_preview_and_its_result_downloads(studio, pictures, new_browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    url, _ = studio
    driver = new_browser()
    driver.get(url)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "input[type=password]"), 60, "the sign-in form")
    driver.find_element(By.CSS_SELECTOR, "input[type=text]").send_keys("alice")
    driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(PEOPLE["alice"])
    driver.find_element(By.XPATH, "//button[normalize-space()='Login']").click()
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "input[type=password]"), 60, "the sign-in to pass")
    open_page(driver, url, pictures[0], [pictures[1]], size=64, iterations=10)  # uploads shown: hers to fetch
    driver.find_element(By.ID, "run").click()
    wait_for(lambda: status_text(driver).startswith("Done"), 240, "the run to finish")
    shown = "const i = document.querySelector('#preview img'); return i && i.complete ? i.naturalWidth : 0"
    assert wait_for(lambda: driver.execute_script(shown), 30, "the preview to load") == 64
    href = wait_for(
        lambda: [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#result a[href]")],
        30,
        "the link",
    )[0]
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    own = httpx.get(href, cookies=cookies)
    assert own.status_code == 200 and Image.open(io.BytesIO(own.content)).format == "PNG"
    assert httpx.get(href).status_code in (401, 403, 404)


def test_an_upload_can_be_fetched_by_its_uploader_only(studio, pictures):
    url, _ = studio
    alice = _signed_in(url, "alice")
    with open(pictures[0], "rb") as f:
        [saved] = alice.post(url + "gradio_api/upload", files={"files": ("photo.png", f, "image/png")}).json()
    address = url + "gradio_api/file=" + saved
    assert alice.get(address).status_code == 200
    assert _signed_in(url, "bob").get(address).status_code in (403, 404)
    assert httpx.get(address).status_code in (401, 403, 404)


def test_one_user_cannot_fill_the_queue(studio, pictures):
    url, _ = studio
    bob = Client(url, auth=("bob", PEOPLE["bob"]), verbose=False, download_files=False)
    first = bob.submit(
        content=handle_file(pictures[0]), styles=[handle_file(pictures[1])], size=64, iterations=60, api_name="/stylize"
    )
    deadline = time.monotonic() + 60
    while first.status().code == Status.STARTING and time.monotonic() < deadline:  # joined the queue first
        time.sleep(0.05)
    second = bob.submit(
        content=handle_file(pictures[0]), styles=[handle_file(pictures[1])], size=64, iterations=4, api_name="/stylize"
    )
    with pytest.raises(Exception, match="400"):
        second.result()
    alice = Client(url, auth=("alice", PEOPLE["alice"]), verbose=False, download_files=False)
    assert _run(alice, *pictures)[1].startswith("Done")  # another user still gets a turn
    assert first.result()[1].startswith("Done")


def test_the_file_folder_stays_under_its_disk_budget(studio, pictures, tmp_path):
    url, files = studio
    alice = Client(url, auth=("alice", PEOPLE["alice"]), verbose=False, download_files=False)
    rng = np.random.default_rng(0)
    for k in range(6):  # each upload is ~0.5 MB of noise: 3 MB in all, twice the budget
        big = tmp_path / f"big{k}.png"
        Image.fromarray(rng.integers(0, 256, (420, 420, 3), dtype=np.uint8)).save(big)
        assert _run(alice, str(big), pictures[1])[1].startswith("Done")
    kept = sum(f.stat().st_size for f in files.rglob("*") if f.is_file())
    assert kept <= MAX_DISK


def test_add_user_stores_a_salted_hash_never_the_password(tmp_path):
    auth = tmp_path / "users.txt"
    run = [sys.executable, "-m", "painterly", "web", "--add-user", "carol", "--auth-file", str(auth)]
    assert subprocess.run(run, input="carol-pass-1\n", text=True, capture_output=True).returncode == 0
    assert subprocess.run(run, input="carol-pass-1\n", text=True, capture_output=True).returncode == 0
    text = auth.read_text()
    assert "carol-pass-1" not in text and text.count("carol:scrypt$") == 1
    assert oct(auth.stat().st_mode & 0o777) == "0o600"
    stored = users.read(auth)["carol"]
    assert users.verify("carol-pass-1", stored) and not users.verify("carol-pass-2", stored)
    assert users.hash_password("same") != users.hash_password("same")  # salted


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--host", "0.0.0.0"], "--auth-file FILE"),
        (["--add-user", "dave"], "--add-user needs --auth-file"),
        (["--auth-file", "/nonexistent/users.txt"], "no such file"),
        (["--max-disk", "lots"], "--max-disk: expected a size"),
    ],
)
def test_unsafe_or_wrong_server_settings_are_one_line_errors(args, expect, capsys):
    assert main(["web", *args]) == 2
    err = capsys.readouterr().err
    assert expect in err and len(err.strip().splitlines()) == 1

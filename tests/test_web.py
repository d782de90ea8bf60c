"""The web UI: a real browser run end to end, cancel, the queue under 8 clients, upload limits.

One `painterly web` server (a subprocess on a free loopback port) serves every test here.
The browser tests drive Debian's headless Chromium through /usr/bin/chromedriver; they skip
only outside CI when Chromium is missing (.ci/run installs it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from conftest import artwork_like, photo_like
from painterly.media import images

pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'painterly[web]')")
import webserver  # noqa: E402 - after the importorskip: it needs the web extra's client

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (*webserver.CHROMIUM_FLAGS, "--window-size=1400,1100")
MAX_PIXELS = 2_000_000  # the server's limit here, so the too-many-pixels test needs only a small file


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, process) of a running `painterly web` on 127.0.0.1 (its default host)."""
    folder = tmp_path_factory.mktemp("server")
    port = webserver.free_port()
    proc = webserver.start_server(
        port,
        "--max-pixels",
        str(MAX_PIXELS),
        log=folder / "server.log",
        env={"GRADIO_TEMP_DIR": str(folder / "gradio")},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        webserver.wait_ready(url, proc)
        yield url, proc
    finally:
        webserver.stop_server(proc)
        print((folder / "server.log").read_text()[-3000:])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A content photo and two style images, small PNG files."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = folder / "photo.png", folder / "style_a.png", folder / "style_b.png"
    photo_like(96, 72).save(paths[0])
    artwork_like(64, 64, seed=1).save(paths[1])
    artwork_like(48, 64, seed=2).transpose(Image.Transpose.ROTATE_90).save(paths[2])
    return [str(p) for p in paths]


@pytest.fixture
def new_browser():
    """Start headless Chromium sessions (each its own profile); all are closed afterwards."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("no /usr/bin/chromium + chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    started = []

    def start():
        profile = tempfile.mkdtemp(prefix="painterly-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(60)
        started.append((driver, profile))
        return driver

    yield start
    for driver, profile in started:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(new_browser):
    return new_browser()


# Records every distinct src of the preview <img>, however briefly it was shown.
WATCH_PREVIEW = """
window.previewSrcs = [];
const record = () => {
  const img = document.querySelector('#preview img');
  if (img && img.src && !window.previewSrcs.includes(img.src)) window.previewSrcs.push(img.src);
};
new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                     attributeFilter: ['src']});
"""


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def open_page(driver, url: str, content: str, styles: list[str], size: int, iterations: int) -> None:
    """Load the page, upload the images and set size and iterations as a user would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#content input[type=file]"), 60, "the page")
    driver.find_element(By.CSS_SELECTOR, "#content input[type=file]").send_keys(content)
    driver.find_element(By.CSS_SELECTOR, "#styles input[type=file]").send_keys("\n".join(styles))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#content img"), 60, "the content upload")
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#styles tr")) >= len(styles), 60, "the uploads")
    for elem_id, value in (("size", size), ("iterations", iterations)):
        box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(str(value), Keys.TAB)
        wait_for(lambda b=box, v=value: b.get_attribute("value") == str(v), 10, f"{elem_id} = {value}")
    driver.execute_script(WATCH_PREVIEW)


def status_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#status textarea").get_attribute("value") or ""


def download_result(driver, folder: Path) -> Path:
    """Fetch the PNG behind the result's download link, as the browser would."""
    from selenium.webdriver.common.by import By

    href = wait_for(
        lambda: [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#result a[href]")],
        30,
        "the download link",
    )[0]
    path = folder / "downloaded.png"
    with urllib.request.urlopen(href, timeout=30) as r:
        path.write_bytes(r.read())
    return path


def test_browser_run_shows_the_picture_forming_and_downloads_the_png(server, inputs, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, _ = server
    content, *styles = inputs
    open_page(browser, url, content, styles, size=64, iterations=20)
    browser.find_element(By.ID, "run").click()
    wait_for(lambda: status_text(browser).startswith("Done"), 240, "the run to finish")
    srcs = browser.execute_script("return window.previewSrcs")
    assert len(srcs) >= 3, f"the preview changed {len(srcs) - 1} times: {srcs}"
    assert "iteration 20/20 at 64 px" in status_text(browser) and "style" in status_text(browser)

    png = download_result(browser, tmp_path)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (64, 48)
    meta = images.read_metadata(png)
    assert meta["size"] == "64" and meta["iterations"] == "20" and meta["iterations_done"] == "20"
    assert meta["content"] == "photo.png" and meta["style"] == "style_a.png,style_b.png"
    assert float(meta["style_weight"]) == pytest.approx(1 / 1e-3) and "partial" not in meta


def queue_text(driver) -> str:
    """What the preview's status tracker says, e.g. 'queue: 1/1 | 3.2s' while waiting."""
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "#preview [data-testid=status-tracker]"))


def test_a_second_user_waits_in_line_and_cancel_keeps_the_best_image(server, inputs, new_browser, tmp_path):
    import psutil
    from selenium.webdriver.common.by import By

    url, proc = server
    content, style, _ = inputs
    first, second = new_browser(), new_browser()
    for driver in (first, second):
        open_page(driver, url, content, [style], size=64, iterations=2000)
    first.find_element(By.ID, "run").click()
    wait_for(lambda: len(first.execute_script("return window.previewSrcs")) >= 2, 240, "two previews")
    second.find_element(By.ID, "run").click()
    wait_for(lambda: "queue: 1/1" in queue_text(second), 30, "the second user's queue position 'queue: 1/1'")

    first.find_element(By.ID, "cancel").click()
    wait_for(lambda: status_text(first).startswith("Cancelled"), 30, "the cancel")
    assert first.find_elements(By.CSS_SELECTOR, "#preview img")
    png = download_result(first, tmp_path)
    meta = images.read_metadata(png)
    assert meta["partial"] == "true" and 0 < int(meta["iterations_done"]) < 2000
    assert Image.open(png).size == (64, 48)

    # the freed slot goes to the second user, whose cancel leaves the server idle
    wait_for(lambda: second.execute_script("return window.previewSrcs"), 120, "the second user's run")
    second.find_element(By.ID, "cancel").click()
    wait_for(lambda: status_text(second).startswith("Cancelled"), 30, "the second cancel")
    server_process = psutil.Process(proc.pid)
    idle_for_a_second = functools.partial(webserver.idle, server_process, 1.0, 0.3)  # no run is left going
    wait_for(idle_for_a_second, 30, "the server to go idle after both cancels", every=0)


def test_eight_clients_at_once_all_finish_in_turn(server, inputs, tmp_path):
    url, proc = server
    content, style, _ = inputs
    results = webserver.load(url, 8, content, style, timeout=300, folder=tmp_path, size=64, iterations=5)
    problems = [r.error or webserver.check_png(r.png, 64, 5) for r in results]
    assert problems == [""] * 8, problems
    assert max(r.max_rank for r in results) >= 1, "nobody saw a queue position"
    assert webserver.most_at_once(results) <= 1, "the default concurrency is one run at a time"
    peak = webserver.peak_rss_mib(proc.pid)
    print(f"server peak RSS after 8 clients: {peak:.0f} MiB")
    assert peak < 3000


def submit_error(url: str, content: str, style: str, **controls) -> str:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=False)
    with pytest.raises(Exception) as info:
        client.predict(content=handle_file(content), styles=[handle_file(style)], api_name="/stylize", **controls)
    return str(info.value)


def test_too_many_pixels_is_refused_with_a_clear_message(server, inputs, tmp_path):
    url, _ = server
    big = tmp_path / "huge.png"
    Image.new("RGB", (2000, 1200), (200, 100, 50)).save(big)  # 2.4 MP, a small file
    message = submit_error(url, str(big), inputs[1], size=64, iterations=1)
    assert "content image huge.png: 2000x1200 is too large (limit 2 megapixels)" in message
    assert str(tmp_path) not in message and "/tmp/gradio" not in message


def test_bad_settings_are_refused_with_a_clear_message(server, inputs):
    url, _ = server
    message = submit_error(url, inputs[0], inputs[1], size=64, iterations=1, style_weights="1,2")
    assert "style-weights has 2 values for 1 style images" in message
    message = submit_error(url, inputs[0], inputs[1], size=64, iterations=1, init="/etc/passwd")
    assert "root:" not in message
    message = submit_error(url, inputs[0], inputs[1], size=4096, iterations=1)  # memory stays bounded
    assert "4096 is greater than maximum value 1024" in message


def test_uploads_over_25_mb_are_refused(server, tmp_path):
    url, _ = server
    body = b"x" * (26 * 1024 * 1024)
    boundary = "painterlyboundary"
    data = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "gradio_api/upload", data=data, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=60)
    assert info.value.code == 413
    assert "maximum allowed size of 26214400 bytes" in info.value.read().decode()


def test_the_page_refuses_uploads_over_25_mb_with_a_clear_message(server, browser, tmp_path):
    import numpy as np
    from selenium.webdriver.common.by import By

    big = tmp_path / "big.png"  # 26.6 MB but only 9.3 megapixels: the file size is what is refused
    noise = np.random.default_rng(0).integers(0, 256, (3000, 3100, 3), dtype=np.uint8)
    Image.fromarray(noise).save(big, compress_level=0)
    browser.get(server[0])
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#content input[type=file]"), 60, "the page")
    browser.find_element(By.CSS_SELECTOR, "#content input[type=file]").send_keys(str(big))
    message = 'exceed the maximum allowed size of 25.0 Mb: "big.png"'
    wait_for(lambda: message in browser.find_element(By.TAG_NAME, "body").text, 30, "the size message")
    assert not browser.find_elements(By.CSS_SELECTOR, "#content img")


def test_no_file_on_the_server_is_readable(server):
    url, proc = server
    for path in ("/etc/passwd", str(Path(__file__).resolve()), str(Path.cwd() / "pyproject.toml")):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=30)
        assert info.value.code in (403, 404), path
    import psutil

    listening = {c.laddr.ip for c in psutil.Process(proc.pid).net_connections("tcp") if c.status == "LISTEN"}
    assert listening == {"127.0.0.1"}


def test_web_on_a_busy_port_says_so_in_one_line(server):
    port = server[0].rstrip("/").rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "painterly", "web", "--port", port], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"painterly: error: cannot listen on 127.0.0.1:{port}: ")
    assert "\n" not in result.stderr.strip()


def test_web_without_gradio_says_how_to_install_it():
    code = (
        "import sys; sys.modules['gradio'] = None\n"
        "from painterly.frontends.cli import main\n"
        "sys.exit(main(['web', '--port', '1']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "painterly: error: the web UI needs Gradio: pip install 'painterly[web]'"


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--max-size", "20"], "--max-size must be from 64"),
        (["--port", "70000"], "--port must be from 1 to 65535"),
    ],
)
def test_web_option_errors_exit_2_with_one_line(args, expect, capsys):
    from painterly.frontends.cli import main

    assert main(["web", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("painterly: error: ") and expect in err and "\n" not in err


def test_the_readme_gradio_client_example_works(server, inputs):
    from gradio_client import Client, handle_file

    url, _ = server
    client = Client(url, verbose=False)
    preview, status, png = client.predict(
        content=handle_file(inputs[0]),
        styles=[handle_file(inputs[1])],
        size=64,
        ratio=1e-3,
        iterations=5,
        api_name="/stylize",
    )
    assert status.startswith("Done: iteration 5/5 at 64 px")
    assert Image.open(png).size == (64, 48)


def test_a_plain_path_instead_of_handle_file_is_a_clear_error(server, inputs):
    from gradio_client import Client

    url, _ = server
    client = Client(url, verbose=False)
    with pytest.raises(Exception) as info:
        client.predict(content=inputs[0], styles=[inputs[1]], size=64, iterations=1, api_name="/stylize")
    assert "send files with gradio_client.handle_file(path)" in str(info.value)
    assert "pydantic" not in str(info.value)


def test_every_preview_has_the_size_asked_for_so_a_cancel_keeps_it(tmp_path):
    """The previews of a coarse-to-fine run were the coarse scale's size: a run cancelled early
    kept a 128 px picture of a 256 px request. Now each is upsampled, and says from what size."""
    from painterly import api
    from painterly.frontends import web

    photo, art = tmp_path / "photo.png", tmp_path / "art.png"
    photo_like(128, 96).save(photo)
    artwork_like().save(art)
    decided = api.plan(str(photo), str(art), size=256, iterations=8, min_scale=128)
    assert len(decided.scales) > 1
    made = [images.read_metadata(path) | {"size": Image.open(path).size} for path, _ in web.stylize_stream(
        decided, tmp_path, preview_every=1)]  # fmt: skip
    assert all(m["size"] == decided.size for m in made)
    assert made[0]["upsampled_from"] == "128x96" and "upsampled_from" not in made[-1]

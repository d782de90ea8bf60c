"""Make docs/web.png: the web UI mid-run, in headless Chromium, on the demo images.

    .venv/bin/python docs/make_web_screenshot.py [--size 256] [--iterations 300] [--at 215]

Starts `painterly web` on a free loopback port, presses 'Use the demo images' (scikit-image's
cat photo and immunohistochemistry micrograph), runs, and takes the screenshot once the
progress reaches iteration --at (the picture still forming). Needs /usr/bin/chromium and
/usr/bin/chromedriver (Debian's chromium, chromium-driver) and selenium.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import webserver  # noqa: E402 - starts and stops the server

FLAGS = (*webserver.CHROMIUM_FLAGS, "--hide-scrollbars")


def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def set_number(driver, elem_id: str, value: int) -> None:
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def iteration(driver) -> int:
    text = driver.find_element(By.CSS_SELECTOR, "#status textarea").get_attribute("value") or ""
    match = re.search(r"iteration (\d+)/", text)
    return int(match.group(1)) if match else -1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument(
        "--at",
        type=int,
        default=215,
        help="take the screenshot from this iteration on (default: early in the 256 px stage, which starts at 200)",
    )
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "web.png"))
    args = p.parse_args()
    port = webserver.free_port()
    url = f"http://127.0.0.1:{port}/"
    profile = tempfile.mkdtemp(prefix="painterly-chromium-")
    proc = webserver.start_server(port)
    driver = None
    try:
        webserver.wait_ready(url, proc)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (*FLAGS, f"--window-size={args.width},{args.height}", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(url)
        until(lambda: driver.find_elements(By.XPATH, "//button[contains(., 'demo images')]"), 60, "the page")
        driver.find_element(By.XPATH, "//button[contains(., 'demo images')]").click()
        until(lambda: driver.find_elements(By.CSS_SELECTOR, "#content img"), 60, "the demo images")
        set_number(driver, "size", args.size)
        set_number(driver, "iterations", args.iterations)
        driver.find_element(By.ID, "run").click()
        until(lambda: iteration(driver) >= args.at, 600, f"iteration {args.at}")
        driver.execute_script("window.scrollTo(0, 0)")  # pressing Run scrolled the page down
        time.sleep(0.5)  # let the new preview draw
        driver.save_screenshot(args.output)
        print(f"wrote {args.output} at iteration {iteration(driver)}")
    finally:
        if driver is not None:
            driver.quit()
        webserver.stop_server(proc)
        shutil.rmtree(profile, ignore_errors=True)
    with Image.open(args.output) as im:  # palette PNG: a third of the size, no visible loss for a UI
        im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(args.output, optimize=True)


if __name__ == "__main__":
    main()

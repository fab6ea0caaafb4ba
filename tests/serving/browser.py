"""A real server and Debian's Chromium for the browser tests and the README screenshots.

The app runs under uvicorn in a thread on a free loopback port; Playwright drives the
system's ``/usr/bin/chromium`` (no browser is downloaded).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_INSTALL = (
    "Chromium not found at /usr/bin/chromium: run `make test` as root (it installs it), or "
    "`sudo apt-get install chromium fonts-noto-cjk`"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 in a thread; yields its base URL, stops it afterwards."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser (Playwright) on the system's executable."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base: str, key: str) -> None:
    """Sign in the way a person does: type the key, press Enter."""
    page.goto(f"{base}/app")  # the address people are given: the sign-in form
    page.get_by_label(re.compile("API")).fill(key)  # the field is found by its label
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if page.url.rstrip("/").endswith("/app/signin"):
        raise AssertionError("sign-in refused")

"""Screenshots of the web workspace for the README, taken in Debian's headless Chromium.

    python docs/screenshots.py [--out docs/screenshots]

Serves the project home of the environment (``FIELDCOACH_HOME``, e.g. after ``make
demo-steps``) on a free loopback port, signs in as a planner and a coordinator with fresh
keys, and writes three PNGs: a manager's week on a desktop, the same on a 375-pixel phone,
and a team's skill-gap heatmap. Chinese renders as text only with a CJK font installed
(``fonts-noto-cjk``, which ``make test`` installs).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import threading
import time
from pathlib import Path

import uvicorn

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("error: the server did not start")
        time.sleep(0.2)
    return server, thread, f"http://127.0.0.1:{port}"


def sign_in(page, base: str, key: str) -> None:
    page.goto(f"{base}/app")  # the address people are given: the sign-in form
    page.get_by_label(re.compile("API")).fill(key)  # the field is found by its label
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if page.url.rstrip("/").endswith("/app/signin"):
        raise AssertionError("sign-in refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--manager", default=None, help="Manager to show (default: T00's first).")
    args = parser.parse_args()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    from fieldcoach.settings import get_settings
    from serving.app import create_app
    from serving.db import make_engine, session_factory
    from serving.security import create_key

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with session_factory(engine)() as session:
        planner, _ = create_key(session, "planner", ["*"], label="screenshots")
        coach, _ = create_key(session, "coordinator", label="screenshots")
    engine.dispose()
    app = create_app(settings)
    server, thread, base = start(app)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        territory = app.state.territory
        if territory is None:
            raise SystemExit(f"error: no data served: {app.state.data_error}")
        manager = args.manager or territory.team_managers("T00")[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            desktop = browser.new_context(viewport={"width": 1200, "height": 860})
            page = desktop.new_page()
            sign_in(page, base, planner)
            answer = page.goto(f"{base}/app/plan/managers/{manager}")
            if answer.status != 200:
                raise SystemExit(f"error: {manager}'s page answered {answer.status}")
            page.screenshot(path=str(args.out / "planner-week.png"))
            phone = browser.new_context(
                viewport={"width": 375, "height": 760}, device_scale_factor=1
            ).new_page()
            sign_in(phone, base, planner)
            phone.goto(f"{base}/app/plan/managers/{manager}")
            phone.screenshot(path=str(args.out / "planner-phone.png"))
            page = browser.new_context(viewport={"width": 1000, "height": 560}).new_page()
            sign_in(page, base, coach)
            page.goto(f"{base}/app/skills?team=T00")
            page.screenshot(path=str(args.out / "coordinator-heatmap.png"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    for path in sorted(args.out.glob("*.png")):
        print(f"{path}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

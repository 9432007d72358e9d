"""Helpers for browser tests: serve the real app, drive it with Playwright in Chromium.

Playwright cannot download its own browser here, so it drives the system's Chromium
(Debian's `chromium` package). Without one, browser tests skip, unless
CNNLAB_REQUIRE_BROWSER is set (as in CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CNNLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    reason = "no chromium binary (apt-get install chromium, or set CNNLAB_CHROMIUM)"
    if os.environ.get("CNNLAB_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until the server at `url` answers its health check; fail with its log if it ends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("streamlit did not start: " + log.read_text()[-2000:])
        time.sleep(0.3)


@contextlib.contextmanager
def served_app(home: Path, timeout: float = 60, env: dict[str, str] | None = None):
    """Start `streamlit run app.py` on a free loopback port; yield its base URL.

    `env` adds to (or overrides) the app's environment, e.g. a KERAS_HOME of the test's own.
    """
    port = free_port()
    env = {**os.environ, "CNNLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    log = open(home.parent / "streamlit.log", "w")  # noqa: SIM115 - closed in the finally
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, home.parent / "streamlit.log", timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1000):
    """A Playwright page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

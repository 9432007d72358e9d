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
DEFAULT_TIMEOUT_MS = 180_000
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
def served_app(home: Path, timeout: float = 180, env: dict[str, str] | None = None):
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
            # Generous: on a loaded machine a page can take a minute to draw (issue 12); a
            # test waits on what it expects to see, however long that takes, up to this.
            page.set_default_timeout(DEFAULT_TIMEOUT_MS)
            page.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


# Streamlit's frontend says whether a script runs; no spinner may be left in the page.
SCRIPT_DONE = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState
  == 'notRunning' && !document.querySelector('[data-testid="stMain"] [data-testid="stSpinner"]')"""
# How long the page must stay idle, or a value stay the same, to count as settled: the rerun
# an action starts begins a moment after it, and Plotly draws a moment after the rerun.
QUIET_S = 0.5
SETTLE_TIMEOUT_S = 180.0
PROBE_S = 0.05


def wait_until_stable(page, expression: str, *, quiet_s: float = QUIET_S,
                      timeout_s: float = SETTLE_TIMEOUT_S):
    """Wait until the JavaScript `expression` (a function) has given the same value for
    `quiet_s` in a row; return that value.

    Why not a fixed sleep: on a busy machine a redraw takes longer than any sleep chosen
    on a quiet one; this waits as long as the page keeps changing, and no longer.
    """
    deadline = time.monotonic() + timeout_s
    value, since = page.evaluate(expression), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError(f"the page kept changing for {timeout_s:.0f} s: {value!r}")
        time.sleep(PROBE_S)
        now = page.evaluate(expression)
        if now != value:
            value, since = now, time.monotonic()
    return value


def settle(page, *, quiet_s: float = QUIET_S, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until no script of the page has run for `quiet_s` in a row (no spinner either):
    the rerun a click or an entry started has then been drawn."""
    wait_until_stable(page, f"() => ({SCRIPT_DONE})() ? 'done' : performance.now()",
                      quiet_s=quiet_s, timeout_s=timeout_s)


def open_tab(page, name: str, *, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Click the tab `name` until the page shows it selected.

    Why again: a click that lands while a live panel's fragment reruns can be answered by
    the rerun already under way, which draws the old tab; a user clicks again, and so does
    this, until the tab is selected, however busy the machine.
    """
    tab = page.get_by_role("tab", name=name, exact=True)
    deadline = time.monotonic() + timeout_s
    while True:
        tab.click()
        clicked = time.monotonic()
        while time.monotonic() - clicked < 10:
            if tab.get_attribute("aria-selected") == "true":
                return
            time.sleep(PROBE_S)
        if time.monotonic() > deadline:
            raise AssertionError(f"the tab {name!r} stayed unselected for {timeout_s:.0f} s")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""`python -m cnnlab serve`: the lab starts wherever it is started, never prompts, runs as a service.

The `service` tests start the real server exactly as the README's systemd unit does (its
ExecStart, in its WorkingDirectory, with its Environment), with no terminal, standard input
closed and a fresh, empty HOME, on a free loopback port. The settings test starts it from
another directory, as `make run` does, for a user whose own Streamlit settings differ.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnlab.serve import lab_urls, server_environment, wants_browser
from cnnlab.store.owners import child_pids
from tests.browser import (
    browser_page,
    chromium_path,
    free_port,
    screenshot,
    wait_until_healthy,
)

ROOT = Path(__file__).resolve().parents[1]
# The README's unit names these places; the tests put their own in their stead.
CHECKOUT, STATE = "/opt/cnnlab", "/var/lib/cnnlab"
# Streamlit settings of a user's own (in ~/.streamlit and the directory the lab is started
# in), unlike the lab's.
FOREIGN_SETTINGS = """\
[server]
maxUploadSize = 7
fileWatcherType = "watchdog"

[client]
showSidebarNavigation = true
"""


@pytest.mark.parametrize("environ, interactive, platform, expected", [
    ({"DISPLAY": ":0"}, True, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True, "linux", True),
    ({}, True, "linux", False),  # a terminal without a screen: an SSH login, a server console
    ({"DISPLAY": ":0"}, False, "linux", False),  # a service, a script, `make run < /dev/null`
    ({}, True, "darwin", True),
    ({}, True, "win32", True),
    ({"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}, True, "darwin", False),
    ({}, False, "darwin", False),
])
def test_a_browser_opens_only_at_a_terminal_with_a_screen(environ, interactive, platform, expected):
    assert wants_browser(environ, interactive, platform) is expected


@pytest.mark.parametrize("address, expected_first", [
    (None, "http://localhost:8501"),
    ("0.0.0.0", "http://localhost:8501"),
    ("::", "http://localhost:8501"),
    ("127.0.0.1", "http://127.0.0.1:8501"),
    ("::1", "http://[::1]:8501"),
    ("lab.school.example", "http://lab.school.example:8501"),
])
def test_the_printed_address(address, expected_first):
    urls = lab_urls(address, 8501)
    assert urls[0] == expected_first
    assert len(urls) == 1 or address in (None, "0.0.0.0", "::")  # the network address: only when bound to all


@pytest.mark.parametrize("cnnlab_home, expected", [
    (None, "/start/runs"),  # ./runs of the directory the lab was started in, as always
    ("", "/start/runs"),
    ("elsewhere/runs", "/start/elsewhere/runs"),
    ("/srv/lab", "/srv/lab"),
])
def test_runs_are_kept_relative_to_where_the_lab_was_started(cnnlab_home, expected):
    environ = {"PATH": "/usr/bin"} | ({} if cnnlab_home is None else {"CNNLAB_HOME": cnnlab_home})
    env = server_environment(environ, Path("/start"))
    assert env["CNNLAB_HOME"] == expected and env["PATH"] == "/usr/bin"


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_bad_port_is_refused_with_a_message(port):
    result = subprocess.run([sys.executable, "-m", "cnnlab", "serve", "--port", port],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Invalid `--port`. Expected a TCP port from 1 to 65535" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_run_starts_the_launcher_from_any_directory(tmp_path):
    # -n prints what `make run` would run, without running (or installing) anything.
    result = subprocess.run(["make", "-n", "-f", str(ROOT / "Makefile"), "run", "PORT=8600",
                             "ADDRESS=127.0.0.1"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{ROOT}/.venv/bin/python -m cnnlab serve --port 8600 --address 127.0.0.1" in result.stdout


def service_unit() -> dict[str, list[str]]:
    """The README's systemd unit: each key's values, in order."""
    blocks = re.findall(r"```ini\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    [unit] = [block for block in blocks if "[Service]" in block]
    keys: dict[str, list[str]] = {}
    for line in unit.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    command: list[str]
    workdir: Path
    env: dict[str, str]
    log: Path


@contextlib.contextmanager
def launched(command: list[str], workdir: Path, env: dict[str, str], port: int, log: Path):
    """Start `command` as a service manager does (no terminal, standard input closed); stop it."""
    with open(log, "w") as journal:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                   stdout=journal, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log, timeout=180)
        yield Server(url, process, command, workdir, env, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def service_environment(home: Path) -> dict[str, str]:
    """A service's environment: systemd's few variables, and a fresh, empty HOME.

    PYTHONPATH only makes this checkout's cnnlab the one imported, as a checkout's own .venv does.
    """
    home.mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2", "CNNLAB_PRESTART_WORKERS": "0"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The lab started exactly as the README's unit starts it."""
    unit = service_unit()
    assert unit["Restart"] == ["on-failure"] and "StandardInput" not in unit  # systemd's default: closed
    tmp = tmp_path_factory.mktemp("service")
    state, port = tmp / "var-lib-cnnlab", free_port()

    def place(text: str) -> str:
        text = text.replace(f"{CHECKOUT}/.venv/bin/python", sys.executable).replace(CHECKOUT, str(ROOT))
        text = text.replace(STATE, str(state)).replace("--address 0.0.0.0", "--address 127.0.0.1")
        return text.replace("--port 8501", f"--port {port}")

    [exec_start], [workdir] = unit["ExecStart"], unit["WorkingDirectory"]
    command = place(exec_start).split()
    assert command[1:3] == ["-m", "cnnlab"] and f"--port {port}" in " ".join(command)
    workdir = Path(place(workdir))
    workdir.mkdir()  # useradd --create-home makes it
    env = service_environment(tmp / "home")
    env |= dict(place(item).split("=", 1) for item in unit.get("Environment", []))
    with launched(command, workdir, env, port, tmp / "journal.log") as server:
        yield server


def _wait_for_text(path: Path, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while text not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    return path.read_text()


def _inotify_watchers(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd) == "anon_inode:inotify")


@pytest.mark.browser
def test_the_service_serves_the_home_page_without_a_prompt(service):
    chromium_path()
    assert not any(Path(service.env["HOME"]).iterdir())  # fresh: no Streamlit credentials
    with urllib.request.urlopen(f"{service.url}/_stcore/health", timeout=10) as response:
        assert response.read() == b"ok"
    journal = _wait_for_text(service.log, f"cnnlab is running at {service.url}")
    assert f"cnnlab is running at {service.url}" in journal  # the address, printed once it answers
    assert "Email" not in journal and "Welcome to Streamlit" not in journal
    with browser_page(width=1280, height=720) as page:
        page.goto(service.url)
        page.locator("h1", has_text="cnnlab").wait_for(timeout=60_000)
        page.get_by_text("Recent runs").wait_for(timeout=60_000)
        page.get_by_text("Your name").wait_for(timeout=60_000)
        assert page.title() == "Home · cnnlab"
        screenshot(page, "service-home")
    # The home page opened the run store where the unit keeps it.
    assert (Path(service.env["CNNLAB_HOME"]) / "cnnlab.sqlite3").is_file()


@pytest.mark.browser
def test_the_labs_settings_apply_when_started_from_another_directory(tmp_path):
    """Started elsewhere, by someone whose own Streamlit settings differ from the lab's.

    The lab's upload cap equals Streamlit's default, so the start directory's and the home
    directory's own settings make each check fail where the lab's file is not in force.
    """
    chromium_path()
    elsewhere, port = tmp_path / "elsewhere", free_port()
    env = service_environment(tmp_path / "home")
    for folder in (elsewhere, tmp_path / "home"):
        (folder / ".streamlit").mkdir(parents=True)
        (folder / ".streamlit" / "config.toml").write_text(FOREIGN_SETTINGS)
    command = [sys.executable, "-m", "cnnlab", "serve", "--address", "127.0.0.1", "--port", str(port)]
    with launched(command, elsewhere, env, port, tmp_path / "server.log") as server, \
            browser_page(width=1280, height=720) as page:
        [server_pid] = child_pids(server.process.pid)
        page.goto(server.url)  # the home page opens the run store
        page.get_by_text("Recent runs").wait_for(timeout=60_000)
        page.goto(f"{server.url}/Data")
        limit = page.get_by_test_id("stFileUploaderDropzoneInstructions")
        limit.wait_for(timeout=60_000)
        # server.maxUploadSize: the lab's 200 MB, not the 7 MB of the user's own settings.
        assert "200MB per file" in limit.inner_text()
        # client.showSidebarNavigation = false: only the lab's own navigation in the sidebar.
        assert page.get_by_test_id("stSidebarNav").count() == 0
        assert page.get_by_role("link", name="Train").count() >= 1
        # server.fileWatcherType = "none": a session is open, and the server watches no file.
        assert _inotify_watchers(server_pid) == 0
        screenshot(page, "serve-from-elsewhere-data")
    # Runs are kept in ./runs of the directory the lab was started in (no CNNLAB_HOME given).
    assert (elsewhere / "runs" / "cnnlab.sqlite3").is_file()


def test_a_second_server_on_the_same_port_exits_non_zero(service):
    # What systemd's Restart=on-failure needs: a server that cannot serve exits non-zero.
    result = subprocess.run(service.command, cwd=service.workdir, env=service.env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    assert "is not available" in result.stdout + result.stderr  # Streamlit: "Port N is not available"


def test_sigterm_stops_the_service_cleanly(service):
    # Last in this module: it stops the module's server, as `systemctl stop` does.
    [server_pid] = child_pids(service.process.pid)
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(60) == 0  # a clean stop: systemd does not restart it
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{service.url}/_stcore/health", timeout=5)
    assert not Path(f"/proc/{server_pid}").exists()  # the server ended with its launcher

"""`python -m cnnlab serve`: start the lab's web server the same way from anywhere.

Why a launcher rather than `streamlit run app.py`: Streamlit reads a project's settings
(`.streamlit/config.toml`: the upload cap, no usage statistics, no file watcher, no garbage
collection after each rerun, the lab's own navigation) from the directory it is started in,
so they vanished when the lab was started anywhere else; and with `server.headless` off it
stops at an e-mail prompt on a machine that never ran it, which `make run < /dev/null`, a
service or a container cannot answer. The launcher runs Streamlit in the app's own folder,
always headless, prints the address once the server answers, and opens a browser only for
someone at a screen and a terminal. `make run`, the README and the service recipe all use it.

Why the app's folder rather than the settings passed as flags: flags outrank everything, so
an administrator's `STREAMLIT_*` variables would lose to the lab's file; started in its
folder, the file takes Streamlit's ordinary place (above `~/.streamlit/config.toml`, below
`STREAMLIT_*` variables and flags). Runs still land in `runs/` of the directory the lab is
started from: `CNNLAB_HOME` is set to it unless given.

Why a child process: the engine never imports Streamlit, and the launcher stays to pass a
service manager's SIGTERM on and to return Streamlit's exit status (non-zero when the server
fails, so that systemd's `Restart=on-failure` restarts it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Mapping
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 8501
# Addresses that mean "every interface of this machine".
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
# What a terminal or a service manager sends to stop the server (SIGHUP: the terminal closed).
FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                          if hasattr(signal, name))


def app_script(app_dir: Path = APP_DIR) -> Path:
    """The lab's main script, `app.py` beside the `cnnlab` package of a checkout."""
    script = app_dir / "app.py"
    if not script.is_file():
        raise ValueError(
            "Cannot find the lab's app. Expected app.py (with pages/ and ui/) beside the cnnlab "
            f"package, as in a checkout installed with `pip install -e .`. Received: no {script}. "
            "Run `make run` in the checkout, or install the checkout with `pip install -e .`.")
    return script


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(
            f"Invalid `--port`. Expected a TCP port from 1 to 65535. Received: {port}. "
            f"Leave it out for {DEFAULT_PORT}.")
    return port


def streamlit_command(script: Path, address: str | None, port: int) -> list[str]:
    """The `streamlit run` command line the launcher starts in the app's folder."""
    command = [sys.executable, "-m", "streamlit", "run", str(script),
               # The launcher prints the address and opens the browser, so Streamlit neither
               # prompts, opens one, nor asks a web service for this machine's public address
               # (what its own banner does when headless).
               "--server.headless", "true", "--logger.hideWelcomeMessage", "true",
               "--server.port", str(port)]
    if address is not None:
        command += ["--server.address", address]
    return command


def server_environment(environ: Mapping[str, str], start_dir: Path) -> dict[str, str]:
    """The server's environment: runs are kept relative to where the lab was started.

    The server runs in the app's folder, so a relative (or missing) `CNNLAB_HOME` is resolved
    against the directory the launcher was started in, where `./runs` has always been.
    """
    env = dict(environ)
    env["CNNLAB_HOME"] = str(start_dir / Path(env.get("CNNLAB_HOME") or "runs").expanduser())
    return env


def lab_urls(address: str | None, port: int) -> list[str]:
    """Where to open the lab: this machine first, then its address on the network if bound."""
    if address is None or address in WILDCARD_ADDRESSES:
        network = network_address()
        return [f"http://localhost:{port}"] + ([f"http://{network}:{port}"] if network else [])
    host = f"[{address}]" if ":" in address else address
    return [f"http://{host}:{port}"]


def network_address() -> str | None:
    """This machine's IPv4 address on its network, or None without one.

    Connecting a UDP socket only picks the route: no packet is sent (192.0.2.1 is a
    documentation address, RFC 5737, never answered anyway).
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def wants_browser(environ: Mapping[str, str], interactive: bool, platform: str) -> bool:
    """Whether to open a browser: only for someone at a terminal with a screen.

    Args:
        environ: the launcher's environment (DISPLAY, WAYLAND_DISPLAY, SSH_CONNECTION).
        interactive: whether standard input and output are a terminal; a service, a script
            or `make run < /dev/null` is not.
        platform: `sys.platform`.
    """
    if not interactive:
        return False
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    # macOS and Windows have a screen, unless the terminal is a login over SSH.
    return not environ.get("SSH_CONNECTION")


def serve(address: str | None = None, port: int = DEFAULT_PORT, browser: bool | None = None) -> int:
    """Run the lab's server until it stops; return its exit status.

    Args:
        address: the address to listen on (default: every address of this machine).
        port: the TCP port (default 8501).
        browser: open a browser once the server answers (default: when `wants_browser`).
    """
    script = app_script()
    check_port(port)
    if browser is None:
        browser = wants_browser(os.environ, sys.stdin.isatty() and sys.stdout.isatty(), sys.platform)
    urls = lab_urls(address, port)
    print(f"Starting cnnlab on port {port}...", flush=True)
    # Its own process group: a terminal's Ctrl-C reaches the launcher alone, which passes it
    # on once (Streamlit's workers leave with their server). Standard input is closed, so no
    # prompt can ever wait for an answer.
    server = subprocess.Popen(streamlit_command(script, address, port), cwd=script.parent,
                              env=server_environment(os.environ, Path.cwd()),
                              stdin=subprocess.DEVNULL,
                              process_group=0 if os.name == "posix" else None)

    def forward(signum, frame):  # noqa: ARG001
        server.send_signal(signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    threading.Thread(target=_announce, args=(server, urls, browser), name="cnnlab-announce",
                     daemon=True).start()
    status = server.wait()
    return 128 - status if status < 0 else status  # killed by a signal: the shell's convention


def _announce(server: subprocess.Popen, urls: list[str], browser: bool) -> None:
    """Once the server answers its health check, print where it is and maybe open a browser."""
    # No proxy: a classroom's HTTP proxy would not reach this machine's own server.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while server.poll() is None:
        try:
            with opener.open(f"{urls[0]}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.25)
    else:
        return
    lines = [f"\n  cnnlab is running at {urls[0]}"]
    lines += [f"  from other machines on the network: {url}" for url in urls[1:]]
    print("\n".join(lines) + "\n", flush=True)
    if browser:
        _open_browser(urls[0])


def _open_browser(url: str) -> None:
    try:
        found = webbrowser.get()
    except webbrowser.Error:
        return
    # A text-mode browser (lynx, w3m: webbrowser's fall-back on a display without a graphical
    # one) would take over the terminal the server logs to.
    if type(found) is webbrowser.GenericBrowser:
        return
    found.open(url)

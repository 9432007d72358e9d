"""A throwaway PostgreSQL server for the store's tests: initdb in a temporary folder, started
with pg_ctl on a free port, its socket in that folder, removed after the session.

PostgreSQL refuses to run as root: as root, the server's commands run as the `postgres`
user (Debian's package creates it) through `runuser`. Without a server (no initdb), the
PostgreSQL tests skip, unless CNNLAB_REQUIRE_POSTGRES=1 (CI, `.ci/run`), where they fail.
Each test gets a database of its own (`CREATE DATABASE`, a copy of an empty template: fast).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
_names = itertools.count()


def postgres_bin(tool: str) -> str | None:
    """The path of a PostgreSQL server program (initdb, pg_ctl), newest version first."""
    found = shutil.which(tool)
    if found:
        return found
    for pattern in SEARCH:
        for folder in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (folder / tool).is_file():
                return str(folder / tool)
    return None


def missing(reason: str):
    """Skip, or fail where a server is required (CI)."""
    if os.environ.get("CNNLAB_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (CNNLAB_REQUIRE_POSTGRES=1) but {reason}. "
                    "Install it: apt-get install -y postgresql.")
    pytest.skip(f"PostgreSQL tests need a server: {reason} (apt-get install -y postgresql)")


class Server:
    """One PostgreSQL server in `folder`, listening only on its socket there."""

    def __init__(self, folder: Path):
        self.folder, self.data, self.port = folder, folder / "data", _free_port()
        self.as_root = os.geteuid() == 0

    def command(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run([*prefix, *argv], check=check, capture_output=True, text=True,
                              timeout=timeout, cwd=self.folder)

    def init(self) -> None:
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self.command(postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "cnnlab",
                     "--no-sync", "-E", "UTF8", "--locale", "C")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=off "
                   "-c full_page_writes=off -c max_connections=200")
        self.command(postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                     "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.command(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                     "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as a crash does, no shutdown checkpoint) and start it."""
        self.stop(mode)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://cnnlab@/{database}?host={self.folder}&port={self.port}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A running throwaway server for the whole test session (skips or fails without one)."""
    if postgres_bin("initdb") is None or postgres_bin("pg_ctl") is None:
        missing("initdb/pg_ctl were not found")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed (pip install 'psycopg[binary]>=3.1')")
    # Not under pytest's own temporary folders: those are private to root, and the server
    # runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-pg-"))
    server = Server(folder)
    try:
        server.init()
        server.start()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        output = getattr(error, "stderr", "") or ""
        shutil.rmtree(folder, ignore_errors=True)
        missing(f"a server could not be started ({error}; {output.strip()[-500:]})")
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, monkeypatch):
    """A new empty database, and CNNLAB_DATABASE_URL pointing at it for this test."""
    url = postgres_server.new_database()
    monkeypatch.setenv("CNNLAB_DATABASE_URL", url)
    return url

"""Teacher sign-in that resists guessing: failures counted per browser and per server.

Why: without it each rerun of the page is one free guess at the teacher password. Here a
browser gets a few tries, then waits a growing delay between tries (2, 4, 8 ... s), and
after `lockout_after` failures in a row it is locked out for `lockout_s`. A browser can
drop its key and come back as a stranger, so failures are also counted for the whole
server: `server_lockout_after` failures within `server_window_s` lock teacher sign-in for
everybody for `lockout_s`, doubling with each further server lock-out up to
`max_server_lockout_s` until somebody signs in (the teacher, too, then waits: the price of
a server-wide limit; a login with a teachers list, cnnlab.sessions, has no password). Nothing sleeps:
an attempt made too early is refused without checking the password, and the page says how
long to wait. Every attempt is logged (never the password); the clock can be injected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

LOG = logging.getLogger("cnnlab.sign_in")


def log_to_stderr() -> None:
    """Send this module's records, successes included, to the server's standard error
    (the journal, under systemd), unless the logger has been set up already.

    Why: Python's default shows WARNING and above only; a teacher reading the log must
    also see who signed in.
    """
    if not LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)


@dataclass(frozen=True)
class Outcome:
    """What became of one sign-in attempt."""

    ok: bool
    wait_s: float  # how long before the next attempt may be made (0: now)
    message: str  # what to tell the user ("" on success)


@dataclass
class _Browser:
    failures: int = 0  # in a row, since the last success or lock-out
    not_before: float = 0.0  # no attempt is checked before this time


class SignInGuard:
    """Counts failed sign-ins per browser and per server (thread-safe, process-wide).

    Args:
        clock: seconds, monotonic (default time.monotonic; tests pass their own).
        free_failures: failures in a row with no delay after them (default 2).
        base_delay_s: the first delay; each further failure doubles it (default 2 s).
        max_delay_s: the longest delay before the lock-out (default 60 s).
        lockout_after: failures in a row that lock a browser out (default 5).
        lockout_s: how long a lock-out lasts, a browser's or the server's (default 300 s).
        server_lockout_after: failures on the whole server within `server_window_s` that
            lock everybody out (default 20).
        server_window_s: the server's window (default 600 s).
        max_server_lockout_s: the longest server lock-out (default 3600 s).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, free_failures: int = 2,
                 base_delay_s: float = 2.0, max_delay_s: float = 60.0, lockout_after: int = 5,
                 lockout_s: float = 300.0, server_lockout_after: int = 20,
                 server_window_s: float = 600.0, max_server_lockout_s: float = 3600.0):
        self.clock = clock
        self.free_failures, self.base_delay_s, self.max_delay_s = free_failures, base_delay_s, max_delay_s
        self.lockout_after, self.lockout_s = lockout_after, lockout_s
        self.server_lockout_after, self.server_window_s = server_lockout_after, server_window_s
        self.max_server_lockout_s = max_server_lockout_s
        self._server_lockouts = 0  # since the last success: each one lasts twice the last
        self._lock = threading.Lock()
        self._browsers: dict[str, _Browser] = {}
        self._server_failures: deque[float] = deque()
        self._server_not_before = 0.0

    def wait_s(self, browser: str) -> float:
        """Seconds before `browser` may try again (0: now)."""
        with self._lock:
            return self._wait_locked(browser, self.clock())

    def attempt(self, browser: str, check: Callable[[], bool], *, who: str = "") -> Outcome:
        """Try to sign in: `check()` (the password comparison) runs only if `browser` may
        try now. `browser` identifies the browser (its owner hash); `who` labels it in the
        log (a display name)."""
        label = f"{who or 'unnamed'} ({browser[-8:]})"
        with self._lock:
            now = self.clock()
            wait = self._wait_locked(browser, now)
            if wait > 0:
                LOG.warning("Teacher sign-in refused without checking for %s: %.0f s to wait.", label, wait)
                return Outcome(False, wait, _wait_message(wait, self._server_not_before > now))
            ok = bool(check())
            state = self._browsers.setdefault(browser, _Browser())
            if ok:
                self._browsers.pop(browser, None)
                self._server_lockouts = 0
                LOG.info("Teacher sign-in succeeded for %s.", label)
                return Outcome(True, 0.0, "")
            state.failures += 1
            self._server_failures.append(now)
            while self._server_failures and self._server_failures[0] <= now - self.server_window_s:
                self._server_failures.popleft()
            if len(self._server_failures) >= self.server_lockout_after:
                lockout = min(self.lockout_s * 2 ** self._server_lockouts, self.max_server_lockout_s)
                self._server_not_before = now + lockout
                self._server_lockouts += 1
                self._server_failures.clear()
                LOG.warning("Teacher sign-in locked for everybody for %.0f s: %d failures on this "
                            "server within %.0f s.", lockout, self.server_lockout_after,
                            self.server_window_s)
            if state.failures >= self.lockout_after:
                state.not_before, state.failures = now + self.lockout_s, 0
            elif state.failures > self.free_failures:
                delay = self.base_delay_s * 2 ** (state.failures - self.free_failures - 1)
                state.not_before = now + min(delay, self.max_delay_s)
            wait = self._wait_locked(browser, now)
            LOG.warning("Teacher sign-in failed for %s (%d failures in a row here, %d on the server "
                        "lately); next try in %.0f s.", label, state.failures, len(self._server_failures), wait)
            message = "Wrong password."
            if wait > 0:
                message += " " + _wait_message(wait, self._server_not_before > now)
            return Outcome(False, wait, message)

    def _wait_locked(self, browser: str, now: float) -> float:
        state = self._browsers.get(browser)
        until = max(self._server_not_before, state.not_before if state else 0.0)
        return max(0.0, until - now)


def _wait_message(wait_s: float, server: bool) -> str:
    """"Too many wrong passwords: try again in 4 min 50 s." (whose, and how long)."""
    whose = "on this server" if server else "from this browser"
    return f"Too many wrong passwords {whose}: try again in {format_wait(wait_s)}."


def format_wait(seconds: float) -> str:
    """"45 s", "4 min 50 s", "5 min": a wait, rounded up to the second."""
    total = max(1, int(-(-seconds // 1)))
    minutes, rest = divmod(total, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")

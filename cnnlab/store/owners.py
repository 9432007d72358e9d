"""Which process owns a run, and whether that process is still alive.

Why: after a crash the store must tell runs whose process is gone (to mark them
`interrupted`) from runs another live process is still training. A pid alone is not enough:
pids are reused, so on Linux the process's start time is compared with when it took the run,
and a run counts as this very process's only if this process claimed it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

# A live process that started this long after it supposedly took a run is a newer process
# that reuses a dead owner's pid.
PID_REUSE_SLACK_S = 60.0
# A run owned by another host is presumed dead when its owner has written nothing for
# this long; training flushes progress every few seconds.
HEARTBEAT_TIMEOUT_S = 600.0

# Runs this very process created or took: the only ones "owned by the current process".
# A previous process with the same hostname and pid (a restarted container) is not us.
_claimed_runs: set[str] = set()


def claim(run_id: str) -> None:
    """Record that this process created or took `run_id`."""
    _claimed_runs.add(run_id)


def release(run_id: str) -> None:
    """Forget a claim (the run was deleted, or its creation failed)."""
    _claimed_runs.discard(run_id)


def this_owner() -> str:
    """"hostname:pid" of the current process (computed each time: a fork has a new pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int, since: float) -> bool:
    """Whether `pid` is a live process that could have taken a run at `since`."""
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C on Windows.
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        pass
    try:  # Linux tells a zombie and when the process started.
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return True
    fields = stat[stat.rindex(")") + 2:].split()  # fields 3.. of proc(5)
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0] != "Z" and started <= since + PID_REUSE_SLACK_S


def orphan_reason(run_id: str, owner: str | None, since: float, seen: float, host: str,
                  now: float) -> str | None:
    """Why an active run's owner is gone, or None if it may still be alive.

    Args:
        run_id: the run.
        owner: its "hostname:pid" owner.
        since: when the owner took it (started, or created for a queued run).
        seen: the owner's last write to any of its runs (its heartbeat).
        host: this machine's hostname.
        now: the store's time now.
    """
    owner_host, _, pid_text = (owner or "").rpartition(":")
    if owner_host == host and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            if run_id in _claimed_runs:
                return None
            return f"The process that ran it ({owner}) ended: this process reuses its pid."
        if not pid_alive(pid, since):
            return f"The process that ran it ({owner}) ended."
        return None
    if now - seen > HEARTBEAT_TIMEOUT_S:
        return f"No news from its owner ({owner}) for {(now - seen) / 60:.0f} minutes."
    return None


def child_pids(pid: int) -> list[int]:
    """The live child processes of `pid`, from Linux /proc ([] elsewhere).

    Why: a server's worker processes (cnnlab.training.workers) are its children; tests and
    benchmarks check that none outlives a server killed with SIGKILL.
    """
    children = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # fields 3.. of proc(5)
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry.parent.name))
    return children


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)

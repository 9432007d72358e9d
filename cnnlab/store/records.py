"""What the store holds, whatever keeps it: a run's record, a metric row, and their checks.

Why apart from the SQLite code (`cnnlab.store.runs`): these types and checks are the
store's contract with its readers and writers. A second backend (a server database)
stores the same records, refuses the same bad values with the same messages, and keeps
the same clock, so a reader cannot tell which one it reads.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

STATUSES = ("queued", "running", "completed", "stopped", "failed", "diverged", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = tuple(status for status in STATUSES if status not in ACTIVE_STATUSES)
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def now() -> float:
    """The store's clock (unix seconds); looked up at each call, so tests can move time."""
    return time.time()


def default_home() -> Path:
    """The folder runs are kept in: `$CNNLAB_HOME` if set, else `./runs`."""
    home = os.environ.get("CNNLAB_HOME")
    return Path(home).expanduser() if home else Path.cwd() / "runs"


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: its config, status, timing, progress and final metrics."""

    run_id: str
    name: str
    config: dict
    status: str
    created_at: float  # unix seconds, as are all times here
    started_at: float | None
    finished_at: float | None
    device: str | None
    owner: str | None  # "hostname:pid" of the process that queued or trains the run
    progress: dict  # whatever the runner wrote last (epoch, step, eta_s, ...); {} if none
    final_metrics: dict  # {} if none
    error: str | None
    updated_at: float | None = None  # the last write to the run: its heartbeat
    session: str = ""  # display name of the browser session that started it ("" for the CLI)
    # Who may stop and delete it: cnnlab.sessions.owner_of_key/owner_of_user ("" for the CLI
    # and for runs stored before schema 5: a teacher's only).
    owner_key: str = ""

    @property
    def duration_s(self) -> float | None:
        """Seconds of training so far (or in all, once finished); None if never started."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now()
        return end - self.started_at

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class MetricRow(NamedTuple):
    """One stored metric value; `id` grows with every write, so readers can resume."""

    id: int
    epoch: int
    step: int
    name: str
    value: float
    time: float


def metric_params(run_id: str, rows: Iterable[tuple[int, int, str, float]]) -> list[tuple]:
    """Check metric rows and turn them into (run_id, epoch, step, name, value, time) tuples,
    a NaN value as None (a database's NULL)."""
    written, params = now(), []
    for row in rows:
        try:
            epoch, step, name, value = row
            epoch, step, value = operator.index(epoch), operator.index(step), float(value)
            if not isinstance(name, str) or not name:
                raise TypeError("name")
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "Invalid metric row. Expected (epoch: int, step: int, name: non-empty str, "
                f"value: float). Received: {row!r}. Convert tensors with float() first."
            ) from exc
        params.append((run_id, epoch, step, name, None if math.isnan(value) else value, written))
    return params


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"Unknown `status`. Expected one of {list(STATUSES)}. "
                         f"Received: {status!r}. Use one of cnnlab.store.STATUSES.")


def check_terminal_status(status: str) -> None:
    if status not in TERMINAL_STATUSES:
        raise ValueError(
            f"Invalid `status` for finish_run. Expected a terminal status, one of "
            f"{list(TERMINAL_STATUSES)}. Received: {status!r}. Use mark_running() to "
            "start a run; a finished run's status is one of these.")


def check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(
            "Invalid `run_id`. Expected letters, digits, '-' and '_' only, like "
            f"'20261121-195012-3f9a'. Received: {run_id!r}. Use an id from create_run().")


def check_artifact_name(name: str) -> None:
    if (not isinstance(name, str) or name in ("", ".") or ".." in name or "\0" in name
            or any(sep in name for sep in ("/", "\\", os.sep, os.altsep) if sep)):
        raise ValueError(
            "Invalid artifact `name`. Expected a plain file name without path separators "
            f"or '..', like 'model.keras'. Received: {name!r}. Artifacts live directly in "
            "the run's folder.")


def to_json(value: Mapping[str, Any], what: str) -> str:
    """`value` as JSON text, with a Keras-style error naming `what` if it cannot be."""
    if not isinstance(value, Mapping):
        raise ValueError(f"Invalid `{what}`. Expected a dict. Received: {type(value).__name__} "
                         f"{value!r:.200}. Pass a dict (e.g. config.to_dict()).")
    try:
        return json.dumps(dict(value), default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Invalid `{what}`: it cannot be saved as JSON ({exc}). Expected a dict of str, "
            f"numbers, bools, None, lists and dicts. Received: {value!r:.200}. Convert other "
            "objects to these types first.") from exc


def _json_default(value: Any) -> Any:
    # NumPy scalars and arrays (and tensors with .numpy()) are common in metrics.
    for method in ("tolist", "item"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

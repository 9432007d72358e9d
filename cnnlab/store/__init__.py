"""The run store: runs, their metrics and their artifacts, the lab's single source of truth.

`RunStore` keeps them in SQLite (`runs`, its tables in `schema`); `records` holds what a
run is whatever keeps it; `owners` which process owns a run; `artifacts` how a run's
files are written and cleaned up after a crash.
"""

from cnnlab.store.artifacts import fsync_folder
from cnnlab.store.records import (
    ACTIVE_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    MetricRow,
    RunRecord,
    default_home,
)
from cnnlab.store.runs import RunStore
from cnnlab.store.schema import DB_NAME, SCHEMA_VERSION

__all__ = ["ACTIVE_STATUSES", "DB_NAME", "SCHEMA_VERSION", "STATUSES", "TERMINAL_STATUSES",
           "MetricRow", "RunRecord", "RunStore", "default_home", "fsync_folder"]

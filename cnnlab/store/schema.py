"""The SQLite store's tables: how they are made, how an older file is brought up to date,
and how a row of `runs` reads back as a RunRecord.

Why a module of its own: the statements that shape the database live here and the queries
in `cnnlab.store.runs`, so a second backend (a server database) has two places to mirror,
and a migration is one entry in one table.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cnnlab.store.records import RunRecord

SCHEMA_VERSION = 5
DB_NAME = "cnnlab.sqlite3"

TABLES = (
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        config_json TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        updated_at REAL NOT NULL,
        device TEXT,
        owner TEXT,
        progress_json TEXT NOT NULL DEFAULT '{}',
        final_metrics_json TEXT NOT NULL DEFAULT '{}',
        error TEXT
    )""",
    "CREATE INDEX runs_by_status ON runs (status)",
    "CREATE INDEX runs_by_created_at ON runs (created_at)",
    # `value` is NULL exactly when the value is NaN: SQLite turns a bound NaN into NULL,
    # and every other value, infinities included, is a REAL.
    """CREATE TABLE metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        time REAL NOT NULL
    )""",
    "CREATE INDEX metrics_by_run ON metrics (run_id, id)",
)
# Version 2: reading some metrics of many runs (the Compare page's epoch curves) must not
# scan every per-layer row of each run.
MIGRATIONS = {
    2: ("CREATE INDEX IF NOT EXISTS metrics_by_run_name ON metrics (run_id, name, id)",),
    # Version 3: the display name of the browser session that started the run.
    3: ("ALTER TABLE runs ADD COLUMN session TEXT NOT NULL DEFAULT ''",),
    # Version 4: runs stored before `tricks.batch_norm_momentum` existed trained with Keras'
    # 0.99; without this their configs would read as the lab's new default (0.5), and
    # "start from this run" or a reload of its form would not be the run that was trained.
    4: ("""UPDATE runs SET config_json = json_set(config_json, '$.tricks.batch_norm_momentum', 0.99)
           WHERE json_valid(config_json) AND json_type(config_json, '$.tricks') = 'object'
             AND json_type(config_json, '$.tricks.batch_norm_momentum') IS NULL""",),
    # Version 5: who may stop and delete the run: a hash of the secret key of the browser
    # that started it, or of its signed-in user (cnnlab.sessions.owner_of_key, owner_of_user).
    # The display name (`session`) is only a label from now on. Runs stored before have ''
    # here: anyone's display name could have claimed them, so only a teacher may now.
    5: ("ALTER TABLE runs ADD COLUMN owner_key TEXT NOT NULL DEFAULT ''",),
}
RUN_COLUMNS = ("run_id, name, config_json, status, created_at, started_at, finished_at, "
               "device, owner, progress_json, final_metrics_json, error, updated_at, session, owner_key")
INSERT_METRIC = ("INSERT INTO metrics (run_id, epoch, step, name, value, time)"
                 " VALUES (?, ?, ?, ?, ?, ?)")


def bring_up_to_date(conn: sqlite3.Connection, db_path: Path) -> None:
    """Create the tables of a new database, or migrate an older one, inside the caller's
    write transaction; a database newer than this cnnlab is refused."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"The run store at {db_path} is newer than this cnnlab. Expected "
            f"schema version <= {SCHEMA_VERSION}. Received: {version}. Upgrade "
            "cnnlab, or point CNNLAB_HOME at another folder.")
    if version == 0:
        for statement in TABLES:
            conn.execute(statement)
        version = 1
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[step]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def record_of(row: tuple) -> RunRecord:
    """The RunRecord of a row selected as RUN_COLUMNS."""
    (run_id, name, config_json, status, created_at, started_at, finished_at, device, owner,
     progress_json, final_metrics_json, error, updated_at, session, owner_key) = row
    return RunRecord(run_id, name, json.loads(config_json), status, created_at, started_at,
                     finished_at, device, owner, json.loads(progress_json),
                     json.loads(final_metrics_json), error, updated_at, session, owner_key)

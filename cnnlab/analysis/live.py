"""Shared live views of a run: what every session watching the same run draws, built once.

Why: a class of thirty watching one run reruns the run panel thirty times a second on one
server. Each session reading the store, pivoting the run's tables, judging its health and
building the same Plotly figures costs thirty times what one does. Here a process-wide
registry keeps one `LiveRun` per watched run. It reads the store at most once per
`REFRESH_S`, whoever asks, and incrementally (only rows after the last id it holds); every
session gets the same immutable `LiveView` of the run's rows up to that id, and anything
derived from those rows (tables, alerts, figures) is built by the first session that asks
and handed to the others (`LiveView.shared`). A session that watches no run asks for
nothing, and a run nobody watches is never read.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import pandas as pd

from cnnlab.analysis.history import (
    RunHistory,
    check_layer_kind,
    in_layer_order,
    pivot,
    read_layer_order,
)

# A view this young is handed out as it is: sessions polling once a second share one read.
REFRESH_S = 0.5
# Runs whose shared state is kept per store; the least recently watched goes first.
KEPT_RUNS = 32
# Derived values (figures, alerts) kept per run: a few per tab and parameter choice.
KEPT_VALUES = 64


class LiveView:
    """One run as of one refresh: its record and its metric rows up to `last_id`, frozen.

    It reads like a RunHistory (`epochs`, `batches`, `layer_table`, `layer_order`,
    `last_id`), so alerts and charts take either. Never changes once made: a newer refresh
    makes a new view, and a session that still holds this one draws what it drew.
    """

    def __init__(self, live: LiveRun, record, last_id: int, lengths: dict[str, int],
                 layer_order: list[str] | None):
        self.run_id = live.run_id
        self.record = record
        self.last_id = last_id
        self.layer_order = layer_order
        self._live, self._lengths = live, lengths

    @property
    def epochs(self) -> pd.DataFrame:
        return self._live.table("epoch", self._lengths.get("epoch", 0), ["epoch"])

    @property
    def batches(self) -> pd.DataFrame:
        return self._live.table("batch", self._lengths.get("batch", 0), ["epoch", "step"])

    def layer_table(self, kind: str) -> pd.DataFrame:
        check_layer_kind(kind)
        table = self._live.table(kind, self._lengths.get(kind, 0), ["epoch", "step"])
        return in_layer_order(table, self.layer_order)

    def shared(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """`build()` of these rows, built once for every session that asks with `key`.

        `key` must name everything the value depends on besides the rows (the figure's
        options, the run's status); the value must not be changed by whoever gets it.
        """
        return self._live.shared((self.last_id, key), build)


class LiveRun:
    """The shared state of one watched run: its history, its newest view, derived values."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.reads = 0  # refreshes that read the store (for tests and benchmarks)
        self._lock = threading.RLock()
        self._history = RunHistory(run_id)
        self._view: LiveView | None = None
        self._refreshed_at = -float("inf")
        self._tables: dict[tuple[str, int], pd.DataFrame] = {}
        self._values: OrderedDict[Hashable, Any] = OrderedDict()

    def view(self, store, refresh_s: float = REFRESH_S) -> LiveView | None:
        """The newest view, read from the store first if it is older than `refresh_s`;
        None once the run is not in the store."""
        with self._lock:  # the others wait for one read, then share it
            if time.monotonic() - self._refreshed_at < refresh_s:
                return self._view
            self.reads += 1
            record = store.get_run(self.run_id)
            self._refreshed_at = time.monotonic()
            if record is None:
                self._view = None
                return None
            history = self._history
            if history.layer_order is None:
                history.layer_order = read_layer_order(store, self.run_id)
            history.update(store)
            view = self._view
            if (view is None or view.last_id != history.last_id or view.record != record
                    or view.layer_order != history.layer_order):
                self._view = LiveView(self, record, history.last_id, history.bucket_lengths(),
                                      history.layer_order)
            return self._view

    def table(self, bucket: str, length: int, index: list[str]) -> pd.DataFrame:
        """The table of a bucket's first `length` rows, pivoted once for every view."""
        key = (bucket, length)
        with self._lock:
            table = self._tables.get(key)
            if table is None:
                table = pivot(self._history.bucket_rows(bucket)[:length], index)
                for old in [old for old in self._tables if old[0] == bucket and old[1] < length]:
                    del self._tables[old]  # a longer table of the bucket replaces it
                self._tables[key] = table
            return table

    def shared(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            value = self._values[key] = build()
            while len(self._values) > KEPT_VALUES:
                self._values.popitem(last=False)
            return value


class LiveRuns:
    """The LiveRuns of one store, the least recently watched forgotten past `KEPT_RUNS`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, LiveRun] = OrderedDict()

    def get(self, run_id: str) -> LiveRun:
        with self._lock:
            live = self._runs.get(run_id)
            if live is None:
                live = self._runs[run_id] = LiveRun(run_id)
                while len(self._runs) > KEPT_RUNS:
                    self._runs.popitem(last=False)
            self._runs.move_to_end(run_id)
            return live


_registries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def live_runs(store) -> LiveRuns:
    """The process-wide LiveRuns of `store` (one per store object)."""
    with _registries_lock:
        runs = _registries.get(store)
        if runs is None:
            runs = _registries[store] = LiveRuns()
        return runs


def live_view(store, run_id: str, *, refresh_s: float = REFRESH_S) -> LiveView | None:
    """The shared view of `run_id` no older than `refresh_s`; None if it is not stored."""
    return live_runs(store).get(run_id).view(store, refresh_s)

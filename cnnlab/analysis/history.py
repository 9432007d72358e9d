"""RunHistory: a run's metrics as tables, refreshed incrementally from the store.

Why incremental: a page polls every second while a run trains; asking only for rows newer
than the last one it has keeps each poll cheap however long the run gets. Rows are sorted
into buckets as they arrive (epoch metrics, batch metrics, one bucket per per-layer kind)
and only a bucket that grew is turned into a table again, so the thousands of per-layer
rows of a long run do not slow the curves down.
"""

from __future__ import annotations

import json

import pandas as pd

from cnnlab.training.figures import LAYER_ORDER

BATCH_PREFIX = "batch/"
# Per-layer kinds ("grad_norm/fc1", "dead_fraction/fc1_act", ...), see cnnlab.analysis.insight.
LAYER_KINDS = ("grad_norm", "weight_norm", "update_ratio", "dead_fraction")


class RunHistory:
    """The metrics of one run, as an epoch table, a batch table and per-layer tables.

    Args:
        run_id: the run to follow.
    """

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.last_id = 0
        self._buckets: dict[str, list[tuple[int, int, str, float]]] = {}
        self._tables: dict[str, pd.DataFrame] = {}
        self._memo: dict = {}
        self._memo_id = 0
        # The model's layers input to output, once the run has written them (LAYER_ORDER).
        self.layer_order: list[str] | None = None

    def update(self, store) -> int:
        """Fetch rows newer than those already held; return how many arrived."""
        if self.layer_order is None:
            self._read_layer_order(store)
        rows = store.metrics(self.run_id, after_id=self.last_id)
        if rows:
            self.last_id = rows[-1].id
            for row in rows:
                bucket, name = bucket_of(row.name)
                self._buckets.setdefault(bucket, []).append((row.epoch, row.step, name, row.value))
                self._tables.pop(bucket, None)
        return len(rows)

    def bucket_rows(self, bucket: str) -> list[tuple[int, int, str, float]]:
        """The (epoch, step, column, value) rows of a bucket so far; only ever appended to."""
        return self._buckets.get(bucket, [])

    def bucket_lengths(self) -> dict[str, int]:
        """How many rows each bucket holds now."""
        return {bucket: len(rows) for bucket, rows in self._buckets.items()}

    def shared(self, key, build):
        """`build()` of the rows held now, built once per `key` (see LiveView.shared)."""
        if self._memo_id != self.last_id:
            self._memo, self._memo_id = {}, self.last_id
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    @property
    def epochs(self) -> pd.DataFrame:
        """One row per finished epoch, a column per metric (loss, val_accuracy, ...)."""
        return self._table("epoch", index=["epoch"])

    @property
    def batches(self) -> pd.DataFrame:
        """One row per batch, indexed by (epoch, step), a column per metric without prefix."""
        return self._table("batch", index=["epoch", "step"])

    def layer_table(self, kind: str) -> pd.DataFrame:
        """One row per recorded step (index (epoch, step)), a column per layer, input to
        output (the model's order where the run stored it, else the order training wrote
        them in). `kind` is one of LAYER_KINDS."""
        check_layer_kind(kind)
        return in_layer_order(self._table(kind, index=["epoch", "step"]), self.layer_order)

    def _read_layer_order(self, store) -> None:
        self.layer_order = read_layer_order(store, self.run_id)

    def _table(self, bucket: str, *, index: list[str]) -> pd.DataFrame:
        if bucket not in self._tables:
            self._tables[bucket] = pivot(self._buckets.get(bucket, []), index)
        return self._tables[bucket]


def read_layer_order(store, run_id: str) -> list[str] | None:
    """The model's layers input to output, as the run stored them (None until it has)."""
    data = store.read_artifact(run_id, LAYER_ORDER)
    if data is None:
        return None
    try:
        order = json.loads(data)
    except ValueError:
        return None
    if isinstance(order, list) and all(isinstance(name, str) for name in order):
        return order
    return None


def check_layer_kind(kind: str) -> None:
    if kind not in LAYER_KINDS:
        raise ValueError(f"Unknown layer metric `kind`. Expected one of {LAYER_KINDS}. "
                         f"Received: {kind!r}.")


def in_layer_order(table: pd.DataFrame, layer_order: list[str] | None) -> pd.DataFrame:
    """`table`'s layer columns in the model's order where known (`layer_order`); others
    (activations) keep theirs, after."""
    if not layer_order or not len(table.columns):
        return table
    rank = {name: index for index, name in enumerate(layer_order)}
    columns = sorted(table.columns, key=lambda name: (name not in rank, rank.get(name, 0)))
    return table[columns]


def bucket_of(name: str) -> tuple[str, str]:
    """(bucket, column name) of a stored metric name."""
    if name.startswith(BATCH_PREFIX):
        return "batch", name.removeprefix(BATCH_PREFIX)
    kind, _, layer = name.partition("/")
    if layer and kind in LAYER_KINDS:
        return kind, layer
    return "epoch", name


def pivot(rows, index: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows, columns=["epoch", "step", "name", "value"])
    keys = [*index, "name"]
    # The last value wins where a row was written twice; NaN (a diverged loss) is kept.
    frame = frame.drop_duplicates(subset=keys, keep="last")
    order = list(dict.fromkeys(frame["name"]))  # columns in the order they first came
    table = frame.set_index(keys)["value"].unstack("name").sort_index()
    table = table[order]
    table.columns.name = None
    return table

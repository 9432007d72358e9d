"""RunHistory: a run's metrics as tables, refreshed incrementally from the store.

Why incremental: a page polls every second while a run trains; asking only for rows newer
than the last one it has keeps each poll cheap however long the run gets.
"""

from __future__ import annotations

import pandas as pd

BATCH_PREFIX = "batch/"


class RunHistory:
    """The metrics of one run, as an epoch table and a batch table.

    Args:
        run_id: the run to follow.
    """

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.last_id = 0
        self._rows: list[tuple[int, int, str, float]] = []
        self._epochs: pd.DataFrame | None = None
        self._batches: pd.DataFrame | None = None

    def update(self, store) -> int:
        """Fetch rows newer than those already held; return how many arrived."""
        rows = store.metrics(self.run_id, after_id=self.last_id)
        if rows:
            self.last_id = rows[-1].id
            self._rows.extend((row.epoch, row.step, row.name, row.value) for row in rows)
            self._epochs = self._batches = None
        return len(rows)

    @property
    def epochs(self) -> pd.DataFrame:
        """One row per finished epoch, a column per metric (loss, val_accuracy, ...)."""
        if self._epochs is None:
            self._epochs = self._pivot(batch=False, index="epoch")
        return self._epochs

    @property
    def batches(self) -> pd.DataFrame:
        """One row per batch, indexed by (epoch, step), a column per metric without prefix."""
        if self._batches is None:
            self._batches = self._pivot(batch=True, index=["epoch", "step"])
        return self._batches

    def _pivot(self, *, batch: bool, index) -> pd.DataFrame:
        rows = [r for r in self._rows if r[2].startswith(BATCH_PREFIX) == batch]
        if not rows:
            return pd.DataFrame()
        frame = pd.DataFrame(rows, columns=["epoch", "step", "name", "value"])
        if batch:
            frame["name"] = frame["name"].str.removeprefix(BATCH_PREFIX)
        keys = [*([index] if isinstance(index, str) else index), "name"]
        # The last value wins where a row was written twice; NaN (a diverged loss) is kept.
        frame = frame.drop_duplicates(subset=keys, keep="last")
        table = frame.set_index(keys)["value"].unstack("name").sort_index()
        table.columns.name = None
        return table

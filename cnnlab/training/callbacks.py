"""The Keras callback that streams a run's metrics and progress into the run store.

Why buffered: one SQLite transaction per batch would cost more than a small model's
batch itself. Rows are buffered and written together at most every `flush_interval_s`
(and at every epoch end), which keeps readers under a second behind and the overhead low.
The callback also turns the job manager's stop flag into `model.stop_training` and a
non-finite loss into the `diverged` outcome.

Why a failed flush keeps its rows: on a shared server the store can refuse a write for a
while (another process holding SQLite's write lock past the busy timeout, a full disk).
Such an error rolls the whole transaction back, so the rows stay buffered and go out with
the next flush, in order, exactly once; training goes on meanwhile. Only when the store
has refused every write for `RETRY_FOR_S`, or at the very last flush of a fit, does the
error propagate, and the run ends as failed with its message rather than silently short.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time

import keras

from cnnlab.training.train_step import LAYER_LOGS

# Keras log key -> stored name of the per-batch rows. Per-epoch rows keep Keras' names
# ("loss", "val_accuracy", ...); per-batch rows carry the "batch/" prefix.
BATCH_METRICS = {
    "batch_loss": "batch/loss",  # this batch's loss
    "loss": "batch/running_loss",  # Keras' running mean over the epoch so far
    "accuracy": "batch/running_accuracy",
    "learning_rate": "batch/learning_rate",
}
# How long the store may refuse writes (errors SQLite reports as operational: locked,
# disk full, I/O) before the run gives up and fails. A locked write alone waits for
# store.BUSY_TIMEOUT_S before it fails, so this allows a few such waits.
RETRY_FOR_S = 120.0


class StoreCallback(keras.callbacks.Callback):
    """Write per-batch and per-epoch metrics and progress of one run to the store.

    Args:
        store: the RunStore.
        run_id: the run being trained.
        epochs: planned epochs, for progress and time left.
        steps_per_epoch: batches per epoch.
        batch_size: images per batch, for throughput.
        stop_event: set by the job manager to stop within one batch.
        flush_interval_s: longest time rows wait in the buffer (default 0.25 s).

    Attributes:
        failed_flushes: writes the store refused and that were retried later.
        rows_written: metric rows the run has written (also kept in the progress).
    """

    def __init__(self, store, run_id: str, *, epochs: int, steps_per_epoch: int,
                 batch_size: int, stop_event: threading.Event | None = None,
                 flush_interval_s: float = 0.25):
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.stop_event = stop_event or threading.Event()
        self.flush_interval_s = flush_interval_s
        self.diverged = False
        self.stopped = False
        self.last_epoch_logs: dict = {}
        self.failed_flushes = 0
        self.rows_written = 0
        self._rows: list[tuple[int, int, str, float]] = []
        self._failing_since: float | None = None
        self._epoch = 0
        self._step = 0
        self._last_flush = 0.0
        self._train_start = 0.0
        self._first_batch_end: float | None = None
        self._epoch_start = 0.0

    # -- Keras hooks ---------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        # A run in phases calls fit, and so this, once per phase: the clock starts once,
        # so elapsed time and time left run on across the phases.
        now = time.perf_counter()
        if not self._train_start:
            self._train_start = now
        self._last_flush = now

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._step = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._step = batch + 1
        if self._first_batch_end is None:
            self._first_batch_end = time.perf_counter()
        for key, name in BATCH_METRICS.items():
            if key in logs:
                self._rows.append((self._epoch, self._step, name, float(logs[key])))
        loss = float(logs.get("batch_loss", logs.get("loss", 0.0)))
        if not math.isfinite(loss):
            self.diverged = True
            self.model.stop_training = True
        elif self.stop_event.is_set():
            self.stopped = True
            self.model.stop_training = True
        if self.model.stop_training or time.perf_counter() - self._last_flush >= self.flush_interval_s:
            self._flush()

    def on_epoch_end(self, epoch, logs=None):
        if not self.epoch_complete():
            # A partial epoch's means are not comparable with full epochs: keep the
            # per-batch rows, skip the epoch point.
            self._flush()
            return
        seconds = time.perf_counter() - self._epoch_start
        logs = {key: value for key, value in (logs or {}).items()
                if key != "batch_loss" and key not in LAYER_LOGS}
        logs["epoch_time_s"] = seconds
        logs["images_per_s"] = self._step * self.batch_size / seconds if seconds else 0.0
        self.last_epoch_logs = {k: float(v) for k, v in logs.items()}
        step = self.steps_per_epoch
        self._rows.extend((self._epoch, step, k, v) for k, v in self.last_epoch_logs.items())
        self._flush()

    def on_train_end(self, logs=None):
        # The last chance to write: an error now must fail the run, not lose its tail.
        self._flush(final=True)

    # -- for the other recording callbacks ------------------------------------------------

    def epoch_complete(self) -> bool:
        """False when training stopped before the current epoch's last batch."""
        return not (self.model.stop_training and self._step < self.steps_per_epoch)

    def add_rows(self, rows) -> None:
        """Queue metric rows (epoch, step, name, value), written with the next flush."""
        self._rows.extend(rows)

    def write_before_training(self, rows, stage: str) -> None:
        """Write `rows` now, with the run's stage as its progress (the untrained point,
        before `fit`): as every flush, a write the store refuses keeps them for the next."""
        self._rows.extend(rows)
        self._flush(stage=stage)

    # -- internals -----------------------------------------------------------------------

    def progress(self) -> dict:
        done = (self._epoch - 1) * self.steps_per_epoch + self._step
        total = self.epochs * self.steps_per_epoch
        now = time.perf_counter()
        elapsed = now - self._train_start
        # The rate since the first batch: the first one also pays for tracing the step.
        eta = None
        if done > 1 and self._first_batch_end is not None:
            eta = (now - self._first_batch_end) / (done - 1) * (total - done)
        return {
            "stage": "training", "epoch": self._epoch, "epochs": self.epochs, "step": self._step,
            "steps_per_epoch": self.steps_per_epoch, "fraction": done / total if total else 0.0,
            "elapsed_s": elapsed, "eta_s": eta,
        }

    def stage_progress(self, stage: str) -> dict:
        """The progress as it stands, in another stage (the final evaluation, saving), with
        the row counters kept (benchmarks/soak.py checks the stored rows against them)."""
        return {**self.progress(), "stage": stage, "rows_written": self.rows_written,
                "failed_flushes": self.failed_flushes}

    def _flush(self, *, final: bool = False, stage: str | None = None) -> None:
        """Write the buffered rows and the progress in one transaction.

        The buffer is emptied only after the write committed: a refused write rolls back
        whole, so keeping the rows writes each exactly once. Rows only come from this
        (the training) thread, so nothing is appended while the write is under way.
        """
        count = len(self._rows)
        # The rows written so far, in the same transaction as the rows themselves: the
        # store's own count of the run's rows can be checked against it (benchmarks/soak.py).
        # Before training (`stage`) there is no epoch yet to report, only the stage.
        progress = {**({"stage": stage} if stage else self.progress()),
                    "rows_written": self.rows_written + count, "failed_flushes": self.failed_flushes}
        try:
            self.store.add_metrics_and_progress(self.run_id, self._rows[:count], progress)
        except sqlite3.OperationalError:
            now = time.perf_counter()
            if self._failing_since is None:
                self._failing_since = now
            if final or now - self._failing_since >= RETRY_FOR_S:
                raise
            self.failed_flushes += 1
            self._last_flush = now  # retry after flush_interval_s, not at every batch
            return
        del self._rows[:count]
        self.rows_written += count
        self._failing_since = None
        self._last_flush = time.perf_counter()

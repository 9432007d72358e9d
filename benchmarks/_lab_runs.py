"""Train configs the way the lab does and return the figures the health alerts read.

Shared by `batch_norm.py` and `alert_thresholds.py` (a leading underscore: a library, not a benchmark): each run goes through
`cnnlab.training.job.execute_run` into a fresh run store, so the figures are the ones the
Train page would show. Not a benchmark itself (it prints nothing).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train(overrides: dict, seed: int) -> dict:
    """One run of the default experiment with `overrides` (dotted fields) and `seed`."""
    from cnnlab.analysis.alerts import (
        WINDOW,
        chance_accuracy,
        first_to_last_ratio,
        health_alerts,
    )
    from cnnlab.analysis.history import RunHistory
    from cnnlab.config import ExperimentConfig
    from cnnlab.store import RunStore
    from cnnlab.training.job import execute_run

    config = ExperimentConfig().with_overrides({**overrides, "seed": seed})
    # Imported data sets live in $CNNLAB_HOME; the runs go to a store of their own.
    store = RunStore(os.environ.get("CNNLAB_HOME") or tempfile.mkdtemp(prefix="cnnlab-bench-"))
    try:
        run_id = store.create_run(config.to_dict())
        started = time.perf_counter()
        status = execute_run(store, run_id, config, threading.Event())
        seconds = time.perf_counter() - started
        history = RunHistory(run_id)
        history.update(store)
        record = store.get_run(run_id)
    finally:
        store.close()
    epochs, batches = history.epochs, history.batches
    loss = batches["loss"].astype("float64") if "loss" in batches else None
    finite = loss[loss.map(math.isfinite)] if loss is not None else None
    chance = chance_accuracy(config.to_dict())
    start = None
    if finite is not None and len(finite):
        start = max(float(finite.iloc[0]), math.log(1 / chance) if chance else 0.0)
    dead = history.layer_table("dead_fraction")
    ratio = first_to_last_ratio(history.layer_table("grad_norm")).dropna().tail(WINDOW)
    return {
        "overrides": overrides, "seed": seed, "status": status, "seconds": round(seconds, 1),
        "accuracy": _column(epochs, "accuracy"), "val_accuracy": _column(epochs, "val_accuracy"),
        "val_loss": _column(epochs, "val_loss"),
        "test_accuracy": record.final_metrics.get("test_accuracy"),
        "chance": chance,
        "peak_loss_over_start": (round(float(finite.max()) / start, 3)
                                 if start else None),
        "dead_fraction_by_epoch": [round(float(value), 3) for value in dead.max(axis=1)],
        "first_to_last_gradient": float(f"{ratio.median():.3g}") if len(ratio) else None,
        "alerts": [alert.kind for alert in health_alerts(history, status=status,
                                                         config=config.to_dict())],
    }


def _column(table, name: str) -> list[float]:
    return [round(float(value), 4) for value in table[name]] if name in table else []


def spread(values: list[float]) -> str:
    """'mean +- standard deviation' in percent, for a table."""
    values = [value for value in values if value is not None]
    if not values:
        return "-"
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} +- {100 * deviation:.1f}"


def seeds_argument(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]

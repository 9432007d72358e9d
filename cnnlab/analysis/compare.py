"""Side-by-side comparison of stored runs: the runs table, curves, deltas, diffs, seed bands.

Why its own reader: the Compare page shows many runs at once and must render in about a
second, so it reads only the per-epoch rows it plots (one indexed query per run) and the
last recorded per-layer gradient profile, never a run's thousands of per-batch rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from cnnlab.config import ExperimentConfig, flatten
from cnnlab.training.status import fraction_done

EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


def config_diff(configs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Only the fields whose values differ between the runs: a row per dotted field, a
    column per run (keys of `configs`), in config order. Empty when all agree."""
    flats = {run: flatten(config) for run, config in configs.items()}
    fields = list(dict.fromkeys(field for flat in flats.values() for field in flat))
    differing = [field for field in fields
                 if len({json.dumps(flat.get(field), sort_keys=True) for flat in flats.values()}) > 1]
    table = pd.DataFrame({run: [_show(flat.get(field)) for field in differing]
                          for run, flat in flats.items()}, index=pd.Index(differing, name="field"))
    return table


def epoch_curves(store, run_ids: Iterable[str], metrics: Sequence[str] = EPOCH_METRICS) -> dict[str, pd.DataFrame]:
    """Per run, its per-epoch table (index epoch, a column per metric present)."""
    curves = {}
    for run_id in run_ids:
        # One name per query: with several, SQLite walks all the run's rows by id (the
        # (run_id, id) index) instead of the (run_id, name, id) one, 50x slower on a long run.
        rows = [row for name in metrics for row in store.metrics(run_id, names=[name])]
        frame = pd.DataFrame([(row.epoch, row.name, row.value) for row in rows],
                             columns=["epoch", "name", "value"])
        if frame.empty:
            curves[run_id] = pd.DataFrame()
            continue
        frame = frame.drop_duplicates(["epoch", "name"], keep="last")
        table = frame.pivot(index="epoch", columns="name", values="value").sort_index()
        table.columns.name = None
        curves[run_id] = table
    return curves


def runs_table(records, curves: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per run: what it was (data, network, key tricks) and how it did."""
    rows = []
    for record in records:
        config = _parsed(record.config)
        curve = curves.get(record.run_id, pd.DataFrame())
        # The scores are the training's: epoch 0 (the untrained model) is not one of them.
        curve = curve[curve.index >= 1] if len(curve) else curve
        val_acc = curve["val_accuracy"].dropna() if "val_accuracy" in curve else pd.Series(dtype=float)
        val_loss = curve["val_loss"].dropna() if "val_loss" in curve else pd.Series(dtype=float)
        rows.append({
            "run": record.run_id,
            "name": record.name,
            "status": record.status,
            "dataset": record.config.get("dataset"),
            "architecture": record.config.get("architecture"),
            "tricks": key_tricks(config) if config else "",
            "seed": record.config.get("seed"),
            "epochs": int(curve.index.max()) if len(curve) else 0,
            "best val accuracy": val_acc.max() if len(val_acc) else np.nan,
            "final val accuracy": val_acc.iloc[-1] if len(val_acc) else np.nan,
            "best val loss": val_loss.min() if len(val_loss) else np.nan,
            "final val loss": val_loss.iloc[-1] if len(val_loss) else np.nan,
            "duration s": record.duration_s,
            "progress": fraction_done(record),
            "by": record.session or "command line",
            "created": pd.Timestamp(record.created_at, unit="s"),
        })
    return pd.DataFrame(rows)


def filter_runs(table: pd.DataFrame, *, statuses=(), datasets=(), architectures=(),
                text: str = "") -> pd.DataFrame:
    """The rows of a `runs_table` that pass every filter; an empty filter passes all.

    `text` keeps the rows that hold every one of its words (case ignored) in their name,
    key tricks, run id or the name of who started them.
    """
    keep = pd.Series(True, index=table.index)
    for column, chosen in (("status", statuses), ("dataset", datasets), ("architecture", architectures)):
        if chosen:
            keep &= table[column].isin(list(chosen))
    for word in (text or "").lower().split():
        haystack = (table["name"].fillna("") + " " + table["tricks"].fillna("") + " " + table["run"]
                    + " " + table["by"])
        keep &= haystack.str.lower().str.contains(word, regex=False)
    return table[keep].reset_index(drop=True)


def key_tricks(config: ExperimentConfig) -> str:
    """The tricks that are on, in a few words: "dropout 0.5 · BN · L2 1e-4 · aug"."""
    tricks = config.tricks
    parts = [f"{config.optimizer} {config.learning_rate:g}"]
    if tricks.dropout_rate:
        parts.append(f"dropout {tricks.dropout_rate:g}")
    if tricks.batch_norm:
        parts.append("BN")
    if tricks.batch_norm_dense:
        parts.append("dense BN")
    if tricks.l1:
        parts.append(f"L1 {tricks.l1:g}")
    if tricks.l2:
        parts.append(f"L2 {tricks.l2:g}")
    if tricks.activation:
        parts.append(tricks.activation)
    if tricks.initializer:
        parts.append(tricks.initializer)
    if config.binary:
        parts.append("sigmoid head")
    if config.label_smoothing:
        parts.append(f"smoothing {config.label_smoothing:g}")
    if config.augmentation.enabled:
        parts.append("aug")
    if config.schedule.kind != "constant":
        parts.append(config.schedule.kind)
    return " · ".join(parts)


def overlay(curves: Mapping[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    """One metric of several runs side by side: index epoch, a column per run."""
    series = {run: curve[metric] for run, curve in curves.items() if metric in curve}
    return pd.DataFrame(series).sort_index()


def format_value(value) -> str:
    """A config value as the lab writes it everywhere (run names, legends, "What differs"):
    switches as on/off, never True/False in one view and on/off in the next; numbers short
    (0.0001, not 1e-04 where that is longer); missing as a dash."""
    if isinstance(value, np.generic):  # a cell of a pandas table: numpy's bool, int or float
        value = value.item()
    if isinstance(value, bool) or value is None:
        return {True: "on", False: "off", None: "—"}[value]
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def delta(curves: Mapping[str, pd.DataFrame], metric: str, baseline: str) -> pd.DataFrame:
    """Each run's `metric` minus the baseline run's, epoch by epoch (where both have one)."""
    table = overlay(curves, metric)
    if baseline not in table:
        raise ValueError(f"The baseline run has no `{metric}` yet. Expected one of "
                         f"{list(table.columns)}. Received: {baseline!r}. Pick another baseline.")
    return table.drop(columns=[baseline]).sub(table[baseline], axis=0)


def seed_groups(records) -> dict[str, list[str]]:
    """Runs that differ only in their seed, grouped: {label: [run ids]}, groups of 2+ only."""
    groups: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for record in records:
        config = dict(record.config)
        config.pop("seed", None)
        key = json.dumps(config, sort_keys=True)
        groups.setdefault(key, []).append(record.run_id)
        labels.setdefault(key, record.name.split(" · seed ")[0] if record.name else record.run_id)
    return {labels[key]: runs for key, runs in groups.items() if len(runs) > 1}


def seed_band(curves: Mapping[str, pd.DataFrame], run_ids: Sequence[str], metric: str) -> pd.DataFrame:
    """Mean, standard deviation and count of `metric` over the runs, epoch by epoch."""
    table = overlay({run: curves[run] for run in run_ids if run in curves}, metric)
    return pd.DataFrame({"mean": table.mean(axis=1), "std": table.std(axis=1, ddof=1),
                         "count": table.count(axis=1)})


def gradient_profile(store, run_id: str) -> pd.Series:
    """The per-layer gradient norms of the run's last recorded step, input to output."""
    rows = store.latest_with_prefix(run_id, "grad_norm/")
    return pd.Series([row.value for row in rows],
                     index=[row.name.removeprefix("grad_norm/") for row in rows], dtype="float64")


def _parsed(config: Mapping) -> ExperimentConfig | None:
    """The stored config as an ExperimentConfig; None for one this cnnlab cannot read."""
    try:
        return ExperimentConfig.from_dict(dict(config))
    except (ValueError, TypeError):
        return None


def _show(value):
    """A config value as one table cell: lists and None shown as text."""
    if value is None:
        return "—"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value

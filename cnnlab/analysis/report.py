"""Runs as text: the table of `python -m cnnlab runs` and the report of `python -m cnnlab show`.

Why here and not in the CLI: the figures are the pages' own (RunHistory's tables, the
health alerts of `cnnlab.analysis.alerts`, the stage words of `cnnlab.training.status`), only
laid out for a terminal, and a test can check them without a process.
"""

from __future__ import annotations

import math

import pandas as pd

from cnnlab.analysis.alerts import WINDOW, first_to_last_ratio, health_alerts
from cnnlab.analysis.history import RunHistory
from cnnlab.training.status import describe, start_estimates

NOTE_WIDTH = 70


def runs_table(records) -> list[str]:
    """The lines of the runs table: status, epochs, training and validation accuracy, their
    gap, the name, and a note saying why a figure is missing or what a live run does."""
    estimates = start_estimates(records)
    lines = [f"{'run':<22} {'status':<11} {'epochs':>7} {'train acc':>9} {'val acc':>8} "
             f"{'gap':>6}  name"]
    for record in records:
        final = record.final_metrics or {}
        train, val = final.get("accuracy"), final.get("val_accuracy")
        gap = None if train is None or val is None else train - val
        line = (f"{record.run_id:<22} {record.status:<11} {_epochs(record):>7} "
                f"{_percent(train):>9} {_percent(val):>8} {_points(gap):>6}  {record.name}")
        note = run_note(record, estimates.get(record.run_id))
        lines.append(line + (f"\n{'':<22} {_shorten(note)}" if note else ""))
    return lines


def run_note(record, start_in_s: float | None = None) -> str:
    """Why a finished run's figures look as they do, or what an active run is doing."""
    final = record.final_metrics or {}
    progress = record.progress or {}
    if record.is_active:
        return describe(record, start_in_s)
    if record.status == "diverged":
        where = f" in epoch {progress['epoch']}" if "epoch" in progress else ""
        if "val_accuracy" in final:
            return f"loss NaN or infinite{where}; figures of the last epoch before it"
        return f"loss NaN or infinite{where}, before any epoch ended: no figures"
    if record.status in ("failed", "interrupted"):
        return (record.error or record.status).splitlines()[0]
    if record.status == "stopped":
        done = progress.get("epoch")
        if not done:
            return "stopped before training started"
        if final:
            return f"stopped in epoch {done}; figures of the last complete epoch"
        return f"stopped in epoch {done}, before any epoch ended: no figures"
    if "early_stopping_epoch" in final:
        return f"early stopping after epoch {int(final['early_stopping_epoch'])}"
    return ""


def show_run(store, record) -> list[str]:
    """The lines of `python -m cnnlab show RUN`: what the run is, its figures, its
    per-layer gradients and its health alerts (the Train page's, in words)."""
    history = RunHistory(record.run_id)
    history.update(store)
    final = record.final_metrics or {}
    lines = [f"run {record.run_id}: {record.name}",
             f"  status {record.status}" + (f" ({run_note(record)})" if run_note(record) else ""),
             f"  device {record.device or '-'}; trained {_seconds(record.duration_s)}"
             + (f"; started by {record.session}" if record.session else "")]
    if record.error and record.status not in ("failed", "interrupted"):
        lines.append(f"  {record.error}")
    if final:
        shown = [(label, final[key]) for label, key in (
            ("train accuracy", "accuracy"), ("val accuracy", "val_accuracy"),
            ("test accuracy", "test_accuracy"), ("train loss", "loss"),
            ("val loss", "val_loss"), ("test loss", "test_loss")) if key in final]
        lines.append("  final: " + ", ".join(
            f"{label} {_percent(value) if 'accuracy' in label else f'{value:.4f}'}"
            for label, value in shown))
    lines += _epochs_lines(history.epochs)
    lines += _gradient_lines(history)
    alerts = health_alerts(history, status=record.status, config=record.config)
    lines.append("health alerts:" if alerts else "health alerts: none")
    for alert in alerts:
        lines += [f"  {alert.title}. {alert.detail}", f"    What to do: {alert.remedy}"]
    return lines


def _epochs_lines(epochs: pd.DataFrame) -> list[str]:
    columns = [c for c in ("loss", "accuracy", "val_loss", "val_accuracy") if c in epochs]
    if epochs.empty or not columns:
        return ["epochs: none recorded yet"]
    lines = ["epochs (0: the untrained model):",
             "  " + f"{'epoch':>5} " + " ".join(f"{c:>12}" for c in columns)]
    for epoch, row in epochs[columns].iterrows():
        lines.append("  " + f"{int(epoch):>5} " + " ".join(f"{_cell(row[c], c):>12}" for c in columns))
    return lines


def _gradient_lines(history) -> list[str]:
    grads = history.layer_table("grad_norm")
    if grads.empty:
        return ["per-layer gradients: none recorded yet"]
    recent = grads.tail(WINDOW)
    weights = history.layer_table("weight_norm").tail(WINDOW)
    updates = history.layer_table("update_ratio").tail(WINDOW)
    lines = [f"per-layer figures, input first (median of the last {len(recent)} recorded steps):",
             f"  {'layer':<28} {'gradient':>10} {'weight':>10} {'update/weight':>14}"]
    for layer in grads.columns:
        lines.append(f"  {layer:<28} {_median(recent, layer):>10} {_median(weights, layer):>10} "
                     f"{_median(updates, layer):>14}")
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW)
    if len(ratio):
        lines.append(f"  first layer / last layer gradient: {ratio.median():.2g} "
                     "(below 0.05 for 10 steps: vanishing)")
    dead = history.layer_table("dead_fraction")
    if not dead.empty:
        latest = dead.ffill().iloc[-1].dropna()
        lines.append("  units that never fire on the probe images (last epoch): "
                     + ", ".join(f"{name} {value:.0%}" for name, value in latest.items()))
    return lines


def _median(table: pd.DataFrame, column: str) -> str:
    if column not in table or table[column].dropna().empty:
        return "-"
    return f"{table[column].median():.2e}"


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return _percent(value) if "accuracy" in column else f"{value:.4f}"


def _epochs(record) -> str:
    planned = record.config.get("epochs", "?")
    done = (record.progress or {}).get("epoch")
    if record.status == "completed":
        done = done or planned
    return f"{done or 0}/{planned}"


def _percent(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _points(value) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _shorten(text: str) -> str:
    return text if len(text) <= NOTE_WIDTH else text[:NOTE_WIDTH - 3] + "..."

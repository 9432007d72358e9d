"""The live view of one run: status, progress, Stop, health alerts and the insight tabs.

It polls the store once a second from a fragment while the run is active, fetching only
new metric rows, and stops polling (a full rerun) when the run ends. The alerts and the
tabs (ui/insight_panel.py) are drawn inside the same fragment, so they follow the run too.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.export import export_run
from cnnlab.history import RunHistory
from cnnlab.sessions import may_modify
from ui.identity import current_session, is_teacher
from ui.insight_panel import show_alerts, show_insight
from ui.resources import STATUS_ICONS, job_manager

POLL_SECONDS = 1.0


def show_run(run_id: str) -> None:
    """Draw the panel of `run_id`; live while it trains."""
    record = job_manager().store.get_run(run_id)
    if record is None:
        st.warning(f"Run {run_id} is not in the store (deleted?). Start a new one above.")
        return
    interval = POLL_SECONDS if record.is_active else None
    st.fragment(run_every=interval, key=f"run_panel_{run_id}")(_panel)(run_id, record.is_active)


def _panel(run_id: str, was_active: bool) -> None:
    manager = job_manager()
    record = manager.store.get_run(run_id)
    if record is None:
        st.warning(f"Run {run_id} was deleted.")
        return
    if was_active and not record.is_active:
        st.rerun()  # the run just ended: redraw the page once, without the poller

    history = _history(run_id)
    history.update(manager.store)

    icon = STATUS_ICONS.get(record.status, "")
    mine = may_modify(record, current_session(), teacher=is_teacher())
    # The title has the row to itself, so a long name wraps instead of squeezing the button;
    # Stop sits under it, at its text's width.
    st.subheader(f"{icon} {record.name}")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium",
                      key=f"train_run_header_{run_id}"):
        st.caption(f"Run `{run_id}` · status **{record.status}** · device {record.device or '—'}",
                   width="content")
        if record.is_active and mine and st.button(
                "Stop", key=f"train_stop_{run_id}", icon=":material/stop:", type="primary"):
            manager.stop(run_id)
            st.toast("Stopping after this batch...")
        elif record.is_active and not mine:
            st.caption(f"Started by {record.session or 'the command line'}", width="content")

    _progress(record)
    if record.error:
        (st.warning if record.status == "diverged" else st.error)(record.error)
    _final_metrics(record)
    if not record.is_active:
        _export(manager, run_id)
    show_alerts(history, record)
    show_insight(run_id, record, history, manager.store)


def _history(run_id: str) -> RunHistory:
    histories = st.session_state.setdefault("train_histories", {})
    if run_id not in histories:
        histories[run_id] = RunHistory(run_id)
    return histories[run_id]


def _progress(record) -> None:
    progress = record.progress or {}
    if record.status == "queued":
        st.progress(0.0, text="Queued: waiting for a free training slot...")
    elif record.status == "running":
        if not progress:
            st.progress(0.0, text="Loading data and building the model...")
            return
        eta = progress.get("eta_s")
        left = f" · {eta:.0f} s left" if eta is not None else ""
        st.progress(
            min(progress.get("fraction", 0.0), 1.0),
            text=(f"Epoch {progress['epoch']}/{progress['epochs']} · step "
                  f"{progress['step']}/{progress['steps_per_epoch']}{left}"),
        )


def _final_metrics(record) -> None:
    final = record.final_metrics
    if not final:
        return
    shown = [
        ("Train accuracy", "accuracy"), ("Validation accuracy", "val_accuracy"),
        ("Test accuracy", "test_accuracy"), ("Validation loss", "val_loss"),
    ]
    present = [(label, final[key]) for label, key in shown if key in final]
    duration = record.duration_s
    # Each metric as wide as its label and value; a narrow screen wraps them to a second row
    # where equal columns cut them to "Valid… 9…".
    with st.container(horizontal=True, gap="large", key=f"train_final_metrics_{record.run_id}"):
        for label, value in present:
            st.metric(label, f"{value:.1%}" if "accuracy" in label.lower() else f"{value:.3f}",
                      width="content")
        if duration is not None:
            st.metric("Duration", f"{duration:.0f} s", width="content")


def _export(manager, run_id: str) -> None:
    """The Export button, and what the bundle holds said beside it rather than in a tooltip:
    a tooltip popped up over the run's title when the button appeared under the pointer
    where Stop had been."""
    with st.container(horizontal=True, vertical_alignment="center", gap="medium",
                      key=f"train_export_row_{run_id}"):
        # Built only when clicked: a bundle holds the model and every metric row.
        st.download_button(
            "Export", data=lambda: export_run(manager.store, run_id), file_name=f"{run_id}.zip",
            mime="application/zip", key=f"train_export_{run_id}", icon=":material/download:",
            on_click="ignore")
        st.caption("config.json, metrics.csv, model.keras and train.py, which trains the run "
                   "again with Keras alone", width="content")

"""The live view of one run: status, progress, Stop, health alerts and the insight tabs.

It polls once a second from a fragment while the run is active and stops polling (a full rerun) when the run ends. From the moment the
run leaves the queue until its first point is stored (its untrained loss, written as soon
as its model is built) it polls four times a second, so the point shows the moment it
exists; then one full rerun sets the pace back to once a second. The alerts and the tabs
(ui/insight_panel.py) are drawn inside the same fragment, so they follow the run too.

What it draws comes from the run's shared live view (cnnlab.analysis.live): every session
watching the run shares one incremental store read per refresh and the figures built from
it, so a class watching one run costs little more than one student.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.analysis.live import live_view
from cnnlab.export.bundle import export_run
from cnnlab.sessions import may_modify
from cnnlab.store import ACTIVE_STATUSES
from cnnlab.text import code, md
from cnnlab.training.status import describe, fraction_done, stage_of, start_estimates
from ui.identity import current_owner, is_teacher
from ui.insight_panel import show_alerts, show_insight
from ui.lr_finder_panel import show_finder
from ui.resources import STATUS_ICONS, job_manager

POLL_SECONDS = 1.0
FIRST_POINT_POLL_SECONDS = 0.25


def show_run(run_id: str) -> None:
    """Draw the panel of `run_id`; live while it trains."""
    view = live_view(job_manager().store, run_id)
    if view is None:
        st.warning(f"Run {code(run_id)} is not in the store (deleted?). Start a new one above.")
        return
    record = view.record
    interval = _poll_interval(record, view)
    st.fragment(run_every=interval, key=f"run_panel_{run_id}")(_panel)(
        run_id, record.is_active, interval)


def _poll_interval(record, history) -> float | None:
    """Four times a second while the run's first point is due (it has left the queue but
    stored nothing yet), once a second otherwise, never once it has ended."""
    if not record.is_active:
        return None
    in_queue = record.status == "queued" and "position" in (record.progress or {})
    return POLL_SECONDS if history.last_id or in_queue else FIRST_POINT_POLL_SECONDS


def _panel(run_id: str, was_active: bool, interval: float | None = POLL_SECONDS) -> None:
    manager = job_manager()
    # Shared reads at twice this poll's pace, so a point stored is drawn at most a poll late.
    view = live_view(manager.store, run_id, refresh_s=(interval or POLL_SECONDS) / 2)
    if view is None:
        st.warning(f"Run {code(run_id)} was deleted.")
        return
    record = view.record
    if was_active and not record.is_active:
        st.rerun()  # the run just ended: redraw the page once, without the poller

    _draw(manager, run_id, record, view)
    if _poll_interval(record, view) != interval:
        # Drawn first, so the first point shows at once; then one full rerun sets the
        # fragment's pace anew (Streamlit takes `run_every` only when a fragment is created).
        st.rerun()


def _draw(manager, run_id: str, record, history) -> None:
    icon = STATUS_ICONS.get(record.status, "")
    mine = may_modify(record, current_owner(), teacher=is_teacher())
    # The title has the row to itself, so a long name wraps instead of squeezing the button;
    # Stop sits under it, at its text's width.
    st.subheader(f"{icon} {md(record.name)}")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium",
                      key=f"train_run_header_{run_id}"):
        st.caption(f"Run {code(run_id)} · status **{md(record.status)}** · device {md(record.device or '—')}",
                   width="content")
        if record.is_active and mine and st.button(
                "Stop", key=f"train_stop_{run_id}", icon=":material/stop:", type="primary"):
            manager.stop(run_id)
            st.toast("Stopped before it started." if record.status == "queued"
                     else "Stopping after this batch...")
        elif record.is_active and not mine:
            st.caption(f"Started by {md(record.session or 'the command line')}", width="content")

    _progress(record, manager.store)
    if record.is_active and not history.batches.size:
        _model_line(record)
    if record.error:
        (st.warning if record.status == "diverged" else st.error)(md(record.error))
    if record.config.get("kind") == "lr_find":  # the learning-rate finder: its own panel
        show_finder(run_id, record, manager.store)
        return
    _final_metrics(record)
    if not record.is_active:
        _export(manager, run_id)
    show_alerts(history, record)
    show_insight(run_id, record, history, manager.store)


def _progress(record, store) -> None:
    """The bar, with what the run is doing in words (cnnlab.training.status): its place in
    the queue and when it should start, a worker starting, data loading, the first step."""
    if not record.is_active:
        return
    start_in = None
    if stage_of(record) == "queued":
        start_in = start_estimates(store.list_runs(statuses=ACTIVE_STATUSES)).get(record.run_id)
    st.progress(fraction_done(record) or 0.0, text=md(describe(record, start_in)))


def _model_line(record) -> None:
    """The network being built, while the run has no training step yet: the Model tab's
    summary (already measured for the form, so at no cost), in one line."""
    from cnnlab.config import ExperimentConfig
    from cnnlab.training.device import tensorflow_ready
    from cnnlab.training.memory import estimate_for_config
    from cnnlab.units import format_count

    if not tensorflow_ready():
        return
    try:
        summary = estimate_for_config(ExperimentConfig.from_dict(record.config))
    except Exception:  # noqa: BLE001 - a caption; the run reports its own errors
        return
    st.caption(f"Model: {len(summary.layers)} layers, {format_count(summary.params)} parameters "
               f"({format_count(summary.trainable_params)} trainable), "
               f"{format_count(summary.macs)} multiply-adds per image.")


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
            shown_value = f"{value:.1%}" if "accuracy" in label.lower() else f"{value:.3f}"
            st.metric(label, shown_value,  # text: lab-written (the names in `shown`)
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
        # A button, not st.page_link: the link's query_params did not reach the page.
        if manager.store.get_run(run_id).status == "completed" and st.button(
                "Inspect", key=f"train_inspect_{run_id}", icon=":material/visibility:",
                help="See inside the trained network: top-5, feature maps, filters, Grad-CAM"):
            st.switch_page("pages/7_Inspect.py", query_params={"run": run_id})

"""The Lessons page's widgets: pick a lesson, start its runs, watch them side by side.

A lesson's runs are ordinary runs of this session, started through the job manager
(`cnnlab.lessons.start_lesson`); which runs belong to which lesson is kept in session
state. The live view polls the store once a second from one fragment while any run is
queued or training, and draws the chart that shows the lesson's effect first (curves,
loss against time, gradient heatmaps or the generalization gap), then the lesson's
figure per run, then links to go further on Compare or in the Train form.
"""

from __future__ import annotations

import sqlite3

import streamlit as st

from cnnlab.analysis.alerts import health_alerts
from cnnlab.charts import compare as compare_charts
from cnnlab.charts import insight as insight_charts
from cnnlab.charts import lessons as lesson_charts
from cnnlab.config import ExperimentConfig
from cnnlab.lessons import (
    LESSONS,
    METRICS,
    Lesson,
    lesson_figures,
    missing_data,
    start_lesson,
    start_waiting,
    waiting_for,
)
from cnnlab.text import md
from cnnlab.training.status import describe, fraction_done
from ui.compare_data import curves_of
from ui.compare_table import select
from ui.identity import current_owner, current_session
from ui.projector import plotly_chart
from ui.resources import STATUS_ICONS, job_manager, store_error_message

STARTED = "lessons_started"  # {lesson name: {run label: run id}}
HISTORIES = "lessons_histories"  # {run id: RunHistory}
CHOICE = "lessons_choice"
POLL_SECONDS = 1.0
PLOTLY_CONFIG = {"displaylogo": False}
PER_ROW = 2  # heatmaps and gap charts side by side: two fit a 1024 px projector


def lesson_picker() -> Lesson:
    """The lesson to show, picked by title; its name is kept in the address (`?lesson=`)."""
    names = [lesson.name for lesson in LESSONS]
    if CHOICE not in st.session_state and st.query_params.get("lesson") in names:
        st.session_state[CHOICE] = st.query_params["lesson"]
    titles = {lesson.name: f"{number}. {lesson.title}" for number, lesson in enumerate(LESSONS, 1)}
    name = st.selectbox("Lesson", names, format_func=titles.get, key=CHOICE)
    st.query_params["lesson"] = name
    return next(lesson for lesson in LESSONS if lesson.name == name)


def lesson_intro(lesson: Lesson) -> None:
    """The claim, the question to ask the class first, and the scale and measured figure."""
    with st.container(border=True, key="lessons_intro"):
        st.markdown(f"**The claim.** {lesson.claim}")
        st.markdown(f":material/help: **Ask the class first:** {lesson.question}")
        st.caption(f"Runs: {' · '.join(md(run.label) for run in lesson.runs)}. Scale: {lesson.scale}. "
                   f"Measured on this lab's 2-core machine: {lesson.measured}")
        if lesson.caveat:
            st.warning(lesson.caveat, icon=":material/science:")


def started_runs(lesson: Lesson) -> dict[str, str]:
    """{label: run id} of this session's runs of `lesson` that are still stored."""
    store = job_manager().store
    started = st.session_state.setdefault(STARTED, {}).get(lesson.name, {})
    return {label: run for label, run in started.items() if store.get_run(run) is not None}


def start_button(lesson: Lesson, started: dict[str, str]) -> None:
    """One button that starts every run of the lesson (again, with the same seed)."""
    active = _records(started)
    busy = any(record.is_active for record in active.values())
    missing = missing_data(lesson)
    if missing:
        st.warning(md(missing), icon=":material/cloud_off:")
    label = f"Start the {len(lesson.runs)} runs" if not started else "Start them again"
    with st.container(horizontal=True, vertical_alignment="center", key="lessons_actions"):
        clicked = st.button(label, type="primary", icon=":material/play_arrow:",  # text: lab-written (a count)
                            key="lessons_start", disabled=busy or bool(missing))
        if busy:
            st.caption("Running: the charts below follow the runs live.", width="content")
    if not clicked:
        return
    try:
        runs = start_lesson(job_manager(), lesson, session=current_session(), owner_key=current_owner())
    except ValueError as error:
        st.error(md(error), icon=":material/error:")
        return
    except sqlite3.OperationalError as error:
        st.error(md(store_error_message(error)), icon=":material/error:")
        return
    st.session_state[STARTED][lesson.name] = runs
    st.rerun()


def show_lesson_runs(lesson: Lesson, started: dict[str, str]) -> None:
    """The lesson's runs side by side; live while any of them is queued or training."""
    records = _records(started)
    statuses = {label: record.status for label, record in records.items()}
    # A run waiting for its source to complete keeps the view live; one whose source
    # failed will never start.
    waiting = waiting_for(lesson, started, job_manager().store)
    active = any(record.is_active for record in records.values()) or any(
        reason.startswith("starts when") for reason in waiting.values())
    live = st.fragment(run_every=POLL_SECONDS if active else None, key="lessons_live")(_live)
    live(lesson, dict(started), statuses)
    _go_further(lesson, started)


def _records(started: dict[str, str]) -> dict:
    store = job_manager().store
    return {label: record for label, run in started.items()
            if (record := store.get_run(run)) is not None}


def _live(lesson: Lesson, started: dict[str, str], statuses: dict) -> None:
    manager = job_manager()
    try:
        more = start_waiting(manager, lesson, started, session=current_session(),
                             owner_key=current_owner()) \
            if waiting_for(lesson, started, manager.store) else {}
    except ValueError as error:  # the session's cap (CNNLAB_MAX_PER_SESSION): again next poll
        st.info(md(error), icon=":material/hourglass_top:")
        more = {}
    if more:
        st.session_state[STARTED][lesson.name] = {**started, **more}
        st.rerun()
    records = _records(started)
    if {label: record.status for label, record in records.items()} != statuses:
        st.rerun()  # a run started or ended: redraw the buttons and the poller's pace
    runs = [started[run.label] for run in lesson.runs if run.label in started]
    labels = {started[label]: label for label in started}
    colors = compare_charts.run_colors(runs, runs[0] if runs else None)
    histories = st.session_state.setdefault(HISTORIES, {})
    figures = lesson_figures(lesson, started, manager.store, histories)

    _status_row(lesson, records, started, histories)
    st.info(f"**What to look for.** {lesson.look_for}", icon=":material/visibility:")
    _main_chart(lesson, records, runs, labels, colors, histories)
    metric = METRICS[lesson.measure.metric]
    by_run = {started[label]: value for label, value in figures.items()}
    plotly_chart(lesson_charts.figure_bars(by_run, labels, colors, title=metric.title.capitalize(),
                                              percent=metric.percent),
                    key="lessons_figure", config=PLOTLY_CONFIG, theme=None)
    better, worse = lesson.measure.better, lesson.measure.worse
    st.caption(f"The claim is about this figure: '{md(better)}' should come out "
               f"{'lower' if metric.lower_is_better else 'higher'} than '{md(worse)}'.")


def _status_row(lesson, records, started, histories) -> None:
    """A cell per run: its label, what it is doing, and its health alerts."""
    reasons = waiting_for(lesson, started, job_manager().store)
    cells = [run.label for run in lesson.runs]
    for first in range(0, len(cells), 4):
        for column, label in zip(st.columns(4), cells[first:first + 4]):
            with column:
                record = records.get(label)
                if record is None:
                    st.markdown(f"**{md(label)}**")
                    st.caption(md(reasons.get(label, "not started")))
                    continue
                icon = STATUS_ICONS.get(record.status, "")
                words = describe(record, short=True) if record.is_active else record.status
                st.progress(fraction_done(record) or 0.0, text=f"{icon} **{md(label)}**: {md(words)}")
                history = histories.get(record.run_id)
                if history is not None:
                    for alert in health_alerts(history, status=record.status, config=record.config):
                        st.caption(f":red[:material/warning: {alert.title}]")


def _main_chart(lesson, records, runs, labels, colors, histories) -> None:
    """The chart that shows this lesson's effect, first."""
    store_records = [records[label] for label in labels.values() if label in records]
    if lesson.chart == "gradients":
        st.subheader("Gradient norm per layer (input at the top)")
        st.caption("One colour scale for all runs: the darker, the smaller the gradient.")
        heatmaps = lesson_charts.heatmaps_on_one_scale(
            {run: histories[run].layer_table("grad_norm") for run in runs})
        _side_by_side(runs, labels, heatmaps.get, "lessons_heatmap", titled=False)
        return
    if lesson.chart == "gap":
        st.subheader("Generalization gap (train against validation accuracy)")
        _side_by_side(runs, labels, lambda run: insight_charts.generalization_gap(
            histories[run].epochs, metric="accuracy"), "lessons_gap", titled=True)
        return
    if lesson.chart == "time":
        st.subheader("Training loss against epochs and against time")
        # The run histories, not the Compare page's curves: they hold each epoch's time.
        epochs = {run: histories[run].epochs for run in runs}
        plotly_chart(lesson_charts.loss_against_time(epochs, labels, colors),
                        key="lessons_time", config=PLOTLY_CONFIG, theme=None)
        return
    curves = curves_of(store_records)
    st.subheader("Curves")
    st.caption("Dashed: train · solid: validation.")
    planned = max((record.config.get("epochs") or 0 for record in store_records), default=0)
    plotly_chart(compare_charts.curves_figure(curves, labels, colors, total_epochs=planned or None),
                    key="lessons_curves", config=PLOTLY_CONFIG, theme=None)


def _side_by_side(runs, labels, build, key: str, *, titled: bool) -> None:
    """A chart per run, PER_ROW to a row, each under its run's label; `titled` keeps the
    chart's own title (the gap chart's says the gap in points)."""
    for first in range(0, len(runs), PER_ROW):
        for column, run in zip(st.columns(PER_ROW), runs[first:first + PER_ROW]):
            with column:
                st.markdown(f"**{md(labels[run])}**")
                figure = build(run)
                if not titled:
                    figure.update_layout(title={"text": ""})
                figure.update_layout(height=min(figure.layout.height or 380, 380))
                plotly_chart(figure, key=f"{key}_{run}", config=PLOTLY_CONFIG, theme=None)


def _go_further(lesson: Lesson, started: dict[str, str]) -> None:
    """Open the lesson's runs on Compare, or one of them in the Train form."""
    if not started:
        return
    records = _records(started)
    with st.container(horizontal=True, vertical_alignment="bottom", key="lessons_further"):
        if st.button("Open on Compare", icon=":material/compare_arrows:", key="lessons_compare"):
            select([started[run.label] for run in lesson.runs if run.label in started])
            st.switch_page("pages/3_Compare.py")
        label = st.selectbox("Run", list(records), key="lessons_train_run", width=280)
        if st.button("Open in Train", icon=":material/model_training:", key="lessons_train"):
            record = records[label]
            config = ExperimentConfig.from_dict(record.config)
            st.session_state["train_draft"] = config
            st.session_state["train_load_config"] = config
            st.session_state["train_run_id"] = record.run_id
            st.switch_page("pages/1_Train.py", query_params={"run": record.run_id})
    st.caption(f"On Compare, the '{lesson.compare_tab}' tab; on Train, the run panel's "
               f"'{lesson.panel_tab}' tab shows one run in depth.")


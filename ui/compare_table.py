"""The runs table of the Compare page: filters, sorting, and picking runs to compare.

Which runs are compared is kept as run ids (`compare_selected`), not as the table's row
positions: positions move whenever a new run appears at the top or a filter hides rows.
Before each draw, a selection the user made in the table as last drawn is turned into ids;
then the table's selection is set from the ids, so a run stays selected while the table
changes around it, and buttons can select the runs they start.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlab.analysis import compare
from cnnlab.store import STATUSES
from cnnlab.text import md
from cnnlab.training.status import stage_of

SELECTED = "compare_selected"  # the compared run ids, oldest first
TABLE = "compare_table"  # the st.dataframe's selection state
DRAWN = "compare_drawn"  # (run ids of the rows, selected rows) as the table was last drawn

# The results first, where a projector shows them without scrolling sideways.
COLUMNS = ("status", "name", "best val accuracy", "final val accuracy", "best val loss",
           "final val loss", "progress", "epochs", "duration s", "dataset", "architecture",
           "tricks", "seed", "by", "created", "run")


def selected_runs(records) -> list[str]:
    """The compared run ids that are still stored, oldest first (so colours stay put)."""
    created = {record.run_id: record.created_at for record in records}
    chosen = [run for run in st.session_state.get(SELECTED, []) if run in created]
    return sorted(dict.fromkeys(chosen), key=lambda run: (created[run], run))


def select(run_ids) -> None:
    """Compare exactly these runs (from a callback, before the table is drawn)."""
    st.session_state[SELECTED] = list(dict.fromkeys(run_ids))


def run_counts(records) -> None:
    """How many runs train, start and wait right now: the queue a class shares. A run
    handed to a worker that is still loading TensorFlow counts as starting, not queued."""
    stages = [stage_of(record) for record in records if record.is_active]
    starting = stages.count("starting_worker")
    queued = stages.count("queued")
    running = len(stages) - starting - queued
    finished = len(records) - len(stages)
    st.markdown(f":blue-badge[:material/autorenew: {running:d} running] "
                + (f":violet-badge[:material/hourglass_top: {starting:d} starting a worker] "
                   if starting else "")
                + f":orange-badge[:material/schedule: {queued:d} queued] "
                f":gray-badge[{finished:d} finished]")


def runs_picker(records, table: pd.DataFrame) -> list[str]:
    """The filters and the table (`compare.runs_table` of `records`); returns the run ids
    to compare."""
    status, dataset, architecture, text = st.columns([2, 2, 2, 3])
    statuses = status.multiselect("Status", [s for s in STATUSES if s in set(table["status"])],
                                  key="compare_filter_status", placeholder="all")
    datasets = dataset.multiselect("Data set", sorted(set(table["dataset"].dropna())),
                                   key="compare_filter_dataset", placeholder="all")
    architectures = architecture.multiselect("Architecture", sorted(set(table["architecture"].dropna())),
                                             key="compare_filter_architecture", placeholder="all")
    search = text.text_input("Search", key="compare_filter_text",
                             placeholder="name, trick or run id, e.g. dropout")
    shown = compare.filter_runs(table, statuses=statuses, datasets=datasets,
                         architectures=architectures, text=search)

    _take_user_selection()
    selected = selected_runs(records)
    select(selected)  # kept in order, without runs deleted meanwhile
    visible = list(shown["run"])
    _show_selection(selected, visible)
    hidden = [run for run in selected if run not in visible]
    note = f" ({len(hidden)} hidden by the filters)" if hidden else ""
    # Between the filters and the table: the table's toolbar, which appears above its top
    # right corner on hover, covered the Search box when the table came right after it.
    st.caption(f"**{len(selected)}** of {len(records)} runs selected{md(note)}. Tick rows to compare "
               "them; click a column's header to sort.")
    st.dataframe(
        shown[list(COLUMNS)], key=TABLE, on_select="rerun", selection_mode="multi-row",
        hide_index=True, height=min(38 + 35 * max(len(shown), 3), 420), placeholder="—",
        column_config={
            "status": st.column_config.TextColumn("status", width="small"),
            "name": st.column_config.TextColumn("name", width="large"),
            "tricks": st.column_config.TextColumn("key tricks", width="medium"),
            "best val accuracy": st.column_config.NumberColumn("best val acc", format="percent"),
            "final val accuracy": st.column_config.NumberColumn("final val acc", format="percent"),
            "best val loss": st.column_config.NumberColumn("best val loss", format="%.3f"),
            "final val loss": st.column_config.NumberColumn("final val loss", format="%.3f"),
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0,
                                                        format="percent", width="small"),
            "duration s": st.column_config.NumberColumn("duration", format="%.0f s"),
            "seed": st.column_config.NumberColumn("seed", format="%d", width="small"),
            "created": st.column_config.DatetimeColumn("created (UTC)", format="MMM D, HH:mm"),
            "by": st.column_config.TextColumn("started by", width="small"),
            "run": st.column_config.TextColumn("run id"),
        },
    )
    return selected


def _table_rows() -> list[int]:
    state = st.session_state.get(TABLE)
    return sorted(state["selection"]["rows"]) if state else []


def _take_user_selection() -> None:
    """Rows ticked or unticked since the last draw become the selected ids; runs hidden by
    the filters stay selected."""
    if DRAWN not in st.session_state:
        return
    visible, rows = st.session_state[DRAWN]
    now = _table_rows()
    if now == rows:
        return
    hidden = [run for run in st.session_state.get(SELECTED, []) if run not in visible]
    select(hidden + [visible[row] for row in now if row < len(visible)])


def _show_selection(selected: list[str], visible: list[str]) -> None:
    """Point the table's selection at the rows where the selected runs now are."""
    rows = sorted(visible.index(run) for run in selected if run in visible)
    if _table_rows() != rows:
        st.session_state[TABLE] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    st.session_state[DRAWN] = (visible, rows)

"""What the Compare page reads from the store, with finished runs cached.

Why: the page redraws every second while runs train, and a class keeps many runs; a
finished run's curves, table row and gradient profile never change, so they are read
once per server (st.cache_data, shared by every session) and only active runs are read
again on every poll. The cache key carries the store's folder and the run's last write
time, so another store (a test's) or a rewritten run is never served stale.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlab.analysis import compare
from ui.resources import job_manager

CACHED_RUNS = 4096


def curves_of(records) -> dict[str, pd.DataFrame]:
    """Per run, its per-epoch table (`compare.epoch_curves`)."""
    store = job_manager().store
    active = [record.run_id for record in records if record.is_active]
    fresh = compare.epoch_curves(store, active) if active else {}
    return {record.run_id: fresh[record.run_id] if record.is_active
            else _finished_curve(str(store.home), record.run_id, record.updated_at)
            for record in records}


def table_of(records, curves) -> pd.DataFrame:
    """The runs table (`compare.runs_table`), a row per record in their order."""
    store = job_manager().store
    rows = [compare.runs_table([record], curves).iloc[0].to_dict() if record.is_active
            else _finished_row(str(store.home), record.run_id, record.updated_at)
            for record in records]
    return pd.DataFrame(rows) if rows else compare.runs_table([], {})


def gradient_profile_of(record) -> pd.Series:
    """The run's last recorded per-layer gradient norms (`compare.gradient_profile`)."""
    store = job_manager().store
    if record.is_active:
        return compare.gradient_profile(store, record.run_id)
    return _finished_profile(str(store.home), record.run_id, record.updated_at)


# `home` and `updated_at` are part of the cache key only.


@st.cache_data(max_entries=CACHED_RUNS, show_spinner=False)
def _finished_curve(home: str, run_id: str, updated_at: float | None) -> pd.DataFrame:
    return compare.epoch_curves(job_manager().store, [run_id])[run_id]


@st.cache_data(max_entries=CACHED_RUNS, show_spinner=False)
def _finished_row(home: str, run_id: str, updated_at: float | None) -> dict:
    record = job_manager().store.get_run(run_id)
    curve = _finished_curve(home, run_id, updated_at)
    return compare.runs_table([record], {run_id: curve}).iloc[0].to_dict()


@st.cache_data(max_entries=CACHED_RUNS, show_spinner=False)
def _finished_profile(home: str, run_id: str, updated_at: float | None) -> pd.Series:
    return compare.gradient_profile(job_manager().store, run_id)

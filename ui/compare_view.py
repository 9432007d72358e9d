"""The comparison of the selected runs: what differs, their curves, and tabs that dig in.

Drawn in one fragment that polls the store every second while any of the runs is queued
or training, so new variants grow beside their baseline at most one poll behind; when a
run's status changes the whole page is drawn again (the table's statuses and the poller
follow). Only the open tab is drawn, so a poll costs one tab, not four.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.analysis import compare
from cnnlab.charts import compare as compare_charts
from cnnlab.store import ACTIVE_STATUSES
from cnnlab.text import md
from cnnlab.training.status import describe, fraction_done, start_estimates
from ui.compare_data import curves_of, gradient_profile_of, table_of
from ui.compare_ensemble import ensemble_tab
from ui.projector import plotly_chart
from ui.resources import job_manager

POLL_SECONDS = 1.0
PLOTLY_CONFIG = {"displaylogo": False}
TABS = ("Difference from baseline", "Gradients", "Hyperparameters", "Seeds", "Ensemble")
DELTA_METRICS = {"validation accuracy": "val_accuracy", "validation loss": "val_loss",
                 "train accuracy": "accuracy", "train loss": "loss"}
SCORES = ("best val accuracy", "final val accuracy", "best val loss", "final val loss")


def show_comparison(selected: list[str], baseline: str, records: dict) -> None:
    """Draw the comparison of `selected` (run ids, oldest first); live while any is active."""
    statuses = {run: records[run].status for run in selected}
    active = any(records[run].is_active for run in selected)
    live = st.fragment(run_every=POLL_SECONDS if active else None, key="compare_live")(_live)
    live(selected, baseline, statuses)


def _live(selected: list[str], baseline: str, statuses: dict) -> None:
    store = job_manager().store
    records = {run: record for run in selected if (record := store.get_run(run)) is not None}
    if {run: record.status for run, record in records.items()} != statuses:
        st.rerun()  # a run started, ended or went: redraw the table and the poller too
    # The baseline first: first in the legends and the diff; colours follow creation order.
    colors = compare_charts.run_colors(list(records), baseline)
    records = dict(sorted(records.items(), key=lambda item: item[0] != baseline))
    curves = curves_of(list(records.values()))
    configs = {run: record.config for run, record in records.items()}
    labels = compare_charts.run_labels(configs, baseline)

    training = [record for record in records.values() if record.is_active]
    if training:
        st.caption(f":material/autorenew: **Live**: {len(training)} of these runs are queued or "
                   "training; the charts follow them every second, a point per finished epoch.")
        estimates = start_estimates(store.list_runs(statuses=ACTIVE_STATUSES))
        _progress(training, labels, estimates)
    _differences(configs, labels, colors, statuses, baseline)
    st.subheader("Curves")
    st.caption("Dashed: train · solid: validation. Click a run in the legend to hide it, "
               "double-click to show it alone.")
    planned = max((config.get("epochs") or 0 for config in configs.values()), default=0)
    plotly_chart(compare_charts.curves_figure(curves, labels, colors, total_epochs=planned or None),
                    key="compare_curves", config=PLOTLY_CONFIG, theme=None)

    delta, gradients, hyperparameters, seeds, ensemble = st.tabs(TABS, key="compare_tab",
                                                                 on_change="rerun")
    if delta.open:
        with delta:
            _delta(curves, baseline, labels, colors)
    if gradients.open:
        with gradients:
            profiles = {run: gradient_profile_of(record) for run, record in records.items()}
            if all(profile.empty for profile in profiles.values()):
                st.info("No gradient norms are recorded yet for these runs.")
            else:
                plotly_chart(compare_charts.gradient_profiles_figure(profiles, labels, colors),
                                key="compare_gradients", config=PLOTLY_CONFIG, theme=None)
                st.caption("A line that climbs steeply from the first layers to the last is a "
                           "vanishing gradient; batch norm, ReLU and He initialization flatten it.")
    if hyperparameters.open:
        with hyperparameters:
            _parallel_coordinates(records, curves, configs)
    if seeds.open:
        with seeds:
            _seed_bands(records, curves)
    if ensemble.open:
        with ensemble:
            ensemble_tab(records, labels)


def _progress(training, labels, estimates: dict, per_row: int = 4) -> None:
    """A bar per active run: where it is within its epochs, between the chart's points,
    or what it waits for (its place in the queue and when it should start, a worker
    starting, its data loading: cnnlab.training.status)."""
    for start in range(0, len(training), per_row):
        for column, record in zip(st.columns(per_row), training[start:start + per_row]):
            label = labels.get(record.run_id, record.run_id)
            words = describe(record, estimates.get(record.run_id), short=True)
            column.progress(fraction_done(record) or 0.0, text=f"**{md(label)}**: {md(words)}")


def _differences(configs, labels, colors, statuses, baseline) -> None:
    st.subheader("What differs")
    if len(configs) < 2:
        st.caption("Select a second run to see how its settings differ from this one.")
        return
    diff = compare.config_diff(configs)
    if diff.empty:
        st.info("These runs have the same settings, seed included: any difference between "
                "their curves is the machine's nondeterminism.")
        return
    with st.container(key="compare_diff"):
        st.dataframe(compare_charts.diff_styler(diff, labels, statuses, baseline, colors),
                     hide_index=True, height=min(38 + 35 * len(configs), 420),
                     column_config={"run": st.column_config.TextColumn("run", width="medium")})
    st.caption("Only the settings that differ are listed; highlighted: different from the baseline.")


def _delta(curves, baseline, labels, colors) -> None:
    if len(curves) < 2:
        st.info("Select two or more runs to see their difference from the baseline.")
        return
    choice = _kept(st.radio, "Metric", list(DELTA_METRICS), key="compare_delta_metric", horizontal=True)
    metric = DELTA_METRICS[choice]
    try:
        table = compare.delta(curves, metric, baseline)
    except ValueError as error:
        st.info(md(error))
        return
    if not table.notna().to_numpy().any():
        # Variants still queued, or in their first epoch: nothing to subtract yet. An empty
        # chart here had axes from -100% to +400% and an epoch -1.
        st.info("The difference from the baseline appears when another run has finished its "
                "first epoch.", icon=":material/hourglass_top:")
        return
    plotly_chart(compare_charts.delta_figure(table, metric, labels, colors),
                    key="compare_delta", config=PLOTLY_CONFIG, theme=None)


def _parallel_coordinates(records, curves, configs) -> None:
    if len(records) <= 2:
        st.info("Select three or more runs to see their hyperparameters against a result, "
                "a line per run.")
        return
    score = _kept(st.radio, "Colour by", SCORES, key="compare_score", horizontal=True)
    table = table_of(list(records.values()), curves).set_index("run")
    hyper = compare_charts.hyperparameter_table(configs, table[score].to_dict())
    if len(hyper.columns) < 2:
        st.info("The selected runs differ in no number, on/off or choice setting to draw an axis for.")
        return
    plotly_chart(compare_charts.parallel_coordinates(hyper, score), key="compare_parcoords",
                    config=PLOTLY_CONFIG, theme=None)
    st.caption("A line per run. Drag along an axis to keep only the runs in that range.")


def _seed_bands(records, curves) -> None:
    groups = compare.seed_groups(list(records.values()))
    if not groups:
        st.info("No selected runs differ only in their seed. Pick a baseline and press "
                "**Repeat over N seeds** to see how much of a difference is noise.")
        return
    bands = {label: {metric: compare.seed_band(curves, runs, metric)
                     for metric in ("val_loss", "val_accuracy")} for label, runs in groups.items()}
    colors = dict(zip(groups, compare_charts.PALETTE))
    plotly_chart(compare_charts.seed_bands_figure(bands, colors), key="compare_seeds",
                    config=PLOTLY_CONFIG, theme=None)
    st.caption("Mean ± one standard deviation over the seeds. A difference between two "
               "settings smaller than their bands may be noise.")


def _kept(widget, *args, key: str, **kwargs):
    """`widget(..., key=key)`, its value surviving a closed tab (Streamlit forgets the state
    of widgets a run does not draw; a copy is kept under a key no widget owns)."""
    if key not in st.session_state and f"{key}_kept" in st.session_state:
        st.session_state[key] = st.session_state[f"{key}_kept"]
    value = widget(*args, key=key, **kwargs)
    st.session_state[f"{key}_kept"] = value
    return value

"""The Compare page's Ensemble tab: combine the selected runs' stored predictions.

Nothing is trained: `cnnlab.analysis.ensemble` averages (or votes over) the probabilities
every completed run stored, and keeps the result as a small JSON file in the store.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlab.analysis.ensemble import build_ensemble, save_ensemble
from cnnlab.charts.ensemble import ensemble_curve_figure
from cnnlab.text import md
from ui.projector import plotly_chart
from ui.resources import job_manager

METHODS = {"mean": "Average the probabilities", "vote": "Majority vote"}
PLOTLY_CONFIG = {"displaylogo": False}


def ensemble_tab(records: dict, labels: dict[str, str]) -> None:
    """Draw the tab for the selected `records` ({run id: record}, baseline first)."""
    completed = [run for run, record in records.items() if record.status == "completed"]
    st.caption("Combine the selected completed runs without training anything: their stored "
               "validation and test probabilities are averaged, or each run votes for its top "
               "class. Seed repeats make natural members.")
    if len(completed) < 2:
        st.info("Select two or more completed runs of one data set to build an ensemble "
                f"({len(completed)} selected).")
        return
    method = st.radio("Combine by", list(METHODS), format_func=METHODS.get, horizontal=True,
                      key="compare_ensemble_method")
    if st.button("Ensemble of the selected runs", key="compare_ensemble_build",
                 icon=":material/merge:"):
        try:
            result = build_ensemble(job_manager().store, completed, method)
        except ValueError as error:
            st.session_state.pop("compare_ensemble", None)
            st.error(md(error), icon=":material/error:")
            return
        save_ensemble(job_manager().store, result)
        st.session_state["compare_ensemble"] = result.to_dict()
    result = st.session_state.get("compare_ensemble")
    if not result or sorted(result["members"]) != sorted(completed) or result["method"] != method:
        return
    _show(result, labels)


def _show(result: dict, labels: dict[str, str]) -> None:
    best = max(result["member_accuracy"].values(), key=lambda scores: scores["test"])
    columns = st.columns(3)
    columns[0].metric("Ensemble test accuracy", f"{result['accuracy']['test']:.1%}",
                      delta=f"{(result['accuracy']['test'] - best['test']) * 100:+.1f} points "
                            "vs the best member")
    columns[1].metric("Best member, test", f"{best['test']:.1%}")
    validation = result["accuracy"]["validation"]
    columns[2].metric("Ensemble validation accuracy",
                      "—" if validation is None else f"{validation:.1%}")
    if validation is None:
        st.caption("The members drew different validation splits (their seeds differ), so "
                   "the ensemble is measured on the test set, which every seed shares.")
    rows = [{"run": labels.get(run, run), "id": run, "validation": scores["validation"],
             "test": scores["test"]} for run, scores in result["member_accuracy"].items()]
    rows.append({"run": f"ensemble ({len(result['members'])} runs)", "id": "",
                 "validation": validation, "test": result["accuracy"]["test"]})
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_ensemble_table", placeholder="—",
                 column_config={"validation": percent, "test": percent})
    st.caption("Each member's validation accuracy is on its own validation split.")
    plotly_chart(ensemble_curve_figure(result, labels), key="compare_ensemble_curve",
                    config=PLOTLY_CONFIG, theme=None)
    st.caption("Saved with the runs (the store's ensembles folder): members, method and "
               "accuracies.")

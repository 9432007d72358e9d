"""What the Compare page starts and removes: variants of a baseline run, stop, delete.

Every button works through a callback, which runs before the page is drawn again, so the
new runs are already selected when the table and the charts are drawn: the user watches
them train beside their baseline at once. A variant is never started half-way: every
variant of a request is built and checked first, and a ValueError shows as it is.
"""

from __future__ import annotations

import sqlite3

import streamlit as st

from cnnlab.analysis.ablation import (
    MAX_SEEDS,
    TRICKS,
    ablation_grid,
    over_seeds,
    toggle_trick,
    with_changes,
)
from cnnlab.config import ExperimentConfig, parse_changes
from cnnlab.sessions import check_may_modify
from cnnlab.text import code, md
from ui.compare_table import SELECTED, select
from ui.identity import current_owner, current_session, is_teacher
from ui.resources import job_manager, store_error_message

BASELINE = "compare_baseline"
ERROR = "compare_error"
NOTICE = "compare_notice"
CONFIRM_DELETE = "compare_confirm_delete"


def baseline_picker(selected: list[str], labels: dict[str, str]) -> str:
    """The run the others are measured against and new variants start from."""
    if st.session_state.get(BASELINE) not in selected:
        st.session_state[BASELINE] = selected[0]
    return st.selectbox("Baseline run", selected, key=BASELINE, format_func=labels.__getitem__,
                        help="Delta curves and highlighted differences are against this run; "
                             "the buttons start variants of it.")


def variant_buttons(baseline: str) -> None:
    """"The same but with …": one trick toggled, the ablation grid, seeds, a custom change."""
    record = job_manager().store.get_run(baseline)
    if record is None:
        st.warning(f"Run {code(baseline)} was deleted meanwhile. Pick another baseline.")
        return
    try:
        config = ExperimentConfig.from_dict(record.config)
    except (ValueError, TypeError) as error:
        st.error(f"This run's config cannot be rerun: {md(error)}", icon=":material/error:")
        return
    st.markdown("**Start the same but with …**")
    # Buttons as wide as their words, wrapping to a new row on a narrow screen: in equal
    # columns they were cut ("Ablation grid (all f…") at 1024 px.
    with st.container(horizontal=True, key="compare_variant_buttons"):
        for trick in TRICKS:
            # "with dropout", or "without dropout" where the baseline has it on.
            what = toggle_trick(config, trick).name.rsplit(" · ", 1)[-1].replace("l2", "L2")
            st.button(what, key=f"compare_toggle_{trick}",  # text: lab-written (a trick's name from TRICKS)
                      on_click=_start, args=(baseline, lambda c, t=trick: [toggle_trick(c, t)]))
        st.button("Ablation grid (all four)", key="compare_ablation", type="primary",
                  icon=":material/grid_view:", on_click=_start,
                  args=(baseline, lambda c: ablation_grid(c)[1:]),
                  help="The four variants above at once; the baseline is this run.")
    with st.container(horizontal=True, vertical_alignment="bottom", key="compare_more_variants"):
        count = st.number_input("Seeds", min_value=2, max_value=MAX_SEEDS, value=3, step=1,
                                key="compare_seed_count", width=110)
        st.button(f"Repeat over {int(count)} seeds", key="compare_repeat", icon=":material/casino:",
                  on_click=_start, args=(baseline, lambda c: over_seeds(c, int(count))[1:]),
                  help="Starts the other seeds; this run is the first. Shows run-to-run noise.")
    with st.container(horizontal=True, vertical_alignment="bottom", key="compare_custom_row"):
        st.text_input("Custom change", key="compare_custom",
                      placeholder="learning_rate=0.01, tricks.dropout_rate=0.3",
                      help="Dotted config fields, as the CLI's --set takes them.")
        st.button("Start", key="compare_custom_start", icon=":material/play_arrow:",
                  on_click=_start_custom, args=(baseline,))


def stop_and_delete(selected: list[str], records: dict) -> None:
    """Stop the selected active runs; delete the selected runs after a confirmation."""
    active = [run for run in selected if records[run].is_active]
    with st.container(horizontal=True, key="compare_selection_actions"):
        st.button(f"Stop {len(active)} active" if active else "Stop", key="compare_stop",
                  icon=":material/stop:", disabled=not active, on_click=_stop, args=(active,))
        st.button(f"Delete {len(selected)} selected", key="compare_delete", icon=":material/delete:",
                  disabled=not selected,
                  on_click=lambda: st.session_state.update({CONFIRM_DELETE: list(selected)}))
        st.button("Clear selection", key="compare_clear", icon=":material/deselect:",
                  disabled=not selected, on_click=select, args=([],))
    if st.session_state.get(CONFIRM_DELETE):
        _confirm_delete(st.session_state[CONFIRM_DELETE])


def _close_dialog() -> None:
    st.session_state.pop(CONFIRM_DELETE, None)


@st.dialog("Delete runs?", on_dismiss=_close_dialog)
def _confirm_delete(run_ids: list[str]) -> None:
    store, owner, teacher = job_manager().store, current_owner(), is_teacher()
    doomed = []
    for record in filter(None, map(store.get_run, run_ids)):
        try:
            check_may_modify(record, owner, teacher=teacher, action="delete")
        except PermissionError as error:
            st.warning(md(error), icon=":material/block:")
            continue
        if record.is_active:
            st.warning(f"**{md(record.name)}** ({code(record.run_id)}) is {md(record.status)}: stop it first, "
                       "then delete it.", icon=":material/block:")
        else:
            doomed.append(record)
    if doomed:
        st.markdown(f"These {len(doomed)} runs, their metrics and their files will be deleted "
                    "for good:\n" + "\n".join(f"- {md(record.name)} ({code(record.run_id)})" for record in doomed))
    yes, no = st.columns(2)
    if doomed and yes.button(f"Delete {len(doomed)} runs", key="compare_delete_confirm",
                             type="primary", icon=":material/delete_forever:", width="stretch"):
        refused = []
        for record in doomed:
            try:
                store.delete_run(record.run_id)
            except ValueError as error:  # it started since the dialog opened
                refused.append(str(error))
        gone = {record.run_id for record in doomed} - {r for r in run_ids if store.get_run(r)}
        select([run for run in st.session_state.get(SELECTED, []) if run not in gone])
        st.session_state[NOTICE] = f"Deleted {len(gone)} runs."
        if refused:
            st.session_state[ERROR] = " ".join(refused)
        _close_dialog()
        st.rerun()
    if no.button("Cancel" if doomed else "Close", key="compare_delete_cancel", width="stretch"):
        _close_dialog()
        st.rerun()


def _start(baseline: str, build) -> None:
    """Build the variants of the baseline and start them all, or none if one is refused."""
    manager = job_manager()
    record = manager.store.get_run(baseline)
    try:
        if record is None:
            raise ValueError(f"Run {baseline} is no longer stored. Expected an existing baseline. "
                             "Pick another run.")
        variants = build(ExperimentConfig.from_dict(record.config))
        # Every variant is admitted before any is written (JobManager.submit_all).
        started = manager.submit_all([(variant.config, variant.name) for variant in variants],
                                     session=current_session(), owner_key=current_owner())
    except ValueError as error:
        st.session_state[ERROR] = str(error)
        return
    except sqlite3.OperationalError as error:
        st.session_state[ERROR] = store_error_message(error)
        return
    select([baseline, *started])
    st.session_state[BASELINE] = baseline
    st.session_state[NOTICE] = (f"Started {len(started)} run{'s' * (len(started) > 1)} beside the "
                                "baseline: " + "; ".join(variant.name.split(" · ")[-1] for variant in variants))


def _start_custom(baseline: str) -> None:
    text = st.session_state.get("compare_custom", "")

    def build(config: ExperimentConfig):
        return [with_changes(config, parse_changes(text))]

    _start(baseline, build)


def _stop(run_ids: list[str]) -> None:
    manager, store, refused, stopping, stopped = job_manager(), job_manager().store, [], 0, 0
    for run_id in run_ids:
        record = store.get_run(run_id)
        if record is None or not record.is_active:
            continue
        try:
            check_may_modify(record, current_owner(), teacher=is_teacher(), action="stop")
        except PermissionError as error:
            refused.append(str(error))
            continue
        if manager.stop(run_id):
            # One that had not started is stopped at once (JobManager.stop).
            if record.status == "queued":
                stopped += 1
            else:
                stopping += 1
        else:
            refused.append(f"Run {run_id} trains in another process of the lab (the command "
                           "line, another server): stop it there.")
    if refused:
        st.session_state[ERROR] = " ".join(refused)
    done = [f"Stopped {stopped} run(s) that had not started." if stopped else "",
            f"Stopping {stopping} run(s) after their current batch." if stopping else ""]
    if stopped or stopping:
        st.session_state[NOTICE] = " ".join(part for part in done if part)


def messages() -> None:
    """What the last action did, shown once."""
    if ERROR in st.session_state:
        st.error(md(st.session_state.pop(ERROR)), icon=":material/error:")
    if NOTICE in st.session_state:
        st.success(md(st.session_state.pop(NOTICE)), icon=":material/check_circle:")

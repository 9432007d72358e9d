"""Starting a lesson's runs through the job manager, and reading back their figures.

Why through the job manager: a lesson's runs are ordinary runs of the session that
started them (queued past `CNNLAB_MAX_CONCURRENT`, admitted before anything is written,
stoppable, kept in the store), so Compare, Train and the command line see them like any
other. A run that starts from another run's weights (`LessonRun.starts_from`) can only
be admitted once that run has completed; `start_waiting` starts it then.
"""

from __future__ import annotations

from cnnlab.analysis.history import RunHistory
from cnnlab.lessons.lesson import Lesson
from cnnlab.lessons.metrics import measure


def start_lesson(manager, lesson: Lesson, *, session: str = "", owner_key: str = "",
                 seed: int | None = None, extra: dict | None = None) -> dict[str, str]:
    """Queue every run of `lesson` that can start now; return {label: run id}.

    All of them are admitted before any is written (`JobManager.submit_all`): a lesson
    starts whole or not at all, and a ValueError says why not.

    Args:
        manager: the JobManager.
        lesson: the lesson.
        session: the display name of the browser session that starts the runs.
        owner_key: who may stop and delete them (cnnlab.sessions.owner_of_key).
        seed: a seed for every run instead of the lesson's own (the benchmark's repeats).
        extra: dotted overrides for every run (a reduced scale, for tests).
    """
    ready = [run.label for run in lesson.runs if run.starts_from is None]
    configs = [(lesson.config(label, seed=seed, extra=extra), lesson.run_name(label))
               for label in ready]
    return dict(zip(ready, manager.submit_all(configs, session=session, owner_key=owner_key)))


def start_waiting(manager, lesson: Lesson, started: dict[str, str], *, session: str = "",
                  owner_key: str = "", seed: int | None = None,
                  extra: dict | None = None) -> dict[str, str]:
    """Queue the runs of `lesson` whose source run (`starts_from`) has now completed; return
    {label: run id} of those started (empty when none could start yet)."""
    store = manager.store
    ready = []
    for run in lesson.runs:
        if run.label in started or run.starts_from is None:
            continue
        source = started.get(run.starts_from)
        record = store.get_run(source) if source else None
        if record is not None and record.status == "completed":
            ready.append((run.label, lesson.config(run.label, seed=seed, extra=extra,
                                                   start_from_run=source)))
    if not ready:
        return {}
    ids = manager.submit_all([(config, lesson.run_name(label)) for label, config in ready],
                             session=session, owner_key=owner_key)
    return {label: run_id for (label, _), run_id in zip(ready, ids)}


def missing_data(lesson: Lesson) -> str | None:
    """Why `lesson` cannot run offline now (its data set is not in Keras' cache), or None.

    Why ask first: a lesson needing a downloadable data set is offered, never required; on
    a machine without the file its runs would fail one by one after the click.
    """
    if lesson.needs is None:
        return None
    from cnnlab.data import get_info
    from cnnlab.data.keras_datasets import is_cached, keras_cache_folder

    info = get_info(lesson.needs)
    if not info.needs_download or is_cached(lesson.needs):
        return None
    return (f"This lesson needs {info.title}, which is not in Keras' cache "
            f"('{keras_cache_folder()}') and would have to be downloaded. Train any run on "
            f"`{lesson.needs}` once with a network connection (or copy Keras' files there), "
            "then start the lesson.")


def waiting_for(lesson: Lesson, started: dict[str, str], store) -> dict[str, str]:
    """{label: why} for runs not started yet: the run they wait for, or that it ended
    without completing (so they never will)."""
    reasons = {}
    for run in lesson.runs:
        if run.label in started or run.starts_from is None:
            continue
        record = store.get_run(started[run.starts_from]) if run.starts_from in started else None
        if record is not None and not record.is_active and record.status != "completed":
            reasons[run.label] = (f"cannot start: '{run.starts_from}' ended {record.status}, "
                                  "and its weights are needed")
        else:
            reasons[run.label] = f"starts when '{run.starts_from}' has completed"
    return reasons


def lesson_figures(lesson: Lesson, started: dict[str, str], store,
                   histories: dict[str, RunHistory] | None = None) -> dict[str, float]:
    """{label: the lesson's metric} of the compared runs started so far (a source run,
    trained on other data, is left out), from their stored history.

    `histories` (run id -> RunHistory) is updated in place where given, so a page that
    polls reads only new rows.
    """
    histories = {} if histories is None else histories
    figures = {}
    for label, run_id in started.items():
        if lesson.run(label).source:
            continue
        history = histories.setdefault(run_id, RunHistory(run_id))
        history.update(store)
        record = store.get_run(run_id)
        figures[label] = measure(lesson.measure.metric, history,
                                 record.status if record is not None else None)
    return figures

"""Shared live views (cnnlab.analysis.live): a class watching one run costs one reader."""

from __future__ import annotations

import threading

import pytest

from cnnlab.analysis.live import live_runs, live_view
from cnnlab.charts import training as charts
from tests.apptest import fresh_resources  # noqa: F401  (fixture)

WATCHERS = 30


class CountingStore:
    """The store, counting its reads and what each metrics read returned."""

    def __init__(self, store):
        self._store = store
        self.get_run_calls = 0
        self.metric_reads: list[tuple[int, int]] = []  # (after_id, rows returned)

    def get_run(self, run_id):
        self.get_run_calls += 1
        return self._store.get_run(run_id)

    def metrics(self, run_id, *, after_id=0, names=None):
        rows = self._store.metrics(run_id, after_id=after_id, names=names)
        self.metric_reads.append((after_id, len(rows)))
        return rows

    def read_artifact(self, run_id, name):
        return self._store.read_artifact(run_id, name)


def _epoch(store, run_id, epoch, steps=4):
    rows = [(epoch, step, "batch/loss", 2.0 / (epoch * step)) for step in range(1, steps + 1)]
    rows += [(epoch, steps, "loss", 1.0 / epoch), (epoch, steps, "val_loss", 1.2 / epoch)]
    store.add_metrics(run_id, rows)


def _curves(view):
    return view.shared(("curves", 4, 3), lambda: charts.training_curves(
        view.epochs, view.batches, steps_per_epoch=4, total_epochs=3))


def _watch_all(counting, run_id, refresh_s=60.0):
    """Each of WATCHERS threads polls the run once, as the sessions' fragments do."""
    views, barrier = [None] * WATCHERS, threading.Barrier(WATCHERS)

    def watch(index):
        barrier.wait()
        view = live_view(counting, run_id, refresh_s=refresh_s)
        views[index] = (view, _curves(view))

    threads = [threading.Thread(target=watch, args=(index,)) for index in range(WATCHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return views


def test_thirty_watchers_share_one_read_and_one_figure_per_batch(store):
    run_id = store.create_run({"epochs": 3})
    counting = CountingStore(store)
    _epoch(store, run_id, 1)
    first = _watch_all(counting, run_id, refresh_s=0.0 + 60.0)
    assert counting.get_run_calls == 1 and counting.metric_reads == [(0, 6)]
    assert len({id(view) for view, _ in first}) == 1  # one view, one figure, for all
    assert len({id(figure) for _, figure in first}) == 1

    _epoch(store, run_id, 2)
    live_runs(counting).get(run_id)._refreshed_at = -float("inf")  # the refresh time is up
    second = _watch_all(counting, run_id)
    assert counting.get_run_calls == 2
    # Incremental: the second read asked for rows after the last it had, and got only those.
    assert counting.metric_reads == [(0, 6), (first[0][0].last_id, 6)]
    assert len({id(figure) for _, figure in second}) == 1
    view, figure = second[0]
    assert list(view.epochs.index) == [1, 2] and len(view.batches) == 8
    # The shared figure is the one a session would build from its own history.
    from cnnlab.analysis.history import RunHistory

    own = RunHistory(run_id)
    own.update(store)
    assert figure == charts.training_curves(own.epochs, own.batches, steps_per_epoch=4, total_epochs=3)
    # A session still holding the older view draws what it drew: views never change.
    old_view, old_figure = first[0]
    assert list(old_view.epochs.index) == [1] and len(old_view.batches) == 4
    assert _curves(old_view) is old_figure


def test_a_view_younger_than_the_refresh_time_is_not_read_again(store):
    run_id = store.create_run({})
    counting = CountingStore(store)
    for _ in range(5):
        live_view(counting, run_id, refresh_s=60.0)
    assert counting.get_run_calls == 1
    for _ in range(3):
        live_view(counting, run_id, refresh_s=0.0)
    assert counting.get_run_calls == 4
    # Nothing new: no rows asked for again from the start, and the same view.
    assert all(after == 0 for after, _ in counting.metric_reads)
    assert live_view(counting, run_id, refresh_s=0.0) is live_view(counting, run_id, refresh_s=60.0)


def test_unchanged_rows_keep_their_view_and_tables_a_new_batch_reuses_the_others(store):
    run_id = store.create_run({})
    _epoch(store, run_id, 1)
    first = live_view(store, run_id, refresh_s=0.0)
    epochs = first.epochs
    assert live_view(store, run_id, refresh_s=0.0) is first
    store.add_metrics(run_id, [(2, 1, "batch/loss", 0.5)])  # a batch, no epoch row
    second = live_view(store, run_id, refresh_s=0.0)
    assert second is not first and len(second.batches) == 5
    assert second.epochs is epochs  # the epoch table did not grow: pivoted once


def test_a_deleted_run_has_no_view_and_a_session_watching_nothing_reads_nothing(store):
    counting = CountingStore(store)
    assert live_view(counting, "no-such-run", refresh_s=0.0) is None
    run_id = store.create_run({})
    store.finish_run(run_id, "completed")
    assert live_view(store, run_id, refresh_s=0.0) is not None
    store.delete_run(run_id)
    assert live_view(store, run_id, refresh_s=0.0) is None
    # Nobody asked about the other run: it was never read.
    other = store.create_run({})
    assert other not in live_runs(store)._runs


def test_an_unknown_layer_kind_is_refused(store):
    run_id = store.create_run({})
    view = live_view(store, run_id, refresh_s=0.0)
    with pytest.raises(ValueError, match="Unknown layer metric"):
        view.layer_table("gradient")


def test_the_train_page_draws_from_the_shared_view(lab_home, fresh_resources):
    """Two sessions on one run's Train page: one view, one figure built, the same chart."""
    from streamlit.testing.v1 import AppTest

    from cnnlab.store import RunStore
    from cnnlab.store.owners import this_owner
    from tests.apptest import ROOT, plotly_figure
    from ui.resources import job_manager

    store = RunStore(lab_home)
    run_id = store.create_run({"epochs": 3}, name="watched")
    store.mark_running(run_id, device="CPU", owner=this_owner())
    _epoch(store, run_id, 1)
    figures = []
    for _ in range(2):
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        app.query_params["run"] = run_id
        app = app.run().switch_page("pages/1_Train.py").run()
        figures.append(plotly_figure(app, f"train_curves_{run_id}"))
    live = live_runs(job_manager().store).get(run_id)
    curves = [key for key in live._values if key[1][0] == "curves"]
    assert len(curves) == 1  # built by the first session, handed to the second
    assert figures[0] == figures[1] and len(figures[0]["data"]) >= 3
    store.finish_run(run_id, "stopped")
    store.close()

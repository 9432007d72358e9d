"""Lessons: each is valid data, its runs differ only in the tricks it names, its figures are
computed as stated, and reduced forms of a few show the claimed direction on real runs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.analysis.history import RunHistory
from cnnlab.config import ExperimentConfig
from cnnlab.lessons import (
    LESSONS,
    METRICS,
    Lesson,
    LessonRun,
    Measure,
    Outcome,
    differing_fields,
    get_lesson,
    is_varied,
    lesson_figures,
    measure,
    start_lesson,
    start_waiting,
    waiting_for,
)
from cnnlab.lessons.metrics import accuracy_gap, gradient_ratio_log10, seconds_axis

# Real data beside the project (as tests/test_data_keras.py finds it).
SHARED_KERAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "keras"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_each_lessons_runs_validate_share_seed_and_data_and_differ_only_in_its_tricks(lesson):
    # A run that starts from another's weights gets that run's id once it has completed.
    configs = [lesson.config(run.label, start_from_run=run.starts_from and "source-run-id")
               for run in lesson.compared]
    for config in configs:
        config.check_feasible()
        assert ExperimentConfig.from_json(config.to_json()) == config
    differing = differing_fields(configs)
    assert differing, "the runs of a lesson must differ"
    assert all(is_varied(path, lesson.varies) for path in differing), differing
    for shared in ("seed", "dataset", "image_size", "train_size", "validation_fraction"):
        assert shared not in differing
    assert lesson.measure.metric in METRICS
    assert lesson.measured and lesson.scale and lesson.look_for and lesson.question.endswith("?")
    assert get_lesson(lesson.name) is lesson


def test_the_catalog_has_the_issues_lessons_with_unique_names():
    names = [lesson.name for lesson in LESSONS]
    assert len(set(names)) == len(names) >= 9
    with pytest.raises(ValueError, match="Unknown lesson. Expected one of"):
        get_lesson("no_such_lesson")


def test_a_run_that_starts_from_another_needs_that_runs_id():
    lesson = Lesson(name="t", title="T", claim="c", question="q?", base={"epochs": 1},
                    runs=(LessonRun("source"), LessonRun("from source", {}, starts_from="source")),
                    varies=("transfer.",), chart="curves", look_for="l",
                    measure=Measure("final_loss", "from source", "source"), scale="s", measured="m")
    with pytest.raises(ValueError, match="Expected that run's id"):
        lesson.config("from source")
    assert lesson.config("from source", start_from_run="abc").transfer.start_from_run == "abc"
    assert waiting_for(lesson, {"source": "nope"}, _NoRuns()) == {
        "from source": "starts when 'source' has completed"}


class _NoRuns:
    def get_run(self, run_id):
        return None


@pytest.mark.parametrize("better, worse, lower, effect, sd, holds", [
    ((1.0, 1.1, 0.9), (2.0, 2.1, 1.9), True, 1.0, 0.1, True),     # far apart: holds
    ((1.0, 1.5, 0.5), (2.0, 2.1, 1.9), True, 1.0, 0.5, False),    # the better side too noisy
    ((0.9,), (0.5,), False, 0.4, 0.0, True),                      # higher is better, one seed
    ((0.5,), (0.9,), False, -0.4, 0.0, False),                    # the wrong way round
    ((math.nan,), (1.0,), True, math.nan, 0.0, False),            # a figure missing
])
def test_an_outcome_holds_when_the_effect_exceeds_twice_the_larger_sd(better, worse, lower, effect,
                                                                       sd, holds):
    outcome = Outcome(better, worse, lower)
    assert outcome.effect == pytest.approx(effect, nan_ok=True)
    assert outcome.sd == pytest.approx(sd)
    assert outcome.holds is holds


def _epochs(rows: dict) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.Index(range(len(next(iter(rows.values())))), name="epoch"))


def test_the_figures_read_the_last_epoch_the_gap_and_the_gradient_ratio():
    epochs = _epochs({"loss": [2.3, 1.0, 0.5, float("nan")], "accuracy": [0.1, 0.6, 0.9, 0.95],
                      "val_accuracy": [0.1, 0.5, 0.7, 0.75], "epoch_time_s": [None, 2.0, 3.0, 4.0]})
    assert METRICS["final_loss"].compute(epochs, None) != METRICS["final_loss"].compute(epochs, None)
    assert METRICS["final_accuracy"].compute(epochs, None) == 0.95
    assert accuracy_gap(epochs) == pytest.approx(((0.9 - 0.7) + (0.95 - 0.75)) / 2)
    assert list(seconds_axis(epochs)) == [0.0, 2.0, 5.0, 9.0]
    steps = pd.MultiIndex.from_tuples([(1, step) for step in range(1, 13)], names=["epoch", "step"])
    grads = pd.DataFrame({"conv1": [1e-4] * 11 + [1.0], "fc1": 0.01, "predictions": [1.0] * 12},
                         index=steps)
    # The median of the last ten recorded steps: nine at 1e-4 and one at 1.
    assert gradient_ratio_log10(None, grads) == pytest.approx(-4.0)
    with pytest.raises(ValueError, match="Unknown lesson metric"):
        measure("no_such_metric", RunHistory("x"))


# -- real runs: the lesson started through the job manager, at a reduced scale ---------------

REDUCED = {"train_size": 160, "epochs": 2}


def _run(manager, lesson, extra, timeout=240.0) -> tuple[dict, dict]:
    started = start_lesson(manager, lesson, session="class", extra=extra)
    records = {label: manager.wait(run_id, timeout=timeout) for label, run_id in started.items()}
    assert start_waiting(manager, lesson, started, extra=extra) == {}
    return started, records


def test_starting_a_lesson_queues_its_runs_as_the_sessions_and_the_too_large_rate_diverges(manager):
    lesson = get_lesson("learning_rate")
    started, records = _run(manager, lesson, {**REDUCED, "epochs": 1})
    assert list(started) == [run.label for run in lesson.runs]
    assert {record.session for record in records.values()} == {"class"}
    assert records["too large (20)"].status == "diverged"
    assert records["about right (0.05)"].status == "completed"
    figures = lesson_figures(lesson, started, manager.store)
    assert math.isnan(figures["too large (20)"])  # a diverged loss is no figure to compare


def test_reduced_vanishing_gradients_sigmoid_with_normal_weights_gets_less_gradient(manager):
    lesson = get_lesson("vanishing_gradients")
    started, records = _run(manager, lesson, {**REDUCED, "image_size": 8})
    figures = lesson_figures(lesson, started, manager.store)
    assert figures["ReLU, He"] > figures["sigmoid, N(0, 1)"] + 0.5, figures
    assert figures["sigmoid, Glorot"] < figures["sigmoid, N(0, 1)"], figures
    # Batch norm after every layer (dense ones too) brings the sigmoid network's gradient back.
    assert figures["sigmoid, N(0, 1), batch norm"] > figures["sigmoid, N(0, 1)"] + 0.5, figures


def test_reduced_optimizers_adam_ends_below_plain_sgd(manager):
    lesson = get_lesson("optimizers")
    small = Lesson(**{**lesson.__dict__, "runs": tuple(
        run for run in lesson.runs if run.label in (lesson.measure.better, lesson.measure.worse))})
    started, _ = _run(manager, small, {"epochs": 3})
    figures = lesson_figures(small, started, manager.store)
    assert figures["Adam (0.001)"] < figures["SGD (0.01)"] - 0.1, figures


def test_a_lesson_needing_a_downloadable_data_set_is_offered_only_where_it_is_cached(tmp_path, monkeypatch):
    from cnnlab.lessons import missing_data
    from tests.keras_home import offline_keras_home

    offline_keras_home(tmp_path / "empty", monkeypatch)
    assert "Fashion-MNIST" in missing_data(get_lesson("transfer"))
    assert missing_data(get_lesson("learning_rate")) is None
    if not (SHARED_KERAS / "datasets" / "fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST is not in shared/data/keras")
    offline_keras_home(tmp_path / "cached", monkeypatch, copy_from=SHARED_KERAS)
    assert missing_data(get_lesson("transfer")) is None


def test_a_run_starting_from_another_is_started_once_that_run_has_completed(manager):
    # The transfer lesson's shape at a tiny scale, on digits only (no download).
    lesson = Lesson(name="staged", title="Staged", claim="c", question="q?",
                    base={"image_size": 8, "train_size": 64, "epochs": 1},
                    runs=(LessonRun("source", {"train_size": 96}, source=True),
                          LessonRun("scratch"),
                          LessonRun("from source", {"transfer.mode": "feature_extraction"},
                                    starts_from="source")),
                    varies=("transfer.",), chart="curves", look_for="l",
                    measure=Measure("final_val_accuracy", "from source", "scratch"), scale="s",
                    measured="m")
    started = start_lesson(manager, lesson, session="class")
    assert list(started) == ["source", "scratch"]
    assert waiting_for(lesson, started, manager.store) == {
        "from source": "starts when 'source' has completed"}
    assert manager.wait(started["source"], timeout=240).status == "completed"
    more = start_waiting(manager, lesson, started, session="class")
    assert list(more) == ["from source"]
    record = manager.wait(more["from source"], timeout=240)
    assert record.status == "completed", record.error
    assert record.config["transfer"]["start_from_run"] == started["source"]
    started.update(more)
    assert set(lesson_figures(lesson, started, manager.store)) == {"scratch", "from source"}

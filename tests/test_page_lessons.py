"""The Lessons page, run headless with AppTest.

Starting a lesson goes through the real job manager (its runs are checked in the store,
then stopped); the live view is checked on runs written to the store row by row as
training writes them, so no test here waits for training.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.analysis.history import RunHistory
from cnnlab.lessons import get_lesson, measure
from tests.apptest import ROOT, fresh_resources, plain, plotly_figure  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fresh_resources")
ME = "Ada"


def _page(lesson: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["session_name"] = ME
    app.run()
    app.switch_page("pages/5_Lessons.py").run()
    assert not app.exception, app.exception
    if lesson:
        app.selectbox(key="lessons_choice").set_value(lesson).run()
        assert not app.exception, app.exception
    return app


def _stored(store, lesson, label: str, gradient_decades: float, losses) -> str:
    """A completed run of `lesson`'s run `label`, written as training writes it: epoch
    rows, and per-layer gradient norms that fall `gradient_decades` decades from the last
    layer to the first."""
    config = lesson.config(label)
    run_id = store.create_run(config.to_dict(), lesson.run_name(label), ME)
    layers = ("block1_conv1", "fc1", "predictions")
    rows = [(0, 0, "loss", 2.3), (0, 0, "accuracy", 0.1), (0, 0, "val_loss", 2.3),
            (0, 0, "val_accuracy", 0.1)]
    for epoch, loss in enumerate(losses, start=1):
        for step in range(1, 6):
            rows += [(epoch, step, f"grad_norm/{layer}", 10.0 ** (-gradient_decades * (1 - depth / 2)))
                     for depth, layer in enumerate(layers)]
        rows += [(epoch, 5, "loss", loss), (epoch, 5, "accuracy", 1 - loss / 3),
                 (epoch, 5, "val_loss", loss + 0.1), (epoch, 5, "val_accuracy", 0.9 - loss / 3),
                 (epoch, 5, "epoch_time_s", 1.5)]
    store.add_metrics(run_id, rows)
    store.mark_running(run_id, device="cpu")
    store.finish_run(run_id, "completed")
    return run_id


def test_every_lesson_shows_its_claim_question_and_scale():
    from cnnlab.lessons import LESSONS

    app = _page()
    assert app.selectbox(key="lessons_choice").options[0].startswith("1. Learning rate")
    for lesson in LESSONS:
        app.selectbox(key="lessons_choice").set_value(lesson.name).run()
        assert not app.exception, app.exception
        text = " ".join(markdown.value for markdown in app.markdown)
        assert lesson.claim in text and lesson.question in text
        assert any(lesson.scale in caption.value for caption in app.caption)
        start = next(button for button in app.button if button.key == "lessons_start")
        assert start.label == f"Start the {len(lesson.runs)} runs"
    assert app.query_params["lesson"] == LESSONS[-1].name


def test_start_queues_every_run_of_the_lesson_owned_by_the_session(store, manager, monkeypatch):
    # The page's runs go to a job manager on the test's store that trains in threads, so
    # they can be stopped within a batch (a worker process would first load TensorFlow).
    monkeypatch.setattr("ui.lesson_view.job_manager", lambda: manager)
    lesson = get_lesson("batch_norm_learning_rate")
    app = _page(lesson.name)
    next(button for button in app.button if button.key == "lessons_start").click().run()
    assert not app.exception, app.exception
    started = app.session_state["lessons_started"][lesson.name]
    assert list(started) == [run.label for run in lesson.runs]
    for label, run_id in started.items():
        record = store.get_run(run_id)
        assert record.session == ME and record.name == lesson.run_name(label)
        assert record.config == lesson.config(label).to_dict()
    # While they run, the button waits and the live view shows each run.
    assert next(button for button in app.button if button.key == "lessons_start").disabled
    assert any(lesson.look_for in info.value for info in app.info)
    for run_id in started.values():
        manager.stop(run_id)


def test_the_gradient_lesson_draws_a_heatmap_per_run_and_the_figure_per_run(store):
    lesson = get_lesson("vanishing_gradients")
    decades = {run.label: 3.0 - index for index, run in enumerate(lesson.runs)}
    started = {label: _stored(store, lesson, label, decade, [2.0, 1.5, 1.0])
               for label, decade in decades.items()}
    app = _page()
    app.session_state["lessons_started"] = {lesson.name: started}
    app.selectbox(key="lessons_choice").set_value(lesson.name).run()
    assert not app.exception, app.exception
    for label, run_id in started.items():
        heatmap = plotly_figure(app, f"lessons_heatmap_{run_id}")
        assert heatmap["data"][0]["y"] == ["block1_conv1", "fc1", "predictions"]
        # One colour scale for all: from the darkest run's first layer (1e-3) to 1.
        assert (heatmap["data"][0]["zmin"], heatmap["data"][0]["zmax"]) == (-3, 0)
    bars = plotly_figure(app, "lessons_figure")["data"][0]
    assert bars["y"] == list(started)
    history = {label: RunHistory(run_id) for label, run_id in started.items()}
    expected = []
    for label, run_history in history.items():
        run_history.update(store)
        expected.append(measure(lesson.measure.metric, run_history))
    assert bars["x"] == pytest.approx(expected)
    assert expected[0] == pytest.approx(-3.0)  # the first layer three decades below the last
    assert next(button for button in app.button if button.key == "lessons_start").label == "Start them again"


def test_the_time_lesson_draws_loss_against_epochs_and_seconds(store):
    lesson = get_lesson("gradient_descent")
    started = {run.label: _stored(store, lesson, run.label, 0.0, [2.0 - index, 1.5 - index / 2])
               for index, run in enumerate(lesson.runs)}
    app = _page()
    app.session_state["lessons_started"] = {lesson.name: started}
    app.selectbox(key="lessons_choice").set_value(lesson.name).run()
    assert not app.exception, app.exception
    figure = plotly_figure(app, "lessons_time")
    by_seconds = [trace for trace in figure["data"] if trace["xaxis"] == "x2"]
    assert [trace["name"] for trace in by_seconds] == list(started)
    assert by_seconds[0]["x"] == pytest.approx([0.0, 1.5, 3.0])  # the epochs' times, summed


def test_open_on_compare_selects_the_lessons_runs(store):
    lesson = get_lesson("batch_norm_learning_rate")
    started = {run.label: _stored(store, lesson, run.label, 0.0, [1.0]) for run in lesson.runs}
    app = _page()
    app.session_state["lessons_started"] = {lesson.name: started}
    app.selectbox(key="lessons_choice").set_value(lesson.name).run()
    next(button for button in app.button if button.key == "lessons_compare").click().run()
    assert not app.exception, app.exception
    assert app.session_state["compare_selected"] == list(started.values())
    assert app.title[0].value == "Compare"


def test_open_in_train_loads_the_runs_config_into_the_form(store):
    lesson = get_lesson("batch_norm_learning_rate")
    started = {run.label: _stored(store, lesson, run.label, 0.0, [1.0]) for run in lesson.runs}
    app = _page()
    app.session_state["lessons_started"] = {lesson.name: started}
    app.selectbox(key="lessons_choice").set_value(lesson.name).run()
    app.selectbox(key="lessons_train_run").set_value("with batch norm").run()
    next(button for button in app.button if button.key == "lessons_train").click().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Train"
    assert app.session_state["train_draft"] == lesson.config("with batch norm")
    assert app.session_state["train_tricks_batch_norm"] is True


def test_a_lesson_whose_data_is_not_cached_says_so_and_cannot_start(tmp_path, monkeypatch):
    from tests.keras_home import offline_keras_home

    offline_keras_home(tmp_path, monkeypatch)  # an empty cache: Fashion-MNIST is not there
    app = _page("transfer")
    warnings = [plain(warning.value) for warning in app.warning]
    assert any("Fashion-MNIST, which is not in Keras' cache" in text for text in warnings)
    assert get_lesson("transfer").caveat in [warning.value for warning in app.warning]  # the page says plainly it is not shown to hold
    assert next(button for button in app.button if button.key == "lessons_start").disabled


@pytest.mark.parametrize("name, chart", [("overfitting", "lessons_gap_"), ("schedules", "lessons_curves")])
def test_the_gap_and_curve_lessons_draw_their_chart_first(store, name, chart):
    lesson = get_lesson(name)
    started = {run.label: _stored(store, lesson, run.label, 0.0, [1.5, 1.0, 0.5])
               for run in lesson.runs}
    app = _page()
    app.session_state["lessons_started"] = {lesson.name: started}
    app.selectbox(key="lessons_choice").set_value(lesson.name).run()
    assert not app.exception, app.exception
    keys = [element.proto.id for element in app.get("plotly_chart")]
    first = next(index for index, key in enumerate(keys) if chart in key)
    assert first < next(index for index, key in enumerate(keys) if key.endswith("-lessons_figure"))
    if chart == "lessons_gap_":
        assert sum(chart in key for key in keys) == len(lesson.runs)  # one per run
        gap = plotly_figure(app, f"lessons_gap_{started['no regularization']}")
        assert gap["layout"]["title"]["text"].startswith("Generalization gap")
    else:
        curves = plotly_figure(app, "lessons_curves")
        assert {trace["name"] for trace in curves["data"]} >= set(started)

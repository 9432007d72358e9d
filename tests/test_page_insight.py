"""The Train page's insight views, run headless with AppTest on runs that really trained.

Two tiny runs are trained once for the module through the job manager: a healthy small
ConvNet (ReLU, so dead-unit figures exist) and a deep sigmoid network with Glorot weights,
whose first layers' gradients vanish. Every figure is checked against the stored data it
was drawn from.
"""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnlab.analysis.history import RunHistory
from cnnlab.analysis.insight import confusion, load_predictions, top_k_accuracy
from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.training.figures import VAL_PROBS, encode_array
from tests.apptest import ROOT, plotly_figure

TINY = {"dataset": "digits", "image_size": 16, "train_size": 200, "epochs": 2, "batch_size": 32}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"healthy": run id, "sigmoid": run id}, trained in a store of this module's own."""
    from cnnlab.training import JobManager

    home = tmp_path_factory.mktemp("insight") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_HOME", str(home))
        st.cache_resource.clear()  # the app's job manager must use this store
        store = RunStore(home)
        manager = JobManager(store, max_concurrent=2)
        try:
            ids = {
                "healthy": manager.submit(ExperimentConfig.from_dict(TINY)),
                "sigmoid": manager.submit(ExperimentConfig.from_dict(
                    {**TINY, "architecture": "deep_plain", "tricks": {"activation": "sigmoid"}})),
            }
            for run_id in ids.values():
                record = manager.wait(run_id, timeout=180)
                assert record.status == "completed", record.error
        finally:
            manager.shutdown(timeout=60)
        yield ids
        from ui.resources import job_manager

        job_manager().shutdown(timeout=60)
        st.cache_resource.clear()
        store.close()


@pytest.fixture(scope="module")
def store(runs):
    return RunStore()


def _open(run_id: str, tab: str | None = None) -> AppTest:
    """The Train page showing `run_id` (as its URL ?run=... does), on `tab` if given."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page("pages/1_Train.py")
    app.query_params["run"] = run_id
    if tab:
        app.session_state[f"train_insight_tab_{run_id}"] = tab
    app.run()
    assert not app.exception, app.exception
    return app


def _counts(cells: dict) -> list[list[int]]:
    """The counts written in a confusion heatmap's cells (blank for 0)."""
    return [[int(text or 0) for text in row] for row in cells["text"]]


def _has_chart(app: AppTest, key: str) -> bool:
    return any(chart.proto.id.endswith(f"-{key}") for chart in app.get("plotly_chart"))


def _history(store, run_id) -> RunHistory:
    history = RunHistory(run_id)
    history.update(store)
    return history


def test_the_curves_tab_shows_the_curves_the_gap_and_the_learning_rate(runs, store):
    run_id = runs["healthy"]
    app = _open(run_id)
    labels = [tab.label for tab in app.tabs]
    assert labels[-3:] == ["Curves", "Gradients", "Confusion"]
    assert _has_chart(app, f"train_curves_{run_id}")  # the key benchmarks and browser tests find
    assert any(metric.label == "Test accuracy" for metric in app.metric)
    assert not any("Vanishing" in error.value for error in app.error)

    history = _history(store, run_id)
    gap = plotly_figure(app, f"train_gap_{run_id}")
    _, validation, best = gap["data"]
    assert validation["fill"] == "tonexty"  # the band between the curves
    assert validation["y"] == pytest.approx(list(history.epochs["val_loss"]))
    assert best["x"] == [int(history.epochs["val_loss"].idxmin())]
    rate = plotly_figure(app, f"train_learning_rate_{run_id}")
    assert len(rate["data"][0]["y"]) == len(history.batches)
    assert rate["data"][0]["y"] == pytest.approx([1e-3] * len(history.batches))

    app.radio(key=f"train_gap_metric_{run_id}").set_value("accuracy").run()
    gap = plotly_figure(app, f"train_gap_{run_id}")
    assert gap["layout"]["yaxis"]["title"]["text"] == "accuracy"
    assert gap["data"][1]["y"] == pytest.approx(list(history.epochs["val_accuracy"]))


def test_the_gradients_tab_shows_the_heatmap_the_bars_the_ratio_and_dead_relus(runs, store):
    run_id = runs["healthy"]
    app = _open(run_id, tab="Gradients")
    assert not _has_chart(app, f"train_curves_{run_id}"), "only the open tab is drawn"
    grads = _history(store, run_id).layer_table("grad_norm")
    heatmap = plotly_figure(app, f"train_layer_heatmap_{run_id}")
    cells = heatmap["data"][0]
    assert cells["type"] == "heatmap"
    assert cells["y"] == list(grads.columns)  # input to output, drawn top to bottom
    assert heatmap["layout"]["yaxis"]["autorange"] == "reversed"
    assert np.asarray(cells["z"], dtype=float) == pytest.approx(np.log10(grads.to_numpy().T), rel=1e-6)
    assert all(text.startswith("10") for text in cells["colorbar"]["ticktext"])
    bars = plotly_figure(app, f"train_layer_bars_{run_id}")
    assert bars["data"][0]["x"] == pytest.approx(list(grads.iloc[-1]))
    assert bars["layout"]["xaxis"]["type"] == "log"
    ratio = plotly_figure(app, f"train_gradient_ratio_{run_id}")
    assert ratio["data"][0]["y"] == pytest.approx(list(grads.iloc[:, 0] / grads.iloc[:, -1]))
    dead = plotly_figure(app, f"train_dead_relu_{run_id}")
    assert dead["data"][0]["type"] == "bar" and dead["data"][0]["y"]

    # Another per-layer figure; the choice survives a visit to another tab.
    app.radio(key=f"train_layer_kind_{run_id}").set_value("Update / weight").run()
    ratios = _history(store, run_id).layer_table("update_ratio")
    heatmap = plotly_figure(app, f"train_layer_heatmap_{run_id}")
    assert heatmap["layout"]["title"]["text"] == "Update-to-weight ratio per layer"
    assert np.asarray(heatmap["data"][0]["z"], dtype=float) == pytest.approx(
        np.log10(ratios.to_numpy().T), rel=1e-6)
    app.session_state[f"train_insight_tab_{run_id}"] = "Confusion"
    app.run()
    assert not _has_chart(app, f"train_layer_heatmap_{run_id}")
    app.session_state[f"train_insight_tab_{run_id}"] = "Gradients"
    app.run()
    assert app.radio(key=f"train_layer_kind_{run_id}").value == "Update / weight"


def test_the_confusion_tab_shows_the_matrix_the_class_report_and_top_k(runs, store):
    run_id = runs["healthy"]
    app = _open(run_id, tab="Confusion")
    labels, probabilities = load_predictions(store, run_id, 2)
    matrix = confusion(labels, probabilities, 10)
    figure = plotly_figure(app, f"train_confusion_{run_id}")
    cells = figure["data"][0]
    assert cells["y"] == cells["x"] == [str(digit) for digit in range(10)]
    assert _counts(cells) == matrix.tolist()  # row = true, column = predicted
    assert figure["layout"]["title"]["text"] == "Validation set after epoch 2"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Top-1 accuracy"] == f"{top_k_accuracy(labels, probabilities, 1):.1%}"
    assert metrics["Top-5 accuracy"] == f"{top_k_accuracy(labels, probabilities, 5):.1%}"
    assert metrics["Validation images"] == f"{len(labels):,}"
    report = next(frame.value for frame in app.dataframe if "recall" in frame.value.columns)
    assert list(report.index) == [str(digit) for digit in range(10)]
    assert list(report["support"]) == np.bincount(labels, minlength=10).tolist()
    assert list(report["recall"]) == pytest.approx(np.diag(matrix) / matrix.sum(axis=1))


def test_choosing_a_cell_shows_its_misclassified_images_most_confident_first(runs, store):
    run_id = runs["healthy"]
    app = _open(run_id, tab="Confusion")
    labels, probabilities = load_predictions(store, run_id, 2)
    matrix = confusion(labels, probabilities, 10)
    off_diagonal = matrix - np.diag(np.diag(matrix))
    # The cell with the most mistakes is chosen at first.
    worst = np.unravel_index(int(off_diagonal.argmax()), matrix.shape)
    true_box = app.selectbox(key=f"train_confusion_true_{run_id}")
    predicted_box = app.selectbox(key=f"train_confusion_predicted_{run_id}")
    assert (true_box.value, predicted_box.value) == tuple(int(i) for i in worst)

    # Another cell with mistakes: its images, at most ten, most confident first.
    cells = sorted(zip(*np.nonzero(off_diagonal)), key=lambda cell: off_diagonal[cell])
    true_class, predicted_class = (int(i) for i in cells[0])
    true_box.set_value(true_class)
    predicted_box.set_value(predicted_class).run()
    assert not app.exception
    count = int(matrix[true_class, predicted_class])
    images = app.get("image")
    assert len(images) == min(count, 10)
    chosen = (labels == true_class) & (probabilities.argmax(axis=1) == predicted_class)
    confidence = np.sort(probabilities[chosen, predicted_class])[::-1]
    first_caption = images[0].proto.imgs[0].caption
    assert first_caption.startswith(f"{confidence[0]:.0%} · ")
    images = "image" if count == 1 else "images"
    assert any(f"**{count}** {images} of **{true_class}** predicted as **{predicted_class}**" in text.value
               and f"P({predicted_class}) · P({true_class})" in text.value for text in app.markdown)
    outline = plotly_figure(app, f"train_confusion_{run_id}")["layout"]["shapes"][0]
    assert (outline["x0"] + 0.5, outline["y0"] + 0.5) == (predicted_class, true_class)


def test_the_matrix_follows_the_newest_epoch_or_shows_the_one_picked(runs, store):
    run_id = runs["healthy"]
    app = _open(run_id, tab="Confusion")
    follow = app.toggle(key=f"train_confusion_follow_{run_id}")
    assert follow.value is True
    assert not app.select_slider  # following: no slider, the newest epoch
    assert plotly_figure(app, f"train_confusion_{run_id}")["layout"]["title"]["text"].endswith("epoch 2")

    follow.set_value(False).run()
    slider = app.select_slider(key=f"train_confusion_epoch_{run_id}")
    assert list(slider.options) == ["1", "2"] and slider.value == 2  # starts at the newest
    slider.set_value(1).run()
    labels, earlier = load_predictions(store, run_id, 1)
    cells = plotly_figure(app, f"train_confusion_{run_id}")["data"][0]
    assert _counts(cells) == confusion(labels, earlier, 10).tolist()

    # A run still training writes epoch after epoch: a picked epoch stays picked, and
    # following again jumps to the newest.
    _, last = load_predictions(store, run_id, 2)
    written = []
    try:
        for epoch in (3, 4):
            store.write_artifact(run_id, VAL_PROBS % epoch, encode_array(last.astype("float16")))
            written.append(epoch)
            app.run()
            slider = app.select_slider(key=f"train_confusion_epoch_{run_id}")
            assert slider.value == 1 and list(slider.options)[-1] == str(epoch)
        app.toggle(key=f"train_confusion_follow_{run_id}").set_value(True).run()
        title = plotly_figure(app, f"train_confusion_{run_id}")["layout"]["title"]["text"]
        assert title == "Validation set after epoch 4"
    finally:
        for epoch in written:
            (store.run_dir(run_id) / (VAL_PROBS % epoch)).unlink()


def test_a_deep_sigmoid_network_raises_the_vanishing_gradients_alert_above_the_tabs(runs):
    run_id = runs["sigmoid"]
    app = _open(run_id)
    alerts = [error for error in app.error if "Vanishing gradients" in error.value]
    assert len(alerts) == 1
    assert "What to do:" in alerts[0].value and "ReLU" in alerts[0].value
    nodes = list(app.main)  # depth first, in page order
    curves = next(i for i, node in enumerate(nodes) if getattr(node, "label", None) == "Curves")
    assert nodes.index(alerts[0]) < curves, "the alert comes before the tabs"
    # The healthy run, for contrast, raises no alert about its gradients.
    healthy = _open(runs["healthy"])
    assert not [error for error in healthy.error if "gradient" in error.value.lower()]

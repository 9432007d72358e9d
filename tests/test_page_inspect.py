"""The Inspect page, run headless with AppTest on a run that really trained."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnlab.config import ExperimentConfig
from cnnlab.inspect import load_inspected_run, predict_top_k
from cnnlab.inspect.views import wrong_predictions
from cnnlab.store import RunStore
from tests.apptest import ROOT, plotly_figure

TINY = {"dataset": "digits", "image_size": 16, "train_size": 128, "epochs": 2, "batch_size": 32}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The id of a completed small-convnet run, in a store of this module's own."""
    from cnnlab.training import JobManager

    home = tmp_path_factory.mktemp("inspect") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_HOME", str(home))
        st.cache_resource.clear()
        store = RunStore(home)
        manager = JobManager(store, max_concurrent=1)
        try:
            run_id = manager.submit(ExperimentConfig.from_dict(TINY))
            record = manager.wait(run_id, timeout=180)
            assert record.status == "completed", record.error
        finally:
            manager.shutdown(timeout=60)
        yield store, run_id
        from ui.resources import job_manager

        job_manager().shutdown(timeout=60)
        st.cache_resource.clear()
        store.close()


def _open(run_id: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page("pages/7_Inspect.py")
    app.query_params["run"] = run_id
    app.run()
    assert not app.exception, app.exception
    return app


def test_the_page_shows_top5_maps_grad_cam_top_losses_and_distributions(run):
    store, run_id = run
    app = _open(run_id)
    assert app.selectbox(key="inspect_run").value == run_id
    inspected = load_inspected_run(store, run_id)
    image, label = inspected.data.x_val[0], int(inspected.data.y_val[0])

    bars = plotly_figure(app, "inspect_top5")["data"][0]
    top = predict_top_k(inspected.model, image)
    assert bars["x"] == pytest.approx([p for _, p in top], rel=1e-5)
    names = [str(index) for index, _ in top]
    assert [name.removesuffix(" (true)") for name in bars["y"]] == names
    assert (f"{label} (true)" in bars["y"]) == (label in dict(top))

    grid = plotly_figure(app, "inspect_maps")
    assert grid["layout"]["title"]["text"].startswith("block1_conv1: 32 channels of 16x16")
    app.selectbox(key="inspect_map_layer").set_value("block2_pool").run()
    grid = plotly_figure(app, "inspect_maps")
    assert grid["layout"]["title"]["text"].startswith("block2_pool: 64 channels of 4x4")

    cam = plotly_figure(app, "inspect_cam")
    # The last block with a map of at least 8 px: at 16 px, block 2's (block 4's is 2x2).
    assert cam["layout"]["title"]["text"].endswith("at block2_act1")
    assert cam["data"][1]["opacity"] == 0.5
    app.slider(key="inspect_cam_opacity").set_value(0.8).run()
    assert plotly_figure(app, "inspect_cam")["data"][1]["opacity"] == 0.8
    assert np.asarray(plotly_figure(app, "inspect_saliency")["data"][1]["z"]).shape == (16, 16)

    worst = app.button(key=next(b.key for b in app.button if b.key.startswith("inspect_open_")))
    index = int(worst.key.rsplit("_", 1)[1])
    worst.click().run()
    assert app.number_input(key="inspect_val_index").value == index
    bars = plotly_figure(app, "inspect_top5")["data"][0]
    true = int(inspected.data.y_val[index])
    assert bars["x"] == pytest.approx(
        [p for _, p in predict_top_k(inspected.model, inspected.data.x_val[index])], rel=1e-5)
    assert f"{true} (true)" in bars["y"] or "not among them" in \
        plotly_figure(app, "inspect_top5")["layout"]["title"]["text"]

    app.radio(key="inspect_image_source").set_value("One it got wrong").run()
    wrong = wrong_predictions(inspected.model, inspected.data.x_val, inspected.data.y_val)
    assert app.selectbox(key="inspect_wrong_index").options == [str(index) for index in wrong]

    bands = plotly_figure(app, "inspect_bands")
    assert bands["data"][-1]["x"] == [0, 1, 2]  # epoch 0 (the start) and both epochs


def test_a_planted_model_file_is_refused_on_the_page(run):
    store, run_id = run
    path = store.run_dir(run_id) / "model.keras"
    original = path.read_bytes()
    st.cache_resource.clear()
    try:
        path.write_bytes(original[:-10] + b"0123456789")
        app = _open(run_id)
        assert any("not the one its training saved" in error.value for error in app.error)
        assert not app.get("plotly_chart")
    finally:
        path.write_bytes(original)
        st.cache_resource.clear()

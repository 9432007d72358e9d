"""Transfer learning: ImageNet weights through Keras' own loading path, frozen and
fine-tuned layers, runs that start from other runs, and two-phase training.

No test touches the network. ImageNet weights cannot be downloaded here, so the test
writes a weights file itself, under Keras' exact cache name, and lets Keras load it: what
arrives in the model is what the file holds. Keras reads `$KERAS_HOME` once, when it is
imported, so the fixtures also patch `keras.src.backend.config._KERAS_DIR`, as
tests/test_data_keras.py does.

The proof that transfer helps uses real data: a small convnet trained on 3,000
Fashion-MNIST images starts a run on 60 handwritten digits. Figures seen on CPU (test
accuracy on the 359 test digits, 6 epochs, scratch -> transfer): seed 0: 0.696 -> 0.811,
seed 1: 0.724 -> 0.827; seeds 2-4 (not run here): 0.719 -> 0.813, 0.727 -> 0.766,
0.694 -> 0.741. Transfer won for every seed tried, by 3.9 to 11.5 points.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from cnnlab.config import ExperimentConfig, TransferConfig
from cnnlab.data import keras_datasets, load_dataset
from cnnlab.data.cache import DATA_CACHE
from cnnlab.models import architecture_names, get_architecture
from cnnlab.models.backbones import APPLICATION_MIN_SIZES, BACKBONES
from cnnlab.models.pretrained import (
    SPECS,
    WeightsUnavailableError,
    build_transfer_model,
    fine_tunable_layers,
    set_trainable,
    trainable_layer_names,
    weights_file,
    weights_folder,
)
from cnnlab.schedules import ShiftedSchedule
from cnnlab.store import RunStore
from cnnlab.training import JobManager
from cnnlab.training.train_step import LabModel
from cnnlab.training.transfer import (
    PHASE_METRIC,
    build_run_model,
    check_transfer,
    load_run_model,
    new_head,
    plan_phases,
    trainable_by_phase,
)
from tests.apptest import fresh_resources, plain  # noqa: F401  (fixture)
from tests.keras_home import NO_NETWORK, offline_keras_home, write_mobilenet_v2_weights

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# Parameters of each backbone without its top (include_top=False), as published with
# keras.applications and in the papers' reference implementations.
BASE_PARAMETERS = {
    "pretrained_mobilenet_v2": 2_257_984,
    "pretrained_resnet50": 23_587_712,
    "pretrained_vgg16": 14_714_688,
    "pretrained_efficientnet_b0": 4_049_571,
    "pretrained_densenet121": 7_037_504,
    "pretrained_xception": 20_861_480,
    "pretrained_inception_v3": 21_802_784,
}


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home with downloads failing at once; yields (home, downloads)."""
    return offline_keras_home(tmp_path, monkeypatch)


def _run(manager, config, timeout=300):
    run_id = manager.submit(config)
    record = manager.wait(run_id, timeout=timeout)
    assert record.status == "completed", record.error
    return run_id, record


# -- the registry ------------------------------------------------------------------------


def test_backbones_are_registered_with_their_own_minimum_sizes():
    names = architecture_names()
    expected = {"pretrained_mobilenet_v2": 32, "pretrained_resnet50": 32, "pretrained_vgg16": 32,
                "pretrained_efficientnet_b0": 32, "pretrained_densenet121": 32,
                "pretrained_xception": 71, "pretrained_inception_v3": 75}
    assert {info.name for info in BACKBONES} == set(expected) == set(SPECS)
    for name, size in expected.items():
        assert name in names
        info = get_architecture(name)
        # The application's own minimum; the lab takes images from 8 px and resizes them.
        assert APPLICATION_MIN_SIZES[name] == size and info.min_input_size == 8
        assert info.builder.endswith(f":build_{name}")
    # Keras refuses a smaller input itself: the recorded minimum is the application's.
    with pytest.raises(ValueError, match="Input size must be at least 71"):
        keras.applications.Xception(include_top=False, weights=None, input_shape=(70, 70, 3))


# -- ImageNet weights through Keras' own loading path ------------------------------------


def _layers_with_weights(model):
    return [layer for layer in model.layers if layer.weights]


def test_imagenet_weights_load_through_keras_and_feature_extraction_freezes_the_base(keras_home):
    home, downloads = keras_home
    reference = write_mobilenet_v2_weights(home, 96)
    model = build_transfer_model("pretrained_mobilenet_v2", (96, 96, 1), 3, weights="imagenet")
    assert weights_file("pretrained_mobilenet_v2", (96, 96, 1)) == \
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    base = model.get_layer("base")
    for layer in _layers_with_weights(reference):
        for loaded, written in zip(base.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(loaded, written)
    assert downloads == []

    set_trainable(model, "feature_extraction")
    assert trainable_layer_names(model) == ["predictions"]
    assert not base.trainable_weights and len(model.trainable_weights) == 2


def test_fine_tuning_trains_exactly_the_top_layers_and_bn_never_moves(keras_home):
    home, _ = keras_home
    write_mobilenet_v2_weights(home, 96)
    model = build_transfer_model("pretrained_mobilenet_v2", (96, 96, 3), 3, weights="imagenet")
    set_trainable(model, "fine_tune", 3)
    # MobileNetV2 ends ... block_16_depthwise(+BN, ReLU), block_16_project(+BN), Conv_1(+BN),
    # out_relu: the top three layers with weights, BN not counted.
    assert trainable_layer_names(model) == [
        "base/block_16_depthwise", "base/block_16_project", "base/Conv_1", "predictions"]
    batch_norms = [layer for layer in model.get_layer("base").layers
                   if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for layer in batch_norms for w in layer.weights)

    # One real training step: the top layers move; BN statistics and gammas do not.
    before = {layer.name: [w.copy() for w in layer.get_weights()]
              for layer in model.get_layer("base").layers if layer.weights}
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 96, 96, 3), dtype=np.float32), np.eye(3)[rng.integers(0, 3, 8)],
              epochs=1, batch_size=8, verbose=0)
    for layer in model.get_layer("base").layers:
        if not layer.weights:
            continue
        moved = any(not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
        assert moved == (layer.name in ("block_16_depthwise", "block_16_project", "Conv_1")), layer.name

    set_trainable(model, "fine_tune", 10_000)  # more than there are: all of them
    assert len(trainable_layer_names(model)) == len(fine_tunable_layers(model)) + 1
    with pytest.raises(ValueError, match="Expected a whole number >= 1. Received: 0"):
        set_trainable(model, "fine_tune", 0)
    with pytest.raises(ValueError, match="Unknown trainable `mode`"):
        set_trainable(model, "two_phase")


def test_offline_without_the_file_names_file_and_folder(keras_home):
    home, downloads = keras_home
    with pytest.raises(WeightsUnavailableError) as caught:
        build_transfer_model("pretrained_resnet50", (32, 32, 3), 10, weights="imagenet")
    message = str(caught.value)
    file = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    folder = str(home / "models")
    assert isinstance(caught.value, ValueError)
    assert weights_folder() == folder
    assert f"the file '{file}' is not in Keras' cache folder '{folder}'" in message
    assert f"save it as '{os.path.join(folder, file)}'" in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + file in message
    assert "`transfer.weights` to 'random'" in message and message.endswith(NO_NETWORK)
    assert downloads == []  # the probe failed, so Keras was never asked to download


def test_a_damaged_file_is_reported_and_kept(keras_home):
    home, downloads = keras_home
    damaged = home / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    damaged.write_bytes(b"half a download")
    with pytest.raises(WeightsUnavailableError, match="damaged \\(its md5 does not match"):
        build_transfer_model("pretrained_vgg16", (32, 32, 3), 2, weights="imagenet")
    assert damaged.read_bytes() == b"half a download" and downloads == []


@pytest.mark.parametrize("name", list(SPECS))
def test_keras_downloads_exactly_the_file_we_name(keras_home, monkeypatch, name):
    """Let the probe pass: Keras' own get_file then tries the very URL and path we check."""
    home, downloads = keras_home
    monkeypatch.setattr(keras_datasets, "probe_download", lambda url: None)
    shape = (28, 28, 1)
    with pytest.raises(WeightsUnavailableError, match="Original error: .*no network in tests"):
        build_transfer_model(name, shape, 2, weights="imagenet")
    file = weights_file(name, shape)
    assert downloads == [(SPECS[name].url_folder + file, str(home / "models" / file))]


# -- the model around the base -------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_small_gray_images_are_resized_expanded_and_scaled_as_keras_expects(name):
    minimum = APPLICATION_MIN_SIZES[name]
    model = build_transfer_model(name, (28, 28, 1), 5, weights=None)
    assert [layer.name for layer in model.layers] == [
        "input", "resize", "to_rgb", "preprocess", "base", "predictions"]
    assert model.get_layer("to_rgb").output.shape == (None, minimum, minimum, 3)
    assert model.get_layer("base").count_params() == BASE_PARAMETERS[name]
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    assert model.predict(images, verbose=0).shape == (2, 5)

    # The preprocessing is the application module's own preprocess_input on 0-255 values.
    upsized = keras.ops.convert_to_numpy(keras.ops.image.resize(images, (minimum, minimum)))
    rgb = np.repeat(upsized, 3, axis=-1)
    module = getattr(keras.applications, SPECS[name].module)
    expected = module.preprocess_input(rgb * 255.0)
    got = model.get_layer("preprocess").predict(rgb, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_dropout_from_the_tricks_sits_in_the_head():
    from cnnlab.config import Tricks

    model = build_transfer_model("pretrained_vgg16", (32, 32, 3), 4,
                                 tricks=Tricks(dropout_rate=0.5), weights="random")
    assert [layer.name for layer in model.layers][-2:] == ["head_dropout", "predictions"]
    assert model.get_layer("head_dropout").rate == 0.5


# -- runs that start from other runs ------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A store holding one completed small_convnet run on 16 px digits."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    manager = JobManager(store, max_concurrent=1)
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=256, epochs=1,
                              batch_size=32)
    try:
        run_id, _ = _run(manager, config)
    finally:
        manager.shutdown(timeout=60)
    yield store, run_id, config
    store.close()


def test_two_phase_freezes_then_fine_tunes_and_numbers_epochs_on(pretrained_run, monkeypatch):
    store, source, config = pretrained_run
    calls = []
    real_fit = LabModel.fit

    def spy_fit(model, *args, **kwargs):
        """Record what trains, and every base weight before and after each fit."""
        def snapshot():
            return {layer.name: [w.copy() for w in layer.get_weights()]
                    for layer in model.get_layer("base").layers if layer.weights}

        before = snapshot()
        history = real_fit(model, *args, **kwargs)
        calls.append((kwargs["initial_epoch"], kwargs["epochs"], trainable_layer_names(model),
                      before, snapshot()))
        return history

    monkeypatch.setattr(LabModel, "fit", spy_fit)
    manager = JobManager(store, max_concurrent=1)
    target = config.with_overrides({
        "epochs": 3, "learning_rate": 0.01, "schedule.kind": "step", "schedule.step_size": 1,
        "schedule.drop_factor": 0.5, "transfer.start_from_run": source,
        "transfer.mode": "two_phase", "transfer.head_epochs": 1,
        "transfer.fine_tune_layers": 2, "transfer.learning_rate_factor": 0.1})
    try:
        run_id, record = _run(manager, target)
    finally:
        manager.shutdown(timeout=60)

    (first, second) = calls
    assert first[:3] == (0, 1, ["predictions"])
    assert second[:3] == (1, 3, ["base/block4_conv1", "base/fc1", "predictions"])
    for name, weights in first[3].items():  # phase 1: not one base weight moved
        assert all(np.array_equal(a, b) for a, b in zip(weights, first[4][name])), name
    for name, weights in second[3].items():  # phase 2: exactly the top two moved
        moved = any(not np.array_equal(a, b) for a, b in zip(weights, second[4][name]))
        assert moved == (name in ("block4_conv1", "fc1")), name

    phases = store.metrics(run_id, names=[PHASE_METRIC])
    assert [(row.epoch, row.step, row.value) for row in phases] == [(1, 0, 1.0), (2, 0, 2.0)]
    # Epoch 0 is the untrained model's point (cnnlab.training.job.untrained_rows).
    assert [row.epoch for row in store.metrics(run_id, names=["val_accuracy"])] == [0, 1, 2, 3]
    # The step schedule runs on across the phases; phase 2 takes a tenth of it.
    rates = {row.epoch: row.value for row in store.metrics(run_id, names=["batch/learning_rate"])}
    assert rates == pytest.approx({1: 0.01, 2: 0.1 * 0.01 * 0.5, 3: 0.1 * 0.01 * 0.25})
    assert record.progress["fraction"] == pytest.approx(1.0)
    saved = load_run_model(store, run_id)
    assert trainable_layer_names(saved) == ["base/block4_conv1", "base/fc1", "predictions"]


def test_early_stopping_ends_a_phase_and_the_next_numbers_on_from_it(pretrained_run):
    store, source, config = pretrained_run
    # No epoch can beat the one before by 10: patience 1 ends each phase after 2 epochs.
    target = config.with_overrides({
        "epochs": 6, "transfer.start_from_run": source, "transfer.mode": "two_phase",
        "transfer.head_epochs": 3, "transfer.fine_tune_layers": 1,
        "early_stopping.enabled": True, "early_stopping.min_delta": 10.0,
        "early_stopping.patience": 1})
    manager = JobManager(store, max_concurrent=1)
    try:
        run_id, record = _run(manager, target)
    finally:
        manager.shutdown(timeout=60)
    phases = store.metrics(run_id, names=[PHASE_METRIC])
    assert [(row.epoch, row.value) for row in phases] == [(1, 1.0), (3, 2.0)]
    assert [row.epoch for row in store.metrics(run_id, names=["val_loss"])] == [0, 1, 2, 3, 4]
    assert record.final_metrics["early_stopping_epoch"] == 4


def test_start_from_run_refuses_what_it_cannot_use(pretrained_run):
    store, source, config = pretrained_run
    data = load_dataset("digits", image_size=16, train_size=256)

    def build(**overrides):
        build_run_model(config.with_overrides(overrides), data, store)

    with pytest.raises(ValueError, match="Unknown run in `transfer.start_from_run`"):
        build(**{"transfer.start_from_run": "20990101-000000-beef"})
    with pytest.raises(ValueError, match="Invalid `run_id`"):
        build(**{"transfer.start_from_run": "../elsewhere"})
    failed = store.create_run(config.to_dict())
    store.finish_run(failed, "failed", error="boom")
    with pytest.raises(ValueError, match="it is failed, and only a completed run"):
        build(**{"transfer.start_from_run": failed})
    with pytest.raises(ValueError, match="Set the architecture to 'small_convnet'"):
        build(**{"transfer.start_from_run": source, "architecture": "lenet5"})
    bigger = load_dataset("digits", image_size=20, train_size=256)
    mismatch = r"shape \(16, 16, 1\).*Received: \(20, 20, 1\). Pick the same image size \(16 pixels\)"
    with pytest.raises(ValueError, match=mismatch):  # from the stored configs, before loading
        build_run_model(config.with_overrides({"image_size": 20,
                                               "transfer.start_from_run": source}), bigger, store)
    with pytest.raises(ValueError, match=mismatch):  # from the saved model itself
        new_head(load_run_model(store, source), (20, 20, 1), 10, run_id=source)
    with pytest.raises(ValueError, match=r"data set with 1 channel\."):
        check_transfer(config.with_overrides({"dataset": "shapes",
                                              "transfer.start_from_run": source}), store)
    with pytest.raises(ValueError, match="Expected head_epochs < epochs"):
        plan_phases(config.with_overrides({"transfer.start_from_run": source,
                                           "transfer.mode": "two_phase", "epochs": 2}))
    with pytest.raises(ValueError, match="fine_tune mode trains the top `fine_tune_layers`"):
        plan_phases(config.with_overrides({"transfer.start_from_run": source,
                                           "transfer.mode": "fine_tune"}))


def test_a_run_starts_from_another_with_a_new_head(pretrained_run):
    store, source, config = pretrained_run
    data = load_dataset("digits", image_size=16, train_size=256)
    model, phases = build_run_model(config.with_overrides(
        {"transfer.start_from_run": source, "tricks.dropout_rate": 0.25}), data, store)
    assert [layer.name for layer in model.layers] == [
        "input", "base", "head_dropout", "predictions"]
    assert [phase.trainable for phase in phases] == ["feature_extraction"]
    old = load_run_model(store, source)
    for layer in model.get_layer("base").layers:  # every weight but the old head's
        for a, b in zip(layer.get_weights(), old.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert "predictions" not in [layer.name for layer in model.get_layer("base").layers]


def test_a_schedule_goes_on_where_the_last_phase_left_it():
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    shifted = ShiftedSchedule(schedule, offset=3)
    assert float(shifted(0)) == pytest.approx(0.125)
    again = ShiftedSchedule.from_config(shifted.get_config())
    assert float(again(2)) == pytest.approx(0.5 ** 5)


# -- transfer helps: a real pair of runs ---------------------------------------------------


@pytest.fixture
def fashion_home(tmp_path, monkeypatch):
    """A writable copy of shared/data/keras as Keras' home (Fashion-MNIST, offline)."""
    if not (SHARED / "keras" / "datasets" / "fashion-mnist").is_dir():
        pytest.skip("shared/data/keras holds no Fashion-MNIST")
    home, _ = offline_keras_home(tmp_path, monkeypatch, copy_from=SHARED / "keras")
    DATA_CACHE.clear()
    yield home
    DATA_CACHE.clear()


def test_starting_from_a_fashion_mnist_run_beats_scratch_on_few_digits(fashion_home, store):
    manager = JobManager(store, max_concurrent=1)
    try:
        source, pretrained = _run(manager, ExperimentConfig(
            dataset="fashion_mnist", image_size=28, train_size=3000, validation_fraction=0.05,
            architecture="small_convnet", epochs=3, seed=0))
        assert pretrained.final_metrics["test_accuracy"] > 0.7
        figures = []
        for seed in (0, 1):
            scratch = ExperimentConfig(dataset="digits", image_size=28, train_size=60,
                                       architecture="small_convnet", epochs=6, batch_size=16,
                                       seed=seed)
            transfer = scratch.with_overrides({
                "transfer.start_from_run": source, "transfer.mode": "fine_tune",
                "transfer.fine_tune_layers": 1000, "transfer.learning_rate_factor": 1.0})
            _, from_scratch = _run(manager, scratch)
            _, transferred = _run(manager, transfer)
            figures.append((seed, from_scratch.final_metrics["test_accuracy"],
                            transferred.final_metrics["test_accuracy"]))
    finally:
        manager.shutdown(timeout=60)
    print("seed, scratch, transfer test accuracy:", figures)
    gains = [transfer - scratch for _, scratch, transfer in figures]
    assert all(gain > 0 for gain in gains), figures
    assert sum(gains) / len(gains) > 0.03, figures


def test_feature_extraction_run_keeps_the_imagenet_weights(keras_home, store):
    home, _ = keras_home
    reference = write_mobilenet_v2_weights(home, 224)  # 32 px images load the 224 file
    manager = JobManager(store, max_concurrent=1)
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1,
                              batch_size=32, architecture="pretrained_mobilenet_v2",
                              transfer={"mode": "feature_extraction", "weights": "imagenet"})
    try:
        run_id, _ = _run(manager, config)
    finally:
        manager.shutdown(timeout=60)
    saved = load_run_model(store, run_id)
    assert saved.get_layer("resize").output.shape == (None, 32, 32, 1)
    for layer in _layers_with_weights(reference):
        for kept, written in zip(saved.get_layer("base").get_layer(layer.name).get_weights(),
                                 layer.get_weights()):
            np.testing.assert_array_equal(kept, written)


def test_trainable_by_phase_names_each_phase_s_layers_and_counts_them_by_hand(store):
    """MobileNetV2 at 32 px, two phases: the head alone, then the base's top two layers too.

    By hand: the head is Dense(10) on 1280 pooled features, (1280 + 1) * 10 = 12,810
    weights; block_16_project is a 1x1 convolution from 960 to 320 channels without bias
    (307,200) and Conv_1 one from 320 to 1,280 (409,600); the base holds 2,257,984 (Keras'
    MobileNetV2 without its top).
    """
    config = ExperimentConfig(dataset="digits", image_size=32, architecture="pretrained_mobilenet_v2",
                              epochs=3, transfer={"mode": "two_phase", "head_epochs": 1,
                                                  "fine_tune_layers": 2})
    head, tuned = trainable_by_phase(config, store)
    assert head.layers == ("predictions",) and head.trainable_params == 12_810
    assert tuned.layers == ("base/block_16_project", "base/Conv_1", "predictions")
    assert tuned.trainable_params == 12_810 + 307_200 + 409_600
    assert head.params == tuned.params == 2_257_984 + 12_810
    assert head.description.startswith("Phase 1, epochs 1-1") and "0.1 x" in tuned.description


# -- the form's controls --------------------------------------------------------------------


def _controls_script():
    import streamlit as st

    from cnnlab.config import ExperimentConfig
    from ui.transfer_controls import transfer_controls, transfer_view

    architecture, state = st.session_state["architecture"], st.session_state
    transfer = state["result"] = transfer_controls(architecture)
    config = ExperimentConfig(dataset=state["train_dataset"], image_size=state["train_image_size"],
                              epochs=state["train_epochs"], architecture=architecture,
                              transfer=transfer)
    transfer_view(architecture, transfer, config)


@pytest.mark.usefixtures("fresh_resources")
def test_the_controls_list_completed_runs_and_show_which_layers_train():
    from streamlit.testing.v1 import AppTest

    from ui.resources import job_manager

    manager = job_manager()
    source, _ = _run(manager, ExperimentConfig(dataset="digits", image_size=16, train_size=64,
                                               epochs=1, batch_size=32))
    other = manager.store.create_run(ExperimentConfig(architecture="lenet5").to_dict())
    manager.store.finish_run(other, "completed")

    app = AppTest.from_function(_controls_script, default_timeout=60)
    app.session_state["architecture"] = "small_convnet"
    app.session_state["train_dataset"] = "digits"
    app.session_state["train_image_size"] = 16
    app.session_state["train_epochs"] = 3
    app.run()
    assert not app.exception
    assert app.session_state["result"] == {**dataclasses.asdict(TransferConfig())}
    start = app.selectbox(key="train_transfer_start_from_run")
    assert start.options[1:] == [start.format_func(source)]  # not the lenet5 run
    start.set_value(source).run()
    app.radio(key="train_transfer_mode").set_value("two_phase").run()
    app.number_input(key="train_transfer_fine_tune_layers").set_value(1).run()
    app.toggle(key="train_transfer_show_layers").set_value(True).run()
    assert not app.exception and not app.error
    result = app.session_state["result"]
    assert result["start_from_run"] == source and result["mode"] == "two_phase"
    TransferConfig(**result)  # a valid config section
    captions = [caption.value for caption in app.caption]
    assert "1 layer trains: `predictions`" in captions
    assert "2 layers train: `base/fc1`, `predictions`" in captions

    app.session_state["train_image_size"] = 20  # the form's image size changed
    app.run()
    assert "Pick the same image size (16 pixels)" in plain(app.warning[0].value)

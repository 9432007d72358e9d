"""The sigmoid head with binary cross-entropy, and label smoothing (`loss`, `label_smoothing`).

References: the lectures' small convnet at 150x150x3 with one sigmoid unit counts
3,453,121 parameters (Chollet, Deep Learning with Python, 5.2); Keras' own
`binary_crossentropy` and `BinaryCrossentropy(label_smoothing=...)` on the same batch;
Keras' `evaluate` for the validation loss the lab computes from stored probabilities.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnlab.config import ExperimentConfig

ZERO_ONE = "folder:zeroone"


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    """A two-class data set imported as a user would: the embedded digits 0 and 1 as PNGs."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from cnnlab.data.image_folders import import_images

    home = tmp_path_factory.mktemp("binary") / "runs"
    folder = home.parent / "zeroone"
    digits = load_digits()
    for label in (0, 1):
        (folder / f"digit{label}").mkdir(parents=True)
        for index in np.flatnonzero(digits.target == label):
            pixels = (digits.images[index] * 255 / 16).astype("uint8")
            Image.fromarray(pixels).save(folder / f"digit{label}" / f"{index}.png")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_HOME", str(home))
        import_images(folder, "zeroone", image_size=16, channels=1)
        yield home


def test_the_small_convnet_with_a_sigmoid_head_has_the_books_parameter_count():
    from cnnlab.models.build import build_model
    from cnnlab.models.head import as_class_probabilities

    model = build_model("small_convnet", (150, 150, 3), 1)
    assert model.count_params() == 3_453_121
    assert model.get_layer("predictions").get_config()["activation"] == "sigmoid"
    two = as_class_probabilities(model)
    assert two.count_params() == 3_453_121  # the two columns cost nothing
    assert build_model("small_convnet", (150, 150, 3), 2).count_params() == 3_453_634


def test_the_binary_loss_is_keras_binary_crossentropy_on_the_same_batch():
    import keras

    from cnnlab.models.build import build_model
    from cnnlab.models.head import as_class_probabilities
    from cnnlab.training.insight_callback import validation_logs
    from cnnlab.training.train_step import compile_for_training, wrap

    rng = np.random.default_rng(0)
    images = rng.random((16, 16, 16, 1), dtype=np.float32)
    labels = rng.integers(0, 2, 16)
    one_hot = np.eye(2, dtype="float32")[labels]
    for smoothing in (0.0, 0.2):
        config = ExperimentConfig(loss="binary_crossentropy", label_smoothing=smoothing)
        keras.utils.set_random_seed(1)
        model = wrap(as_class_probabilities(build_model("lenet5", (16, 16, 1), 1)))
        compile_for_training(model, config)
        two = np.asarray(model(images, training=False))
        p = two[:, 1:]  # the sigmoid unit's own output
        np.testing.assert_allclose(two.sum(axis=1), 1, atol=1e-6)
        ours = float(model.compute_loss(x=images, y=one_hot, y_pred=two))
        theirs = float(keras.losses.BinaryCrossentropy(label_smoothing=smoothing)(
            labels[:, None].astype("float32"), p))
        if smoothing == 0:
            assert theirs == pytest.approx(float(np.mean(keras.losses.binary_crossentropy(
                labels[:, None].astype("float32"), p))), rel=1e-6)
        assert ours == pytest.approx(theirs, rel=1e-5)
        # The validation loss the lab computes from the probabilities, the same number.
        assert validation_logs(model, labels, two)["val_loss"] == pytest.approx(theirs, rel=1e-4)
        # Accuracy: the larger column is p > 0.5.
        assert validation_logs(model, labels, two)["val_accuracy"] == pytest.approx(
            float(((p[:, 0] > 0.5) == labels).mean()))


def test_a_sigmoid_head_is_refused_for_more_than_two_classes():
    config = ExperimentConfig(dataset="digits", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"two classes.*Received: 'digits' with 10 classes"):
        config.check_feasible()
    with pytest.raises(ValueError, match="loss"):
        ExperimentConfig(loss="hinge")
    with pytest.raises(ValueError, match="label_smoothing"):
        ExperimentConfig(label_smoothing=0.7)


def test_binary_runs_train_store_two_columns_and_smoothing_keeps_them_from_certainty(two_classes):
    """Digits 0 against 1 with the sigmoid head: learnt, stored as (1 - p, p), evaluated as
    Keras evaluates. Label smoothing 0.2 makes the optimum p = 0.9 for the true class: its
    most confident validation prediction stays near 0.9, where without it p goes to ~1."""
    import keras

    from cnnlab.analysis.insight import confusion, load_predictions, prediction_epochs
    from cnnlab.export.script import training_script
    from cnnlab.store import RunStore
    from cnnlab.training.job import execute_run
    from cnnlab.training.train_step import compile_for_training
    from cnnlab.training.transfer import load_run_model

    store = RunStore(two_classes)
    # The Train form's summary counts the sigmoid head's one unit (small convnet at 150 px).
    from cnnlab.training.memory import estimate_for_config

    summary = estimate_for_config(ExperimentConfig(dataset=ZERO_ONE, image_size=150,
                                                   loss="binary_crossentropy"))
    softmax = estimate_for_config(ExperimentConfig(dataset=ZERO_ONE, image_size=150))
    assert softmax.params - summary.params == 513  # 512 weights and a bias fewer
    base = ExperimentConfig(dataset=ZERO_ONE, image_size=16, epochs=4, batch_size=16,
                            loss="binary_crossentropy", learning_rate=3e-3)
    confident = {}
    for smoothing in (0.0, 0.2):
        config = base.with_overrides({"label_smoothing": smoothing})
        config.check_feasible()
        run_id = store.create_run(config.to_dict())
        assert execute_run(store, run_id, config, threading.Event()) == "completed"
        record = store.get_run(run_id)
        assert record.final_metrics["test_accuracy"] > 0.9, record.final_metrics
        labels, probabilities = load_predictions(store, run_id, prediction_epochs(store, run_id)[-1])
        assert probabilities.shape == (len(labels), 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=2e-3)  # float16
        assert confusion(labels, probabilities).shape == (2, 2)
        confident[smoothing] = float(probabilities.max())
        model = load_run_model(store, run_id)
        assert model.get_layer("predictions").units == 1
        if smoothing:
            # The lab's stored val_loss (with smoothing) is Keras' evaluate on the same model.
            from cnnlab.data import load_dataset

            data = load_dataset(ZERO_ONE, image_size=16, validation_fraction=0.2, seed=0)
            compile_for_training(model, config)
            keras_loss = model.evaluate(data.x_val, np.eye(2)[data.y_val], verbose=0)[0]
            assert record.final_metrics["val_loss"] == pytest.approx(keras_loss, rel=1e-3)
            assert "keras.losses.BinaryCrossentropy(label_smoothing=0.2)" in training_script(config)
    assert confident[0.0] > 0.99 and confident[0.2] < 0.95
    store.close()
    # The Train page's confusion tab for a two-class run: top-1, and why top-k is hidden.
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.apptest import ROOT

    st.cache_resource.clear()
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        app.switch_page("pages/1_Train.py")
        app.query_params["run"] = run_id
        app.session_state[f"train_insight_tab_{run_id}"] = "Confusion"
        app.run()
        assert not app.exception, app.exception
        labels = [metric.label for metric in app.metric]
        assert "Top-1 accuracy" in labels and not any(label.startswith("Top-2") or
                                                      label.startswith("Top-5") for label in labels)
        assert any("Top-k is hidden: with 2 classes" in caption.value for caption in app.caption)
    finally:
        from ui.resources import job_manager

        job_manager().shutdown(timeout=60)
        st.cache_resource.clear()


@pytest.mark.parametrize("classes, k, hidden", [
    (2, None, "Top-k is hidden: with 2 classes"), (3, 2, "Top-5 is hidden: with 3 classes"),
    (5, 2, "with 5 classes"), (6, 5, None), (10, 5, None), (100, 5, None)])
def test_top_k_is_shown_where_it_can_be_below_100_percent(classes, k, hidden):
    from cnnlab.analysis.insight import top_k_accuracy, top_k_plan

    shown, note = top_k_plan(classes)
    assert shown == k
    assert (note is None) if hidden is None else hidden in note
    if k is not None:  # a network that ranks the true class last scores 0 at the k shown
        labels = np.zeros(8, dtype=int)
        probabilities = np.tile(np.linspace(0, 1, classes), (8, 1))
        assert top_k_accuracy(labels, probabilities, k) == 0.0
        assert top_k_accuracy(labels, probabilities, classes) == 1.0

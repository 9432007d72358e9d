"""What a run records for the insight views, checked against direct computations.

Per-layer gradient norms against tf.GradientTape on the same batch and weights; the
validation figures against model.evaluate; the stored predictions against the saved model;
the confusion matrix against a count by hand; dead ReLUs against a network built dead.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnlab.analysis.history import RunHistory
from cnnlab.analysis.insight import (
    class_report,
    confusion,
    load_predictions,
    misclassified,
    prediction_epochs,
    top_k_accuracy,
    validation_data,
    worst_confusion,
)
from cnnlab.config import ExperimentConfig
from cnnlab.data import load_dataset
from cnnlab.training.insight_callback import MAX_RECORDED_STEPS, record_interval
from cnnlab.training.job import execute_run
from cnnlab.training.train_step import kernel_layers, tracked_kernels, wrap
from cnnlab.training.transfer import build_run_model


def _execute(store, config) -> str:
    run_id = store.create_run(config.to_dict())
    status = execute_run(store, run_id, config, threading.Event())
    assert status == "completed", store.get_run(run_id).error
    return run_id


def test_stored_gradient_norms_equal_gradient_tape_norms(store):
    # One batch of 32 (the whole training set), one step of plain SGD: the step's
    # gradients, weights and update can all be recomputed here.
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=32, batch_size=32,
                              epochs=1, optimizer="sgd", learning_rate=0.1,
                              tricks={"l2": 1e-3})
    run_id = _execute(store, config)

    data = load_dataset(config.dataset, image_size=config.image_size, train_size=config.train_size,
                        validation_fraction=config.validation_fraction, seed=config.seed)
    keras.utils.set_random_seed(config.seed)  # the job's seed, so the job's initial weights
    model = wrap(build_run_model(config, data, store)[0])
    y = keras.utils.to_categorical(data.y_train, data.num_classes)
    kernels = tracked_kernels(model)
    with tf.GradientTape() as tape:
        probabilities = model(data.x_train, training=True)
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, probabilities))
        loss += tf.add_n(model.losses)
    gradients = tape.gradient(loss, [variable for _, variable in kernels])

    history = RunHistory(run_id)
    history.update(store)
    stored = {kind: history.layer_table(kind).loc[(1, 1)]
              for kind in ("grad_norm", "weight_norm", "update_ratio")}
    assert list(stored["grad_norm"].index) == [name for name, _ in kernels]
    assert history.layer_order == [name for name, _ in kernels]  # the stored model order
    for (name, variable), gradient in zip(kernels, gradients):
        expected = float(tf.norm(gradient))
        assert stored["grad_norm"][name] == pytest.approx(expected, rel=1e-4), name
        weight = float(tf.norm(variable))
        assert stored["weight_norm"][name] == pytest.approx(weight, rel=1e-5), name
        # Plain SGD moves each kernel by learning rate x gradient.
        assert stored["update_ratio"][name] == pytest.approx(0.1 * expected / weight, rel=1e-3)


def test_validation_figures_and_predictions_are_the_models_own(store):
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=200, batch_size=32,
                              epochs=2, tricks={"l2": 1e-3})
    run_id = _execute(store, config)
    record = store.get_run(run_id)
    rows = {row.name: row.value for row in store.metrics(run_id, names=["val_loss", "val_accuracy"])
            if row.epoch == 2}
    # The last epoch's recorded validation figures are those of the final weights, which
    # are the run's final figures (L2 penalty included).
    assert rows["val_loss"] == pytest.approx(record.final_metrics["val_loss"], rel=1e-4)
    assert rows["val_accuracy"] == pytest.approx(record.final_metrics["val_accuracy"], abs=1e-6)

    assert prediction_epochs(store, run_id) == [1, 2]
    labels, probabilities = load_predictions(store, run_id, 2)
    data = load_dataset(config.dataset, image_size=config.image_size, train_size=config.train_size,
                        validation_fraction=config.validation_fraction, seed=config.seed)
    np.testing.assert_array_equal(labels, data.y_val)
    saved = keras.saving.load_model(store.run_dir(run_id) / "model.keras")
    np.testing.assert_allclose(probabilities, saved.predict(data.x_val, verbose=0), atol=2e-3)

    # The confusion matrix, counted by hand from the stored predictions.
    matrix = confusion(labels, probabilities)
    by_hand = np.zeros((10, 10), int)
    np.add.at(by_hand, (labels, probabilities.argmax(axis=1)), 1)
    np.testing.assert_array_equal(matrix, by_hand)
    assert matrix.trace() / matrix.sum() == pytest.approx(rows["val_accuracy"], abs=1e-6)


def test_class_scores_top_k_and_misclassified_images():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([
        [0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
        [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1],
    ])
    report = class_report(labels, probabilities, ["a", "b", "c"])
    assert report.loc["a", "precision"] == pytest.approx(1 / 2)  # images 0 and 3 said "a"
    assert report.loc["a", "recall"] == pytest.approx(1 / 2)
    assert report.loc["c", "precision"] == pytest.approx(1.0)
    assert report.loc["b", "f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert list(report["support"]) == [2, 2, 2]
    assert top_k_accuracy(labels, probabilities, 1) == pytest.approx(3 / 6)
    assert top_k_accuracy(labels, probabilities, 2) == pytest.approx(4 / 6)  # not 1 or 5
    # True "a" predicted "b": image 1. True "c" predicted "b": image 5.
    assert list(misclassified(labels, probabilities, 0, 1)) == [1]
    assert list(misclassified(labels, probabilities, 2, 1)) == [5]
    assert list(misclassified(labels, probabilities, 1, 2)) == []


def test_dead_relus_are_counted_on_the_probe_batch(store):
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, batch_size=32,
                              epochs=1)
    run_id = _execute(store, config)
    history = RunHistory(run_id)
    history.update(store)
    dead = history.layer_table("dead_fraction")
    assert list(dead.columns)[:2] == ["block1_act1", "block2_act1"]  # input to output
    assert (dead.to_numpy() < 0.5).all()  # a healthy network: most units fire

    from cnnlab.training.insight_callback import _dead_fraction, _relu_probe_model

    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", bias_initializer=keras.initializers.Constant(-1e3))(inputs)
    x = keras.layers.Activation("relu", name="dead_act")(x)
    alive = keras.layers.Dense(2, activation="relu", name="alive",
                               bias_initializer=keras.initializers.Constant(1.0))(keras.layers.Flatten()(x))
    probe, names = _relu_probe_model(keras.Model(inputs, alive))
    assert names == ["dead_act", "alive"]
    outputs = probe(np.random.default_rng(0).random((8, 4, 4, 1)).astype("float32"))
    assert [_dead_fraction(output) for output in outputs] == [1.0, 0.0]


def test_long_runs_record_layers_every_k_steps(store):
    assert record_interval(10, 20) == 1
    assert record_interval(100, 100) == 20
    assert record_interval(3, MAX_RECORDED_STEPS) == 3
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, batch_size=1,
                              epochs=10)
    run_id = _execute(store, config)
    history = RunHistory(run_id)
    history.update(store)
    steps = history.layer_table("grad_norm")
    assert len(steps) == 640 // record_interval(10, 64) == 320
    assert len(history.batches) == 640  # the batch curves keep every step


def test_inception_auxiliary_head_trains_and_is_dropped_at_inference(store):
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, batch_size=32,
                              epochs=1, architecture="inception_aux")
    run_id = _execute(store, config)
    history = RunHistory(run_id)
    history.update(store)
    layers = list(history.layer_table("grad_norm").columns)
    assert "aux4a_fc" in layers and layers[-1] in ("predictions", "aux4a_predictions")
    assert history.layer_table("grad_norm")["aux4a_fc"].gt(0).all()  # its loss reaches it

    saved = keras.saving.load_model(store.run_dir(run_id) / "model.keras")
    assert len(saved.outputs) == 2
    x = np.zeros((3, 16, 16, 1), "float32")
    assert saved.predict(x, verbose=0).shape == (3, 10)  # the main head only
    y = keras.utils.to_categorical([0, 1, 2], 10)
    main, _ = saved(x, training=False)
    main_loss = float(tf.reduce_mean(keras.losses.categorical_crossentropy(y, main)))
    assert saved.evaluate(x, y, verbose=0)[0] == pytest.approx(main_loss, rel=1e-5)


def test_the_layer_order_names_frozen_kernels_too():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="base_conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("base_conv").trainable = False
    assert [name for name, _ in tracked_kernels(model)] == ["head"]
    assert kernel_layers(model) == ["base_conv", "head"]


@pytest.mark.parametrize("matrix, cell", [
    ([[5, 0], [0, 5]], (0, 0)),  # no mistakes: the first cell
    ([[5, 1], [3, 2]], (1, 0)),
    ([[9, 2, 0], [0, 9, 2], [4, 0, 9]], (2, 0)),  # the largest off the diagonal, not on it
])
def test_worst_confusion_is_the_cell_with_the_most_mistakes(matrix, cell):
    assert worst_confusion(np.array(matrix)) == cell


def test_validation_data_is_the_split_the_predictions_were_made_on():
    config = ExperimentConfig(train_size=100, validation_fraction=0.25, seed=3).to_dict()
    data = load_dataset("digits", train_size=100, validation_fraction=0.25, seed=3)
    found = validation_data(config, data.y_val)
    np.testing.assert_array_equal(found.x_val, data.x_val)
    assert validation_data(config, np.roll(data.y_val, 1)) is None  # labels in another order
    assert validation_data({**config, "seed": 4}, data.y_val) is None  # another split
    assert validation_data({**config, "dataset": "folder:deleted"}, data.y_val) is None


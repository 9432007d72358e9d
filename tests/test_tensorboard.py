"""TensorBoard event files of a run: written for every run, readable, equal to the store's rows."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from cnnlab.training.job import execute_run
from cnnlab.training.tensorboard import FOLDER, MAX_BATCH_POINTS, batch_interval


def _read_events(folder) -> dict[str, list[tuple[int, float, str]]]:
    """tag -> [(step, value, plugin)], from every event file, as TensorBoard reads them."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found: dict[str, list] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor)),
                     value.metadata.plugin_data.plugin_name))
    return found


def test_a_run_writes_its_curves_as_tensorboard_scalars(store, tiny_config):
    config = tiny_config.with_overrides({"epochs": 3})
    run_id = store.create_run(config.to_dict())
    assert execute_run(store, run_id, config, threading.Event()) == "completed"
    folder = store.run_dir(run_id) / FOLDER
    assert list(folder.glob("events.out.tfevents.*"))
    events = _read_events(folder)
    # Each tag's first record names the scalars plugin (later ones need not, as in TF's writer).
    assert {values[0][2] for values in events.values()} == {"scalars"}

    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        # TensorBoard keeps float32 (as tf.summary.scalar does); the store float64, where the
        # value was computed so (the validation loss): equal once rounded to float32.
        # The trained epochs: the store's epoch 0 (the untrained model) is the lab's own.
        stored = [(row.epoch, float(np.float32(row.value)))
                  for row in store.metrics(run_id, names=[name]) if row.epoch]
        written = [(step, value) for step, value, _ in events[f"epoch/{name}"]]
        assert [step for step, _ in written] == [1, 2, 3]
        assert written == stored

    steps = math.ceil(256 / 32)
    batch_rows = store.metrics(run_id, names=["batch/loss"])
    written = events["batch/loss"]
    assert [step for step, _, _ in written] == list(range(1, 3 * steps + 1))
    assert [value for _, value, _ in written] == pytest.approx([r.value for r in batch_rows], rel=1e-6)
    # One gradient-norm curve per layer with a kernel, equal to the rows the store keeps.
    layers = sorted(row.name.removeprefix("grad_norm/")
                    for row in store.metrics(run_id, names=None) if row.name.startswith("grad_norm/")
                    and row.epoch == 1 and row.step == 1)
    assert sorted(tag.removeprefix("grad_norm/") for tag in events if tag.startswith("grad_norm/")) == layers
    first = store.metrics(run_id, names=[f"grad_norm/{layers[0]}"])
    assert [v for _, v, _ in events[f"grad_norm/{layers[0]}"]] == pytest.approx(
        [row.value for row in first], rel=1e-6)
    # The per-layer vectors themselves are no scalars, and are not written as such.
    assert not [tag for tag in events if "layer_" in tag or tag == "epoch/batch_loss"]


@pytest.mark.parametrize(("epochs", "steps", "interval"), [
    (2, 8, 1), (10, 100, 1), (10, 101, 2), (100, 469, 47)])
def test_batches_are_written_sparsely(epochs, steps, interval):
    assert batch_interval(epochs, steps) == interval
    assert epochs * steps / interval <= MAX_BATCH_POINTS


def test_a_callback_skips_non_scalars_and_writes_the_rest(tmp_path):
    import keras

    from cnnlab.training.tensorboard import TensorBoardCallback

    callback = TensorBoardCallback(tmp_path, steps_per_epoch=4, batch_every=2)
    inputs = keras.Input((2,))
    callback.set_model(keras.Model(inputs, keras.layers.Dense(1, name="fc")(inputs)))
    callback.on_train_begin()
    callback.on_epoch_begin(1)
    for batch in range(4):  # iterations 5 to 8: 5 and 7 are written
        callback.on_train_batch_end(batch, {"batch_loss": np.float32(batch),
                                            "layer_grad_norm": np.array([0.5], np.float32),
                                            "layer_weight_norm": np.array([1.0], np.float32)})
    callback.on_epoch_end(1, {"loss": 1.5, "val_accuracy": np.float64(0.25),
                              "histogram": np.zeros(3), "note": "text"})
    callback.on_train_end()
    events = _read_events(tmp_path / FOLDER)
    assert events == {
        "batch/loss": [(5, 0.0, "scalars"), (7, 2.0, "")],
        "grad_norm/fc": [(5, 0.5, "scalars"), (7, 0.5, "")],
        "epoch/loss": [(2, 1.5, "scalars")],
        "epoch/val_accuracy": [(2, 0.25, "scalars")],
    }


def test_a_partial_epoch_gets_no_epoch_point(tmp_path):
    """A stopped run's last, partial epoch is left out, as the run store leaves it out."""
    import keras

    from cnnlab.training.tensorboard import TensorBoardCallback

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="fc")(inputs))
    callback = TensorBoardCallback(tmp_path, steps_per_epoch=4)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, batches in enumerate([4, 2]):
        callback.on_epoch_begin(epoch)
        for batch in range(batches):
            callback.on_train_batch_end(batch, {"batch_loss": 1.0})
        model.stop_training = epoch == 1
        callback.on_epoch_end(epoch, {"loss": 1.0})
    callback.on_train_end()
    events = _read_events(tmp_path / FOLDER)
    assert [step for step, _, _ in events["epoch/loss"]] == [1]
    assert [step for step, _, _ in events["batch/loss"]] == [1, 2, 3, 4, 5, 6]

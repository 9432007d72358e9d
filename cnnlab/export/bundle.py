"""Export a finished run as a bundle anyone can open without cnnlab: a .zip of five files.

- `config.json`: the run's ExperimentConfig, as `ExperimentConfig.to_json` writes it.
- `metrics.csv`: every metric row the run stored (epoch, step, name, value), in write order.
- `model.keras`: the trained model (completed runs only: a stopped, diverged or failed run
  never saved one). It loads with plain Keras, `keras.saving.load_model("model.keras")`:
  the lab trains a `LabModel` subclass with a schedule of its own in the optimizer, and
  some architectures hold a layer of the lab's (ResNet's `ZeroPadChannels`); the bundle's
  model is a plain functional `keras.Model` with the same layers and weights, uncompiled,
  the lab's layers replaced by Keras layers that compute the same (see `plain_model`).
  Augmentation is no part of it: the lab augments in the input pipeline.
- `architecture.json`: that model's `to_json()`, from which `train.py` builds the network
  with fresh weights (for a run without a saved model, the architecture its config builds).
- `train.py`: the experiment as a standalone Keras script (see `cnnlab.export.script`,
  which also lists what it cannot reproduce: transfer learning above all).

Why a zip built in memory: a page hands the bytes to a download button, and the CLI
writes them to a path; nothing is left behind in the run's folder.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import types
import zipfile
from pathlib import Path

from cnnlab.config import ExperimentConfig
from cnnlab.export.script import ARCHITECTURE_FILE, training_script

BUNDLE_FILES = ("config.json", "metrics.csv", "model.keras", ARCHITECTURE_FILE, "train.py")
MODEL_FILE = "model.keras"
METRIC_COLUMNS = ("epoch", "step", "name", "value")


def export_run(store, run_id: str, path: str | Path | None = None) -> bytes | Path:
    """The bundle of a finished run: its bytes, or, with `path`, the .zip file written there.

    Args:
        store: the RunStore holding the run.
        run_id: a run that has finished (completed, stopped, diverged, failed, interrupted).
            Only a completed run has `model.keras`; the others get the other four files.
        path: where to write the .zip; defaults to None (return the bytes).

    Raises:
        ValueError: for an unknown run, or one still queued or running.
    """
    files = bundle_files(store, run_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in BUNDLE_FILES:
            if name in files:
                bundle.writestr(name, files[name])
    data = buffer.getvalue()
    if path is None:
        return data
    path = Path(path)
    path.write_bytes(data)
    return path


def bundle_files(store, run_id: str) -> dict[str, bytes]:
    """The bundle's files by name, as bytes (see the module docstring for each)."""
    record = store.get_run(run_id)
    if record is None:
        raise ValueError(
            f"Unknown run. Expected the id of a run in the store at {store.home}. "
            f"Received: {run_id!r}. Pick a run from the list of runs."
        )
    if record.is_active:  # queued or running: nothing final to export yet
        raise ValueError(
            f"Run {run_id!r} is {record.status}; only a finished run can be exported. Expected "
            "a completed, stopped, diverged or failed run. Received: status "
            f"{record.status!r}. Wait until it finishes, or stop it."
        )
    config = ExperimentConfig.from_dict(record.config)
    files = {"config.json": config.to_json().encode(), "metrics.csv": _metrics_csv(store, run_id)}
    # Only a completed run's own file is loaded: the lab saves a model only when a run
    # completes, so a model.keras in any other run's folder is not the lab's (a run whose
    # final status could not be recorded, or a file someone put there) and stays unread.
    saved = store.run_dir(run_id) / MODEL_FILE
    trained = record.status == "completed" and saved.is_file()
    model = _load_model(saved) if trained else _untrained_model(config, store)
    plain = plain_model(model)
    if trained:
        files[MODEL_FILE] = _model_bytes(plain)
    files[ARCHITECTURE_FILE] = plain.to_json(indent=1).encode()
    test_accuracy = record.final_metrics.get("test_accuracy")
    files["train.py"] = training_script(
        config, num_outputs=len(plain.outputs), run_id=run_id, status=record.status,
        test_accuracy=test_accuracy).encode()
    return files


def _metrics_csv(store, run_id: str) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for row in store.metrics(run_id):
        writer.writerow((row.epoch, row.step, row.name, repr(float(row.value))))
    return text.getvalue().encode()


# -- the model -----------------------------------------------------------------------------


def _load_model(path: Path):
    """The run's saved LabModel, without its optimizer, under the lab's seed lock."""
    import keras

    # The lab's classes a saved model may name, registered before loading.
    import cnnlab.models.resnet
    import cnnlab.schedules  # noqa: F401
    from cnnlab.training.seeding import seed_lock
    from cnnlab.training.train_step import LabModel

    # Building layers draws default seeds from Python's global generator: holding the lock
    # keeps an export from shifting the seeds of a run being built at the same moment.
    with seed_lock:
        return keras.saving.load_model(path, compile=False, safe_mode=True,
                                       custom_objects={"LabModel": LabModel})


def _untrained_model(config: ExperimentConfig, store):
    """The model a run of `config` trains, built afresh: its architecture is all that is used.

    Pretrained backbones are built with random weights, so nothing is downloaded.
    """
    import dataclasses

    from cnnlab.data.registry import get_info
    from cnnlab.training.seeding import seed_lock
    from cnnlab.training.transfer import build_run_model

    info = get_info(config.dataset)
    size = config.image_size or info.default_size
    data = types.SimpleNamespace(input_shape=(size, size, info.channels),
                                 num_classes=info.num_classes)
    if config.transfer.weights == "imagenet":
        config = dataclasses.replace(
            config, transfer=dataclasses.replace(config.transfer, weights="random"))
    with seed_lock:
        model, _ = build_run_model(config, data, store)
    return model


def plain_model(model):
    """`model` as a plain functional keras.Model of Keras' own layers, same weights.

    Why: the lab's model class (`LabModel`) and layers (`ZeroPadChannels`) are registered
    under cnnlab's name, so a file holding them loads only where cnnlab is installed.
    The new model shares the layers of `model` where they are Keras' own; a lab layer is
    replaced by Keras layers that compute the same (`KERAS_EQUIVALENTS`), in which case
    the model is cloned and the weights copied over.

    Raises:
        ValueError: the model holds a lab layer with no Keras equivalent here.
    """
    import keras

    plain = keras.Model(model.inputs, model.outputs, name=model.name)
    foreign = [operation for operation in _operations(plain) if not _is_keras(operation)]
    if not foreign:
        return plain
    unknown = sorted({type(op).__name__ for op in foreign} - set(KERAS_EQUIVALENTS))
    if unknown:
        raise ValueError(
            f"The model holds layers of the lab with no Keras equivalent for export: {unknown}. "
            f"Expected only Keras layers or {sorted(KERAS_EQUIVALENTS)}. Received model "
            f"'{model.name}'. Add an equivalent to cnnlab.export.bundle.KERAS_EQUIVALENTS."
        )

    def replace(layer):
        equivalent = KERAS_EQUIVALENTS.get(type(layer).__name__)
        if equivalent is not None and not _is_keras(layer):
            return equivalent(layer)
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(plain, clone_function=replace, recursive=True)
    clone.set_weights(plain.get_weights())
    return clone


def _zero_pad_channels(layer):
    """ZeroPadChannels as Keras layers: the channels become a third spatial axis, which
    ZeroPadding3D pads at its end with zeros."""
    import keras

    height, width, channels = layer.input.shape[1:]
    extra = layer.extra_channels
    return keras.Sequential([
        keras.Input(shape=(height, width, channels)),
        keras.layers.Reshape((height, width, channels, 1)),
        keras.layers.ZeroPadding3D(((0, 0), (0, 0), (0, extra))),
        keras.layers.Reshape((height, width, channels + extra)),
    ], name=layer.name)


KERAS_EQUIVALENTS = {"ZeroPadChannels": _zero_pad_channels}


def _is_keras(operation) -> bool:
    return type(operation).__module__.split(".")[0] == "keras"


def _operations(model) -> list:
    """Every operation of `model`, those of its sub-models included."""
    import keras

    found = []
    for operation in model.operations:
        found.append(operation)
        if isinstance(operation, keras.Model):
            found += _operations(operation)
    return found


def _model_bytes(model) -> bytes:
    handle, temporary = tempfile.mkstemp(suffix=".keras")
    os.close(handle)
    try:
        model.save(temporary)
        return Path(temporary).read_bytes()
    finally:
        os.remove(temporary)


def read_bundle(data: bytes) -> dict[str, bytes]:
    """The files of a bundle by name (the inverse of `export_run`), e.g. for a page's preview."""
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


"""Exporting a run: a bundle whose model and train.py work where cnnlab is not installed.

The trusted references: the run itself (its stored metrics, its test accuracy, its saved
model's predictions) and cnnlab's own data loading, input pipeline and schedules, which
the script's copies must match exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import runpy
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.export.bundle import (
    ARCHITECTURE_FILE,
    BUNDLE_FILES,
    export_run,
    plain_model,
)
from cnnlab.export.script import training_script
from cnnlab.training.job import execute_run
from tests.keras_home import offline_keras_home

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# Runs in the bundle's folder, in a Python that cannot import cnnlab: the editable install
# would otherwise make it importable from anywhere, so the name is blocked outright.
CNNLAB_FREE_CHECK = """
import json, runpy, sys
sys.modules["cnnlab"] = None
try:
    import cnnlab  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("cnnlab is importable")
import keras
import numpy as np

accuracy = runpy.run_path("train.py", run_name="train")["main"]()
model = keras.saving.load_model("model.keras")
np.save("predictions.npy", model.predict(np.load("images.npy"), verbose=0))
print(json.dumps({"test_accuracy": accuracy, "model_class": type(model).__name__}))
"""


def _cnnlab_free_python(folder: Path, code: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # -I: no script folder, no user site, no PYTHON* variables on sys.path.
    return subprocess.run([sys.executable, "-I", "-c", code], check=False, cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def _script_namespace(tmp_path, config: ExperimentConfig, name: str = "train.py") -> dict:
    """The generated script's functions, loaded in this process without running main()."""
    path = tmp_path / name
    path.write_text(training_script(config))
    return runpy.run_path(str(path), run_name="train_script")


def test_a_run_exports_a_bundle_that_trains_again_without_cnnlab(store, tmp_path):
    """The bundle's train.py repeats the run, and its model.keras loads, with cnnlab blocked.

    Measured on the 2-core development CPU, for seeds 0, 1 and 2, the script's epoch losses,
    validation losses and test accuracy equalled the run's to 4 decimals (also with one
    intra-op thread and oneDNN off); the seeds' test accuracies themselves spread from 0.51
    to 0.72. So the curves are compared at 1% and the accuracy within 0.05: room for
    another machine's float rounding, while a wrong split, initialization, order or
    schedule would show.
    """
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=300, epochs=3,
                              batch_size=32, seed=0)
    run_id = store.create_run(config.to_dict())
    assert execute_run(store, run_id, config, threading.Event()) == "completed"
    record = store.get_run(run_id)

    path = export_run(store, run_id, tmp_path / "bundle.zip")
    assert path == tmp_path / "bundle.zip"
    in_memory = zipfile.ZipFile(io.BytesIO(export_run(store, run_id)))
    assert sorted(in_memory.namelist()) == sorted(BUNDLE_FILES)
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(path) as bundle:
        assert sorted(bundle.namelist()) == sorted(BUNDLE_FILES)
        bundle.extractall(folder)

    assert ExperimentConfig.from_json((folder / "config.json").read_text()) == config
    rows = list(csv.reader(io.StringIO((folder / "metrics.csv").read_text())))
    assert rows[0] == ["epoch", "step", "name", "value"]
    stored = store.metrics(run_id)
    assert len(rows) - 1 == len(stored)
    assert all((int(e), int(s), n, float(v)) == (row.epoch, row.step, row.name, row.value)
               for (e, s, n, v), row in zip(rows[1:], stored))
    architecture = (folder / ARCHITECTURE_FILE).read_text()
    assert "cnnlab" not in architecture and "LabModel" not in architecture

    from cnnlab.data import load_dataset
    from cnnlab.training.transfer import load_run_model

    data = load_dataset("digits", image_size=16, train_size=300, seed=0)
    np.save(folder / "images.npy", data.x_test[:32])
    expected = load_run_model(store, run_id).predict(data.x_test[:32], verbose=0)

    result = _cnnlab_free_python(folder, CNNLAB_FREE_CHECK)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model_class"] == "Functional"
    np.testing.assert_allclose(np.load(folder / "predictions.npy"), expected, atol=1e-5)

    # Keras' verbose=2 lines: "... - loss: 2.2994 - val_accuracy: 0.3576 - val_loss: 2.2628"
    losses = [float(x) for x in re.findall(r" - loss: ([\d.]+)", result.stdout)]
    val_losses = [float(x) for x in re.findall(r" - val_loss: ([\d.]+)", result.stdout)]
    # The trained epochs (the lab's epoch 0 is its untrained point, which Keras does not print).
    assert losses == pytest.approx(
        [r.value for r in store.metrics(run_id, names=["loss"]) if r.epoch], rel=1e-2)
    assert val_losses == pytest.approx(
        [r.value for r in store.metrics(run_id, names=["val_loss"]) if r.epoch], rel=1e-2)
    assert report["test_accuracy"] == pytest.approx(record.final_metrics["test_accuracy"], abs=0.05)


def _fashion_home(tmp_path, monkeypatch):
    home, _ = offline_keras_home(tmp_path, monkeypatch, copy_from=SHARED / "keras")
    if not (home / "datasets" / "fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST is not in shared/data/keras")


@pytest.mark.parametrize(("overrides", "needs_keras_home"), [
    ({"dataset": "digits", "image_size": 16, "train_size": 300}, False),
    ({"dataset": "digits", "validation_fraction": 0.0, "train_size": 100, "seed": 3}, False),
    ({"dataset": "shapes", "image_size": 12, "train_size": 200, "validation_fraction": 0.1,
      "seed": 5}, False),
    ({"dataset": "fashion_mnist", "image_size": 20, "train_size": 500, "seed": 1}, True),
])
def test_the_script_loads_the_runs_data_exactly(tmp_path, monkeypatch, keras_registry, overrides,
                                                 needs_keras_home):
    from cnnlab.data import load_dataset

    if needs_keras_home:
        _fashion_home(tmp_path, monkeypatch)
    config = ExperimentConfig(**overrides)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _script_namespace(tmp_path, config)["load_data"]()
    data = load_dataset(config.dataset, image_size=config.image_size, train_size=config.train_size,
                        validation_fraction=config.validation_fraction, seed=config.seed)
    for ours, theirs in [(x_train, data.x_train), (y_train, data.y_train), (x_val, data.x_val),
                         (y_val, data.y_val), (x_test, data.x_test), (y_test, data.y_test)]:
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_the_scripts_augmented_batches_are_the_labs(tmp_path, keras_registry):
    """The script's pipeline, with the lab's layers copied in, gives the very same batches."""
    import keras

    from cnnlab.augment.pipeline import make_training_dataset
    from cnnlab.data import load_dataset

    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, batch_size=16, seed=4)
    config = config.with_overrides({
        "augmentation.rotation_range": 15.0, "augmentation.zoom_range": 0.1,
        "augmentation.horizontal_flip": True, "augmentation.crop_padding": 2,
        "augmentation.brightness_range": 0.2, "augmentation.channel_shift_range": 0.1,
        "augmentation.mixup_alpha": 0.4, "augmentation.cutmix_alpha": 1.0,
    })
    script = _script_namespace(tmp_path, config)
    data = load_dataset("digits", image_size=16, train_size=64, seed=4)
    # The run seeds everything before it builds its pipeline; so does the script's main().
    keras.utils.set_random_seed(4)
    dataset = script["training_dataset"](data.x_train, data.y_train)
    ours = list(dataset) + list(dataset)  # two epochs: reshuffled, the layers' seeds advanced
    keras.utils.set_random_seed(4)
    dataset = make_training_dataset(data.x_train, data.y_train, num_classes=10, batch_size=16,
                                    augmentation=config.augmentation, seed=4)
    theirs = list(dataset) + list(dataset)
    assert len(ours) == len(theirs) == 8
    for (x_ours, y_ours), (x_theirs, y_theirs) in zip(ours, theirs):
        np.testing.assert_array_equal(x_ours.numpy(), x_theirs.numpy())
        np.testing.assert_array_equal(y_ours.numpy(), y_theirs.numpy())
    assert not np.array_equal(ours[0][0].numpy(), np.asarray(data.x_train[:16]))


@pytest.mark.parametrize("overrides", [
    {},
    {"schedule.kind": "time_based", "schedule.decay_rate": 0.5, "optimizer": "sgd",
     "optimizer_options.momentum": 0.9, "optimizer_options.nesterov": True},
    {"schedule.kind": "step", "schedule.step_size": 2, "optimizer": "rmsprop",
     "optimizer_options.clipnorm": 1.0},
    {"schedule.kind": "exponential", "schedule.unit": "iteration", "schedule.decay_rate": 0.01,
     "optimizer": "adamw", "optimizer_options.clipvalue": 0.5},
    {"schedule.kind": "cosine", "schedule.min_learning_rate": 1e-5, "optimizer": "adagrad"},
    {"schedule.kind": "warmup", "schedule.warmup_epochs": 1.5, "optimizer": "adadelta"},
    {"schedule.kind": "warmup", "schedule.unit": "iteration", "optimizer": "nadam"},
    {"schedule.kind": "one_cycle", "optimizer": "adamax"},
    {"schedule.kind": "plateau", "schedule.patience": 1, "early_stopping.enabled": True,
     "early_stopping.monitor": "val_accuracy", "early_stopping.patience": 2},
])
def test_the_scripts_optimizer_and_schedule_are_the_labs(tmp_path, keras_registry, overrides):
    import keras

    from cnnlab.schedules import make_learning_rate, schedule_callbacks
    from cnnlab.training.optimizers import make_optimizer

    config = ExperimentConfig(dataset="digits", train_size=200, batch_size=32, epochs=6,
                              learning_rate=0.01).with_overrides(overrides)
    steps = 7  # ceil(200 / 32)
    script = _script_namespace(tmp_path, config)
    ours = script["make_optimizer"](steps)
    rate = make_learning_rate(config, steps)
    theirs = make_optimizer(config, rate)
    assert type(ours) is type(theirs)
    skip = {"name", "learning_rate"}
    assert {k: v for k, v in ours.get_config().items() if k not in skip} == \
        {k: v for k, v in theirs.get_config().items() if k not in skip}
    schedule = ours._learning_rate
    iterations = range(0, 6 * steps, 3)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        expected = [float(rate(i)) for i in iterations]
        assert [float(schedule(i)) for i in iterations] == pytest.approx(expected, rel=1e-6)
    else:
        assert float(ours.learning_rate) == pytest.approx(rate)
    callbacks = script["make_callbacks"](None)
    assert isinstance(callbacks[0], keras.callbacks.TerminateOnNaN)
    names = [type(c).__name__ for c in callbacks[1:]]
    expected_names = [type(c).__name__ for c in schedule_callbacks(config)]
    if config.early_stopping.enabled:
        expected_names.append("EarlyStopping")
        early = callbacks[-1]
        assert (early.monitor, early.patience, early.restore_best_weights) == (
            "val_accuracy", 2, config.early_stopping.restore_best_weights)
        assert early.mode == "max"
    assert names == expected_names


def test_plain_model_replaces_the_labs_layers_and_computes_the_same():
    """ResNet's option-A shortcut is a lab layer; the plain model uses Keras layers instead."""
    from cnnlab.models import build_model
    from cnnlab.training.train_step import wrap

    model = wrap(build_model("resnet8", (16, 16, 1), 10))
    assert "cnnlab>ZeroPadChannels" in model.to_json()
    plain = plain_model(model)
    assert type(plain).__name__ == "Functional"
    assert "cnnlab" not in plain.to_json()
    assert plain.count_params() == model.count_params()
    images = np.random.default_rng(0).random((8, 16, 16, 1), dtype=np.float32)
    np.testing.assert_allclose(plain.predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=1e-6)


def test_a_run_without_a_model_exports_the_rest(store, tiny_config):
    """A stopped run saved no model: the bundle has no model.keras, the architecture still."""
    config = tiny_config.with_overrides({"architecture": "lenet5"})
    run_id = store.create_run(config.to_dict())
    with pytest.raises(ValueError, match="only a finished run can be exported"):
        export_run(store, run_id)
    store.mark_running(run_id, device="CPU")
    store.finish_run(run_id, "stopped")
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as bundle:
        assert sorted(bundle.namelist()) == sorted(set(BUNDLE_FILES) - {"model.keras"})
        architecture = json.loads(bundle.read(ARCHITECTURE_FILE))
        script = bundle.read("train.py").decode()
    assert architecture["config"]["name"] == "lenet5"
    assert "ended stopped" in script and "RUN_TEST_ACCURACY = None" in script
    with pytest.raises(ValueError, match="Unknown run"):
        export_run(store, "20990101-000000-beef")


def test_the_scripts_batch_norm_keeps_the_runs_momentum(store, tiny_config):
    """train.py builds from architecture.json, which carries each BN layer's momentum."""
    config = tiny_config.with_overrides({"tricks.batch_norm": True, "tricks.batch_norm_momentum": 0.7})
    run_id = store.create_run(config.to_dict())
    store.mark_running(run_id, device="CPU")
    store.finish_run(run_id, "stopped")
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as bundle:
        architecture = bundle.read(ARCHITECTURE_FILE).decode()
        script = bundle.read("train.py").decode()
    import keras

    assert "keras.models.model_from_json" in script
    model = keras.models.model_from_json(architecture)
    momenta = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.7}
    assert "BN momentum 0.7" in script  # the docstring's experiment summary says it


def test_a_transfer_run_says_its_script_trains_from_scratch():
    config = ExperimentConfig(dataset="digits", architecture="pretrained_mobilenet_v2")
    script = training_script(config)
    assert "NOT REPRODUCED" in script and "FROM SCRATCH" in script
    assert "layer.trainable = True" in script
    assert "NOT REPRODUCED" not in training_script(ExperimentConfig(dataset="digits"))


def _photo_folder(tmp_path, per_class: int = 12) -> Path:
    """A folder of class folders: the first real ant and bee photos, and a hidden file."""
    from tests.test_image_folders import copy_shared

    folder = copy_shared("hymenoptera-train", tmp_path / "shared")
    for label in ("ants", "bees"):
        for path in sorted((folder / label).iterdir())[per_class:]:
            path.unlink()
    (folder / "ants" / ".DS_Store").write_bytes(b"\0\1")
    return folder


def test_the_script_reads_a_folder_of_class_folders_as_the_lab_imports_it(store, tmp_path, keras_registry,
                                                                          capsys):
    """`--data FOLDER` on a run of an imported data set gives the run's images and split."""
    from cnnlab.data import load_dataset
    from cnnlab.data.image_folders import import_images

    folder = _photo_folder(tmp_path)
    import_images(folder, "antsbees", image_size=24, test_fraction=0.25, seed=3)
    config = ExperimentConfig(dataset="folder:antsbees", image_size=16, validation_fraction=0.25,
                              batch_size=4, seed=2)
    script = _script_namespace(tmp_path, config)
    ours = script["load_data"](folder)
    data = load_dataset(config.dataset, image_size=16, validation_fraction=0.25, seed=2)
    for mine, theirs in zip([array for pair in ours for array in pair],
                            [data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test]):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)
    # Without --data, a run of an imported data set says where its images must come from.
    with pytest.raises(SystemExit, match="python train.py --data FOLDER"):
        script["load_data"]()
    # A folder with another number of classes than the model's outputs is refused.
    (folder / "wasps").mkdir()
    (folder / "wasps" / "a.png").write_bytes((folder / "ants").joinpath(
        sorted(p.name for p in (folder / "ants").iterdir() if p.suffix == ".jpg")[0]).read_bytes())
    with pytest.raises(SystemExit, match="3 class folders .*Expected 2"):
        script["load_data"](folder)
    with pytest.raises(SystemExit):
        script["parse_arguments"](["--epochs", "0"])
    assert "--epochs must be 1 or more" in capsys.readouterr().err
    assert script["parse_arguments"]([]).epochs == config.epochs


def test_the_exported_script_takes_epochs_and_data_on_its_command_line(store, tmp_path):
    """Run as a user would, where cnnlab cannot be imported: python train.py --epochs 1 --data FOLDER."""
    from cnnlab.data.image_folders import import_images

    folder = _photo_folder(tmp_path, per_class=8)
    import_images(folder, "antsbees", image_size=16)
    config = ExperimentConfig(dataset="folder:antsbees", epochs=6, batch_size=4)
    run_id = store.create_run(config.to_dict())
    store.finish_run(run_id, "stopped")  # no model: the bundle still has train.py and the architecture
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as archive:
        archive.extractall(bundle)
    code = f"""
import runpy, sys
sys.modules["cnnlab"] = None
sys.argv = ["train.py", "--epochs", "1", "--data", {str(folder)!r}]
runpy.run_path("train.py", run_name="__main__")
"""
    result = _cnnlab_free_python(bundle, code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(re.findall(r" - loss: [\d.]+", result.stdout)) == 1, result.stdout  # one epoch, not 6
    assert "--data " in result.stdout and "16 images of ants, bees" in result.stdout
    assert re.search(r"test_accuracy=\d\.\d{4}", result.stdout)

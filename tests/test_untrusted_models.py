"""The lab loads only the models it saved itself, never a .keras or .h5 file a user hands it.

A Keras file is code as much as data (custom objects, a Lambda's bytecode where safe mode
is off), so on a shared server a student must not be able to make the lab open a file of
their choosing. Every way a user can give the lab a file or a path is driven here with a
real, loadable Keras file as the bait, while the loaders are replaced by recorders: the
only loads allowed are of a completed run's own `model.keras`, and of Keras' own cached
ImageNet weights under Keras' own file name. A static scan keeps the loaders few, so a new
one cannot appear without review.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import keras
import pytest

from cnnlab.config import ExperimentConfig, flatten
from cnnlab.data.image_folders import scan_images
from cnnlab.data.images import UPLOAD_TYPES
from cnnlab.export.bundle import BUNDLE_FILES, export_run
from cnnlab.export.link import config_from_params, config_from_upload
from cnnlab.store import RunStore
from cnnlab.training import JobManager
from cnnlab.training.transfer import load_run_model
from tests.hostile_corpus import GOOD, LIMITS, make_zip

ROOT = Path(__file__).resolve().parents[1]
TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1, batch_size=32)
# The two loaders of the lab, as (file, function); see test_only_the_two_lab_loaders_load_models.
LAB_LOADERS = {("cnnlab/training/transfer.py", "load_run_model"),
               ("cnnlab/export/bundle.py", "_load_model")}
LOADING_NAMES = {"load_model", "load_weights", "load_model_from_hdf5", "load_weights_from_hdf5_group"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A lab home with one real completed run (its own model.keras), shared by the module."""
    home = tmp_path_factory.mktemp("lab")
    manager = JobManager(RunStore(home), max_concurrent=1)
    run_id = manager.submit(TINY)
    record = manager.wait(run_id, timeout=300)
    manager.shutdown(timeout=60)
    assert record.status == "completed", record.error
    return home, run_id


@pytest.fixture(scope="module")
def bait(tmp_path_factory):
    """An attacker's files: a loadable model.keras and a weights .h5 of the same shapes."""
    folder = tmp_path_factory.mktemp("evil")
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, name="predictions")], name="evil")
    model.save(folder / "model.keras")
    model.save_weights(folder / "weights.weights.h5")
    return folder / "model.keras", folder / "weights.weights.h5"


@pytest.fixture
def loads(monkeypatch):
    """Every model or weights load, as (what, resolved path); the real loader still runs."""
    seen: list[tuple[str, str]] = []

    def recorded(what, real, path_position):
        def load(*args, **kwargs):
            path = args[path_position] if len(args) > path_position else kwargs.get("filepath")
            seen.append((what, str(Path(path).resolve())))
            return real(*args, **kwargs)
        return load

    for module in (keras.saving, keras.models):
        monkeypatch.setattr(module, "load_model", recorded("load_model", module.load_model, 0))
    monkeypatch.setattr(keras.saving, "load_weights",
                        recorded("load_weights", keras.saving.load_weights, 1))
    monkeypatch.setattr(keras.Model, "load_weights",
                        recorded("load_weights", keras.Model.load_weights, 1))
    return seen


def _own_model_files(store) -> set[str]:
    return {str((store.run_dir(record.run_id) / "model.keras").resolve())
            for record in store.list_runs(statuses=["completed"])}


# -- uploads -------------------------------------------------------------------------------


def test_model_files_in_an_uploaded_zip_or_folder_are_skipped_as_non_images(loads, bait, tmp_path):
    model_bytes, weights_bytes = bait[0].read_bytes(), bait[1].read_bytes()
    planted = {"ants/model.keras": model_bytes, "bees/weights.h5": weights_bytes,
               "bees/model.png": model_bytes}  # a model under an image's name
    folder = tmp_path / "upload"
    for name, data in {**GOOD, **planted}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    for source in (make_zip(planted), folder):
        scan = scan_images(source, limits=LIMITS)
        assert scan.class_counts == (3, 3)  # the photos only
        reasons = {item.path.removeprefix("upload/"): item.category for item in scan.skipped}
        assert reasons == {"ants/model.keras": "archive", "bees/weights.h5": "not_image",
                           "bees/model.png": "archive"}
    assert loads == []


def _uploader_types(node: ast.Call):
    """The `type=` of a st.file_uploader call, evaluated; None when it accepts any file."""
    value = next((keyword.value for keyword in node.keywords if keyword.arg == "type"), None)
    if value is None:
        return None
    if isinstance(value, ast.Call) and ast.unparse(value) == "list(UPLOAD_TYPES)":
        return list(UPLOAD_TYPES)
    return ast.literal_eval(value)  # a new kind of expression fails here: review it


def test_every_file_uploader_takes_only_images_a_zip_or_a_json_config():
    images = {"png", "jpg", "jpeg", "gif", "bmp", "tiff", "tif", "webp"}
    found = {}
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "file_uploader":
                found[f"{path.relative_to(ROOT)}:{node.lineno}"] = _uploader_types(node)
    assert found, "no uploader found: the scan itself is broken"
    for where, types in found.items():
        assert types is not None, f"{where} accepts any file"
        assert set(types) <= images | {"zip", "json"}, f"{where} accepts {types}"
    # The Data page takes only a zip (its images are decoded, never a model opened); the
    # Train page's import only a JSON config; the Augment, Inspect and Convolutions pages
    # only a photo.
    assert {where.split(":")[0]: tuple(types) for where, types in found.items()} == {
        "pages/2_Augment.py": tuple(UPLOAD_TYPES), "ui/inspect_view.py": tuple(UPLOAD_TYPES),
        "ui/convolution_controls.py": tuple(UPLOAD_TYPES),
        "ui/data_import.py": ("zip",),
        "ui/share_controls.py": ("json",)}


# -- shared configs --------------------------------------------------------------------------


def _text_fields() -> list[str]:
    """Every config field that holds text or None: where a path could be smuggled in."""
    return [field for field, value in flatten(ExperimentConfig().to_dict()).items()
            if value is None or isinstance(value, str)]


def _as_upload(field: str, value) -> bytes:
    data = ExperimentConfig().to_dict()
    node = data
    *parents, leaf = field.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize("field", _text_fields())
@pytest.mark.parametrize("target", ["model", "weights", "parent"])
def test_no_config_field_can_point_the_lab_at_a_file(loads, lab, bait, field, target):
    store = RunStore(lab[0])
    before = store.list_runs()
    value = {"model": str(bait[0]), "weights": str(bait[1]), "parent": "../evil"}[target]
    manager = JobManager(store, max_concurrent=1)
    try:
        for read in (lambda: config_from_upload(_as_upload(field, value)),
                     lambda: config_from_params({field: value})):
            with pytest.raises(ValueError) as caught:
                manager.submit(read())  # refused when read, or else at submit
            assert "Expected" in str(caught.value)
    finally:
        manager.shutdown(timeout=60)
    assert store.list_runs() == before
    assert loads == []


BAD_RUN_IDS = {
    "../evil": "Invalid `run_id`",
    "/tmp/evil/model.keras": "Invalid `run_id`",
    "C:\\evil\\model.keras": "Invalid `run_id`",
    "..": "Invalid `run_id`",
    "20990101-000000-beef": "Unknown run",  # a folder with a model.keras, but no record
}


@pytest.mark.parametrize("status", ["queued", "running", "failed", "stopped", "diverged",
                                    "interrupted", *BAD_RUN_IDS])
def test_a_planted_model_outside_a_completed_run_is_never_loaded(loads, lab, bait, status):
    """A start run, a load and an export of anything but a completed run open no file."""
    home, _ = lab
    store = RunStore(home)
    if status in BAD_RUN_IDS:
        run_id, expected = status, BAD_RUN_IDS[status]
        if expected == "Unknown run":
            (home / run_id).mkdir(exist_ok=True)
            shutil.copy(bait[0], home / run_id / "model.keras")
    else:
        run_id = store.create_run(TINY.to_dict(), name=f"planted {status}")
        if status != "queued":
            store.mark_running(run_id, device="CPU")
        if status not in ("queued", "running"):
            store.finish_run(run_id, status, error="planted")
        shutil.copy(bait[0], store.run_dir(run_id) / "model.keras")
        expected = f"it is {status}, and only a completed run has a trained model"
    before = store.list_runs()

    config = config_from_upload(_as_upload("transfer.start_from_run", run_id))
    config = config.with_overrides({"dataset": "digits", "image_size": 16, "train_size": 64,
                                    "epochs": 1})
    manager = JobManager(store, max_concurrent=1)
    try:
        with pytest.raises(ValueError, match=re.escape(expected)):
            manager.submit(config)
    finally:
        manager.shutdown(timeout=60)
    with pytest.raises(ValueError):
        load_run_model(store, run_id)
    if status in ("failed", "stopped", "diverged", "interrupted"):
        with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as bundle:
            assert "model.keras" not in bundle.namelist()  # nor was the planted one opened
    assert store.list_runs() == before
    assert loads == []


def test_a_completed_run_is_loaded_from_its_own_folder_and_from_nowhere_else(loads, lab):
    """The control: the recorder does see the lab's own loads, each of its own file."""
    home, run_id = lab
    store = RunStore(home)
    own = str((home / run_id / "model.keras").resolve())
    assert load_run_model(store, run_id).count_params() > 0
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as bundle:
        assert sorted(bundle.namelist()) == sorted(BUNDLE_FILES)
    assert loads == [("load_model", own), ("load_model", own)]

    # A shared config that starts from it trains, loading that file and no other.
    config = config_from_upload(_as_upload("transfer.start_from_run", run_id))
    config = config.with_overrides({"dataset": "digits", "image_size": 16, "train_size": 64,
                                    "epochs": 1, "batch_size": 32})
    manager = JobManager(store, max_concurrent=1)
    try:
        record = manager.wait(manager.submit(config), timeout=300)
    finally:
        manager.shutdown(timeout=60)
    assert record.status == "completed", record.error
    assert loads[2:] == [("load_model", own)]
    assert {path for _, path in loads} <= _own_model_files(store)


# -- the loaders in the source ---------------------------------------------------------------


def _loading_calls(path: Path) -> set[tuple[str, str]]:
    """(file, enclosing function) of every call or import of a Keras loading function."""
    tree = ast.parse(path.read_text())
    found = set()

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call):
                name = getattr(child.func, "attr", getattr(child.func, "id", None))
                if name in LOADING_NAMES:
                    found.add((path.relative_to(ROOT).as_posix(), function))
            if isinstance(child, ast.ImportFrom) and any(a.name in LOADING_NAMES for a in child.names):
                found.add((path.relative_to(ROOT).as_posix(), f"import in {function}"))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_only_the_two_lab_loaders_load_models():
    """A new load_model or load_weights in cnnlab/ fails this test until it is reviewed."""
    found = set()
    for path in sorted((ROOT / "cnnlab").rglob("*.py")):
        found |= _loading_calls(path)
    assert found == LAB_LOADERS
    # The scan does find a loader where there is one (it is not blind).
    bundle = ROOT / "cnnlab" / "export" / "bundle.py"
    assert _loading_calls(bundle) == {("cnnlab/export/bundle.py", "_load_model")}


def test_imagenet_weights_are_loaded_only_from_keras_cache_under_keras_own_name(
        loads, tmp_path, monkeypatch):
    """A pretrained backbone loads one file: Keras' cached weights, by Keras' file name.

    Statically, each keras.applications call in cnnlab/models/pretrained.py passes
    `weights` as the literal "imagenet" or None, never a value a user could set; the
    config admits only "imagenet" and "random" (a path is refused in
    test_no_config_field_can_point_the_lab_at_a_file).
    """
    from cnnlab.models.pretrained import (
        build_transfer_model,
        weights_file,
        weights_folder,
    )
    from tests.keras_home import offline_keras_home, write_mobilenet_v2_weights

    source = ROOT / "cnnlab" / "models" / "pretrained.py"
    calls = [node for node in ast.walk(ast.parse(source.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "application"]
    assert len(calls) == 2
    for call in calls:
        weights = next(keyword.value for keyword in call.keywords if keyword.arg == "weights")
        assert isinstance(weights, ast.Constant) and weights.value in ("imagenet", None)

    home, downloads = offline_keras_home(tmp_path, monkeypatch)
    write_mobilenet_v2_weights(home, 96)
    build_transfer_model("pretrained_mobilenet_v2", (96, 96, 1), 3, weights="imagenet")
    expected = os.path.join(weights_folder(), weights_file("pretrained_mobilenet_v2", (96, 96, 1)))
    assert expected == str(home / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5")
    assert loads == [("load_weights", str(Path(expected).resolve()))]
    assert downloads == []

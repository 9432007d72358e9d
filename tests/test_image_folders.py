"""Image folders as data sets: the hostile corpus, the real photo folders, the store, training."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.config import ExperimentConfig
from cnnlab.data import (
    DATASETS,
    dataset_names,
    get_info,
    load_dataset,
    planned_train_count,
)
from cnnlab.data.image_folders import (
    NotEnoughClasses,
    import_images,
    import_scan,
    scan_images,
)
from cnnlab.data.image_store import (
    MANIFEST,
    datasets_dir,
    delete_stored,
    find_stored,
    list_stored,
    load_stored_pool,
    suggest_name,
    write_stored,
)
from cnnlab.data.uploads import UploadRejected
from cnnlab.data.uploads.limits import UploadLimits
from tests.hostile_corpus import (
    ABSOLUTE_TARGET,
    LIMITS,
    MODES,
    NORMALISE,
    REJECT,
    corpus,
    make_zip,
    mode_files,
)
from tests.images import encode, photo

ROOT = Path(__file__).resolve().parents[1]
# The real photo sets beside the checkout; CNNLAB_SHARED_DATA points elsewhere (a worktree).
SHARED = Path(os.environ.get("CNNLAB_SHARED_DATA") or ROOT.parent / "shared" / "data") / "images"
CIFAR_COUNTS = {"airplane": 14, "automobile": 28, "bird": 22, "cat": 21, "deer": 19, "dog": 19,
                "frog": 18, "horse": 21, "ship": 15, "truck": 23}
CASES = corpus()


def copy_shared(name: str, destination: Path) -> Path:
    """A writable copy of a read-only shared photo folder."""
    source = SHARED / name
    if not source.is_dir():
        pytest.skip(f"the shared photo folder {source} is not here")
    target = destination / name
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if not path.is_dir()}


# -- the hostile corpus ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_hostile_upload_is_rejected_or_normalised_with_a_message(case, tmp_path):
    home = tmp_path / "home"
    if case.outcome == REJECT:
        with pytest.raises(ValueError) as caught:
            scan_images(case.data, label=f"{case.id}.zip", limits=case.limits)
        assert case.phrase in str(caught.value)
        assert "Expected" in str(caught.value)  # the Keras form: what was expected, what came
        assert not datasets_dir(home).exists()
        return
    scan = scan_images(case.data, label=f"{case.id}.zip", limits=case.limits)
    if case.skipped is not None:
        reasons = {item.path: item.reason for item in scan.skipped}
        assert case.phrase in reasons[case.skipped], reasons
        assert f"{len(scan.skipped)} skipped" in scan.text()
    else:
        assert any(case.phrase in note for note in scan.notes), scan.notes
    assert scan.class_names[:2] == ("ants", "bees") and scan.num_images >= 6
    manifest = import_scan(scan, "corpus", image_size=16, home=home)
    assert manifest.skipped_count == len(scan.skipped)
    (x_pool, _, x_test, _), _ = load_stored_pool("corpus", home)
    assert len(x_pool) + len(x_test) == scan.num_images


def test_the_corpus_writes_nothing_outside_the_data_set_folder(tmp_path, monkeypatch):
    """Zip-slip targets are where a naive extractor would write: beside the working folder,
    the absolute path, the temp folder. Every case runs end to end (scan, then import where
    it scans); afterwards the only new files are the stored data sets' own."""
    import tempfile

    work = tmp_path / "work" / "cwd"
    work.mkdir(parents=True)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    home = tmp_path / "home"
    before = files_under(tmp_path)
    outcomes = {REJECT: 0, NORMALISE: 0}
    for number, case in enumerate(CASES):
        try:
            scan = scan_images(case.data, label=case.id, limits=case.limits)
        except ValueError as error:
            assert str(error)
            outcomes[REJECT] += 1
            continue
        import_scan(scan, f"case{number}", image_size=8, home=home)
        outcomes[NORMALISE] += 1
    assert outcomes == {REJECT: sum(c.outcome == REJECT for c in CASES),
                        NORMALISE: sum(c.outcome == NORMALISE for c in CASES)}
    print(f"\nhostile corpus: {len(CASES)} uploads, {outcomes[REJECT]} rejected, "
          f"{outcomes[NORMALISE]} normalised, 0 written outside the data set folders")
    new = files_under(tmp_path) - before
    allowed = datasets_dir(home)
    outside = [path for path in new if allowed not in path.parents]
    assert outside == []
    assert {path.name for path in new} == {"images.npz", MANIFEST}
    assert not Path(ABSOLUTE_TARGET).exists()
    assert not any(name.startswith(".") for name in os.listdir(allowed))  # no staging left
    assert os.listdir(private_tmp) == []


def test_every_pillow_mode_is_read_and_converted():
    for mode, (name, make) in MODES.items():
        assert Image.open(io.BytesIO(make())).mode == mode, name  # the case is real
    scan = scan_images(make_zip(mode_files()), limits=LIMITS)
    assert scan.num_images == 6 + len(MODES) and not scan.skipped
    assert set(scan.modes) == set(MODES)
    note = next(note for note in scan.notes if note.startswith("Converted from other modes"))
    assert all(f"mode {mode}" in note for mode in MODES if mode != "RGB")


# -- layout -----------------------------------------------------------------------------------


def test_a_wrapping_folder_and_deep_files_and_junk(tmp_path):
    files = {f"photos/{key}": data for key, data in
             {"ants/0.png": photo(1), "ants/1.png": photo(2), "bees/0.png": photo(3),
              "bees/more/1.png": photo(4), "notes.txt": b"about"}.items()}
    files["__MACOSX/photos/._notes.txt"] = b"junk"
    scan = scan_images(make_zip(files, base=False), limits=LIMITS)
    assert scan.class_names == ("ants", "bees") and scan.class_counts == (2, 2)
    assert "Read the class folders inside 'photos/'." in scan.notes
    assert any("sub-folders of a class folder" in note for note in scan.notes)
    assert {item.path: item.category for item in scan.skipped} == {
        "photos/notes.txt": "outside", "__MACOSX/photos/._notes.txt": "hidden"}
    assert scan.text() == ("2 classes, 4 images, 2 skipped: 1 hidden or system file, "
                           "1 file outside the class folders.")


def test_not_enough_classes_keeps_the_scan_for_display():
    with pytest.raises(NotEnoughClasses) as caught:
        scan_images(make_zip({"ants/a.png": photo(1), "ants/b.txt": b"x"}, base=False), limits=LIMITS)
    assert caught.value.scan.class_names == ("ants",)
    assert [item.path for item in caught.value.scan.skipped] == ["ants/b.txt"]
    assert "Skipped: 1 file that is not an image" in str(caught.value)


def test_too_many_images_is_refused():
    with pytest.raises(UploadRejected, match="Expected at most 5"):
        scan_images(make_zip({}), limits=UploadLimits(max_images=5))


def test_grey_images_are_stored_with_one_channel(tmp_path):
    grey = {f"{c}/{i}.png": encode(Image.fromarray(np.full((9, 9), 40 * i + 10 * j, np.uint8), "L"), "PNG")
            for j, c in enumerate(["dark", "light"]) for i in range(3)}
    scan = scan_images(make_zip(grey, base=False), limits=LIMITS)
    assert scan.grey
    manifest = import_scan(scan, "greys", image_size=8, home=tmp_path)
    assert manifest.channels == 1
    assert import_scan(scan, "greys_rgb", image_size=8, channels=3, home=tmp_path).channels == 3
    assert not scan_images(make_zip({}), limits=LIMITS).grey


# -- the real photo folders -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ants_bees(tmp_path_factory):
    """The 242 ants-and-bees photos, copied, zipped with a wrapper folder and junk, imported."""
    tmp = tmp_path_factory.mktemp("ants_bees")
    folder = copy_shared("hymenoptera-train", tmp)
    archive = tmp / "hymenoptera.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(folder.rglob("*.jpg")):
            out.write(path, "hymenoptera/" + path.relative_to(folder).as_posix())
        out.writestr("__MACOSX/hymenoptera/ants/._0013035.jpg", b"\x00\x05\x16\x07")
        out.writestr("hymenoptera/.DS_Store", b"Bud1")
    scan = scan_images(archive)
    home = tmp / "home"
    manifest = import_scan(scan, "ants_bees", image_size=32, test_fraction=0.2, seed=0, home=home)
    return folder, scan, manifest, home


def test_the_ants_and_bees_zip_gives_the_right_classes(ants_bees):
    _, scan, manifest, _ = ants_bees
    assert scan.class_names == ("ants", "bees") and scan.class_counts == (121, 121)
    assert scan.text() == "2 classes, 242 images, 2 skipped: 2 hidden or system files."
    assert manifest.class_counts == (121, 121)
    assert (manifest.pool_size, manifest.test_size) == (194, 48)  # 0.2 * 242 = 48.4
    assert manifest.channels == 3 and manifest.image_size == 32


def test_the_ants_and_bees_folder_gives_the_same_classes(ants_bees):
    folder, _, _, _ = ants_bees
    scan = scan_images(folder)
    assert scan.class_names == ("ants", "bees") and scan.class_counts == (121, 121)
    assert not scan.skipped


def test_the_cifar_folder_gives_ten_classes(tmp_path):
    folder = copy_shared("cifar10-train-first200-png", tmp_path)
    scan = scan_images(folder)
    assert dict(zip(scan.class_names, scan.class_counts, strict=True)) == CIFAR_COUNTS
    manifest = import_scan(scan, "cifar_small", image_size=32, home=tmp_path / "home")
    (x_pool, y_pool, x_test, y_test), names = load_stored_pool("cifar_small", tmp_path / "home")
    assert names == tuple(CIFAR_COUNTS) and manifest.test_size == 40
    counts = np.bincount(np.concatenate([y_pool, y_test]), minlength=10)
    assert counts.tolist() == list(CIFAR_COUNTS.values())
    # CIFAR images are 32 px already: stored as they are, pixel for pixel.
    original = np.asarray(Image.open(min((folder / "airplane").iterdir())).convert("RGB"))
    assert any(np.array_equal(original, image) for image in x_pool[y_pool == 0]) or any(
        np.array_equal(original, image) for image in x_test[y_test == 0])


def test_the_test_split_is_stratified(ants_bees):
    _, _, _, home = ants_bees
    (_, y_pool, _, y_test), _ = load_stored_pool("ants_bees", home)
    assert np.bincount(y_test).tolist() == [24, 24] and np.bincount(y_pool).tolist() == [97, 97]


def test_the_test_split_is_seeded(tmp_path):
    files = {f"{c}/{i}.png": photo(10 * j + i) for j, c in enumerate(["a", "b", "c"]) for i in range(10)}
    scan = scan_images(make_zip(files, base=False), limits=LIMITS)
    tests = []
    for name, seed in [("first", 0), ("same", 0), ("other", 1)]:
        import_scan(scan, name, image_size=8, test_fraction=0.3, seed=seed, home=tmp_path)
        (_, _, x_test, y_test), _ = load_stored_pool(name, tmp_path)
        assert np.bincount(y_test).tolist() == [3, 3, 3]
        tests.append(x_test)
    assert np.array_equal(tests[0], tests[1]) and not np.array_equal(tests[0], tests[2])


# -- the registry, the config and the loader --------------------------------------------------


def test_a_stored_data_set_is_a_registered_data_set(ants_bees, monkeypatch):
    _, _, manifest, home = ants_bees
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    assert dataset_names()[-1] == "folder:ants_bees" and "folder:ants_bees" in DATASETS
    info = get_info("folder:ants_bees")
    assert (info.num_classes, info.channels, info.default_size, info.pool_size, info.test_size) == (
        2, 3, 32, 194, 48)
    assert info.title == "ants_bees (imported)" and "121" in info.description
    assert not info.needs_download and info.version == manifest.import_id
    assert planned_train_count("folder:ants_bees", train_size=None, validation_fraction=0.2) == 155
    config = ExperimentConfig(dataset="folder:ants_bees", image_size=24, batch_size=16)
    config.check_feasible()
    data = load_dataset("folder:ants_bees", image_size=24, validation_fraction=0.2, seed=3)
    assert data.input_shape == (24, 24, 3) and data.class_names == ("ants", "bees")
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (155, 39, 48)
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() <= data.x_train.max() <= 1


def test_elsewhere_it_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    assert "folder:ants_bees" not in DATASETS
    with pytest.raises(ValueError, match="Unknown `dataset`"):
        ExperimentConfig(dataset="folder:ants_bees")
    with pytest.raises(ValueError, match="Unknown `dataset`"):
        get_info("folder:../../etc")


def test_a_data_set_imported_again_is_not_served_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    import_images(make_zip({}), "swap", limits=LIMITS, image_size=8, test_fraction=0.5)
    first = load_dataset("folder:swap", validation_fraction=0.0)
    red = {f"{c}/{i}.png": encode(Image.new("RGB", (9, 9), (255, 0, 0)), "PNG")
           for c in ("ants", "bees") for i in range(3)}
    import_images(make_zip(red, base=False), "swap", limits=LIMITS, image_size=8, test_fraction=0.5,
                  replace=True)
    second = load_dataset("folder:swap", validation_fraction=0.0)
    assert second is not first
    assert np.allclose(second.x_train[..., 0], 1.0) and not np.allclose(first.x_train[..., 0], 1.0)


# -- the store ----------------------------------------------------------------------------


def test_names_are_checked_and_taken_names_refused(tmp_path):
    scan = scan_images(make_zip({}), limits=LIMITS)
    for bad in ["", "Ants", "../x", "a/b", "a" * 41, "-x", "con:x", None]:
        with pytest.raises(ValueError, match="Invalid data set `name`"):
            import_scan(scan, bad, home=tmp_path)
    import_scan(scan, "taken", image_size=8, home=tmp_path)
    with pytest.raises(ValueError, match="already exists"):
        import_scan(scan, "taken", image_size=8, home=tmp_path)
    assert import_scan(scan, "taken", image_size=12, home=tmp_path, replace=True).image_size == 12
    assert [m.name for m in list_stored(tmp_path)] == ["taken"]


@pytest.mark.parametrize("text, name", [("Ants & Bees.zip", "ants_bees"), ("hymenoptera-train", "hymenoptera-train"),
                                        ("???.zip", "images"), ("x" * 60 + ".zip", "x" * 40)])
def test_suggested_names(text, name):
    assert suggest_name(text) == name


@pytest.mark.parametrize("options, phrase", [
    ({"image_size": 4}, "Invalid `image_size`"), ({"image_size": 300}, "Invalid `image_size`"),
    ({"image_size": 32.0}, "Invalid `image_size`"), ({"test_fraction": 0.0}, "Invalid `test_fraction`"),
    ({"test_fraction": 0.9}, "Invalid `test_fraction`"), ({"seed": -1}, "Invalid `seed`"),
    ({"channels": 2}, "Invalid `channels`"),
])
def test_import_arguments_are_checked(tmp_path, options, phrase):
    scan = scan_images(make_zip({}), limits=LIMITS)
    with pytest.raises(ValueError, match=phrase):
        import_scan(scan, "checked", home=tmp_path, **options)
    assert not datasets_dir(tmp_path).exists()


def test_too_many_stored_bytes_suggests_a_size(tmp_path):
    scan = scan_images(make_zip({}), limits=UploadLimits(max_stored_bytes=6 * 32 * 32 * 3))
    with pytest.raises(ValueError, match="choose an image size of at most 32"):
        import_scan(scan, "big", image_size=64, home=tmp_path)


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    scan = scan_images(make_zip({}), limits=LIMITS)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        import_scan(scan, "broken", image_size=8, home=tmp_path)
    assert os.listdir(datasets_dir(tmp_path)) == []


def test_stale_staging_folders_are_cleaned_and_foreign_folders_ignored(tmp_path):
    root = datasets_dir(tmp_path)
    (root / ".incoming-old-123").mkdir(parents=True)
    os.utime(root / ".incoming-old-123", (0, 0))
    (root / "not_a_dataset").mkdir()
    (root / "bad_manifest").mkdir()
    (root / "bad_manifest" / MANIFEST).write_text("{not json")
    import_images(make_zip({}), "fine", limits=LIMITS, image_size=8, home=tmp_path)
    assert sorted(os.listdir(root)) == ["bad_manifest", "fine", "not_a_dataset"]
    assert [m.name for m in list_stored(tmp_path)] == ["fine"]


def test_delete(tmp_path):
    import_images(make_zip({}), "doomed", limits=LIMITS, image_size=8, home=tmp_path)
    delete_stored("doomed", tmp_path)
    assert find_stored("doomed", tmp_path) is None and os.listdir(datasets_dir(tmp_path)) == []
    with pytest.raises(ValueError, match="Unknown stored data set"):
        delete_stored("doomed", tmp_path)
    with pytest.raises(ValueError, match="Invalid data set `name`"):
        delete_stored("../runs", tmp_path)


def test_a_tampered_data_set_is_an_error_not_a_strange_run(tmp_path):
    manifest = import_images(make_zip({}), "tampered", limits=LIMITS, image_size=8, home=tmp_path)
    folder = datasets_dir(tmp_path) / "tampered"
    arrays = {"x_pool": np.zeros((3, 8, 8, 3), np.uint8), "y_pool": np.zeros(3, np.int32),
              "x_test": np.zeros((1, 8, 8, 3), np.uint8), "y_test": np.full(1, 7, np.int32)}
    shutil.rmtree(folder)
    write_stored(manifest.__class__(**{**manifest.__dict__, "pool_size": 3, "test_size": 1,
                                       "class_counts": (2, 2)}), arrays, home=tmp_path)
    with pytest.raises(ValueError, match="is damaged: .* labels outside 0..1"):
        load_stored_pool("tampered", tmp_path)
    (folder / "images.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="is damaged"):
        load_stored_pool("tampered", tmp_path)


def test_the_manifest_records_what_was_skipped(tmp_path):
    manifest = import_images(make_zip({"ants/cut.jpg": b"\xff\xd8\xff\xe0 cut", ".DS_Store": b"x"}),
                             "noted", label="noted.zip", limits=LIMITS, image_size=8, home=tmp_path)
    stored = json.loads((datasets_dir(tmp_path) / "noted" / MANIFEST).read_text())
    assert stored["source"] == "noted.zip" and stored["skipped_count"] == 2
    assert {path for path, _ in stored["skipped"]} == {"ants/cut.jpg", ".DS_Store"}
    assert find_stored("noted", tmp_path) == manifest


# -- the CLI and training -------------------------------------------------------------------


def _cli(*args, home: Path):
    env = {**os.environ, "CNNLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_the_cli_prints_the_summary_then_imports(tmp_path):
    zipped = tmp_path / "Small Set.zip"
    zipped.write_bytes(make_zip({"README.md": b"# hi"}))
    result = _cli("import-images", str(zipped), "--size", "16", "--dry-run", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "Small Set.zip: 2 classes, 6 images, 1 skipped: 1 file outside the class folders." in result.stdout
    assert "dry run: nothing stored" in result.stdout and not datasets_dir(tmp_path / "home").exists()
    result = _cli("import-images", str(zipped), "--size", "16", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "stored 'folder:small_set'" in result.stdout
    assert "--set dataset=folder:small_set" in result.stdout
    listing = _cli("datasets", home=tmp_path / "home")
    assert "folder:small_set" in listing.stdout
    again = _cli("import-images", str(zipped), "--name", "small_set", home=tmp_path / "home")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert _cli("datasets", "--delete", "small_set", home=tmp_path / "home").returncode == 0
    assert list_stored(tmp_path / "home") == []


def test_the_cli_refuses_a_hostile_zip(tmp_path):
    zipped = tmp_path / "evil.zip"
    zipped.write_bytes(make_zip({"../../evil.png": photo()}))
    result = _cli("import-images", str(zipped), "--name", "evil", home=tmp_path / "home")
    assert result.returncode == 2 and "climbs out of the archive" in result.stderr
    assert not (tmp_path / "evil.png").exists() and not datasets_dir(tmp_path / "home").exists()


def test_a_short_training_run_on_the_imported_photos_completes(ants_bees, store, lab_home):
    from cnnlab.training.job import execute_run

    _, _, _, home = ants_bees
    shutil.copytree(datasets_dir(home) / "ants_bees", datasets_dir(lab_home) / "ants_bees")
    config = ExperimentConfig(dataset="folder:ants_bees", image_size=32, epochs=2, batch_size=32)
    run_id = store.create_run(config.to_dict())
    status = execute_run(store, run_id, config, threading.Event())
    record = store.get_run(run_id)
    assert status == "completed", record.error
    assert 0.0 <= record.final_metrics["test_accuracy"] <= 1.0
    assert record.progress["epoch"] == 2

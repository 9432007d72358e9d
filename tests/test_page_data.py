"""The Data page, run headless with Streamlit's AppTest: upload, summary, import, list, delete."""

from __future__ import annotations

import os

import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.data.image_folders import import_images
from cnnlab.data.image_store import datasets_dir, list_stored
from cnnlab.store import RunStore
from cnnlab.text import md
from tests.apptest import fresh_resources, open_page  # noqa: F401  (fixture)
from tests.hostile_corpus import LIMITS, make_zip
from tests.images import photo
from ui.resources import job_manager

pytestmark = pytest.mark.usefixtures("fresh_resources")


def data_page():
    return open_page("pages/4_Data.py")


def upload(app, name: str, data: bytes):
    app.file_uploader(key="data_upload").upload(name, data, "application/zip")
    return app.run()


def test_the_page_opens_with_an_uploader_for_zips_and_no_data_sets(lab_home):
    app = data_page()
    assert not app.exception and not app.error
    uploader = app.file_uploader(key="data_upload")
    assert uploader.allowed_type == [".zip"]
    assert any("No imported data sets yet" in info.value for info in app.info)
    assert any(link.label == "Data" for link in app.sidebar.get("page_link"))


def test_upload_shows_the_summary_then_imports_into_the_store(lab_home):
    app = upload(data_page(), "My Photos.zip", make_zip({"README.txt": b"hi", ".DS_Store": b"x"}))
    assert not app.exception and not app.error
    summary = app.success[0].value
    assert "2 classes, 6 images, 2 skipped" in summary and "My Photos" in summary
    assert app.text_input(key="data_name").value == "my_photos"
    assert any("5 images for training and validation, 1 for testing" in c.value for c in app.caption)
    assert list_stored(lab_home) == []  # nothing stored before Import

    app.select_slider(key="data_size").set_value(16)
    next(button for button in app.button if button.label == "Import").click().run()
    assert not app.exception and not app.error
    [stored] = list_stored(lab_home)
    assert (stored.name, stored.image_size, stored.num_images) == ("my_photos", 16, 6)
    assert any("Stored 'my\\_photos'" in s.value for s in app.success)
    assert any("folder:my_photos" in m.value for m in app.markdown)


def test_the_train_form_offers_the_imported_data_set(lab_home):
    import_images(make_zip({}), "bugs", limits=LIMITS, image_size=16, home=lab_home)
    app = open_page("pages/1_Train.py")
    assert not app.exception
    dataset = app.selectbox(key="train_dataset")
    assert "bugs (imported)" in dataset.options
    dataset.select("folder:bugs").run()
    assert not app.exception
    assert any("imported from" in c.value for c in app.caption)


def test_a_hostile_upload_shows_the_reason_and_stores_nothing(lab_home):
    app = upload(data_page(), "evil.zip", make_zip({"../../evil.png": photo()}))
    assert not app.exception
    assert "climbs out of the archive" in app.error[0].value
    assert not any(button.label == "Import" for button in app.button)
    assert not datasets_dir(lab_home).exists()


def test_one_class_shows_the_error_and_the_skipped_files(lab_home):
    app = upload(data_page(), "ants.zip", make_zip({"ants/a.png": photo(1), "ants/b.txt": b"x"}, base=False))
    assert "Only one class" in app.error[0].value
    assert app.expander[0].label == "Skipped files (1)"


def test_names_from_an_upload_are_shown_escaped(lab_home):
    app = upload(data_page(), "![x](http://tracker.example).zip", make_zip({}))
    summary = app.success[0].value
    assert "\\!\\[x\\]\\(http" in summary and "![x](" not in summary


def test_a_taken_name_is_an_error(lab_home):
    import_images(make_zip({}), "taken", limits=LIMITS, image_size=16, home=lab_home)
    app = upload(data_page(), "taken.zip", make_zip({}))
    next(button for button in app.button if button.label == "Import").click().run()
    assert "already exists" in app.error[0].value


def test_delete_asks_first(lab_home):
    import_images(make_zip({}), "doomed", limits=LIMITS, image_size=16, home=lab_home)
    app = data_page()
    app.button(key="data_delete_doomed").click().run()
    assert "Delete it?" in app.warning[0].value
    app.button(key="data_delete_no_doomed").click().run()
    assert not app.warning and [m.name for m in list_stored(lab_home)] == ["doomed"]
    app.button(key="data_delete_doomed").click().run()
    app.button(key="data_delete_yes_doomed").click().run()
    assert not app.exception
    assert list_stored(lab_home) == [] and os.listdir(datasets_dir(lab_home)) == []
    assert any("No imported data sets yet" in info.value for info in app.info)


def test_escape():
    assert md("a_b [x](y) :material/home: 1.5") == "a\\_b \\[x\\]\\(y\\) \\:material/home\\: 1\\.5"



def _ants_and_bees_zip(tmp_path, per_class: int = 20) -> bytes:
    """A zip of the first `per_class` real ant and bee photos: a small import, as a class makes."""
    import io
    import zipfile

    from tests.test_image_folders import copy_shared

    folder = copy_shared("hymenoptera-train", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("ants", "bees"):
            for path in sorted((folder / label).iterdir())[:per_class]:
                archive.write(path, f"antsbees/{label}/{path.name}")
    return buffer.getvalue()


def test_train_on_an_import_selects_it_in_the_train_form_with_a_batch_it_fills(lab_home, tmp_path):
    """"Train on antsbees" opens the Train form on that data set, even one filled before, with
    a batch size its 26 training images fill, and the default experiment trains on them."""
    app = upload(data_page(), "antsbees.zip", _ants_and_bees_zip(tmp_path))
    app.select_slider(key="data_size").set_value(32)
    next(button for button in app.button if button.label == "Import").click().run()
    assert not app.exception and not app.error
    app.switch_page("pages/1_Train.py").run()  # the Train form, filled with the defaults
    assert app.selectbox(key="train_dataset").value == "digits"
    app.switch_page("pages/4_Data.py").run()
    app.button(key="data_train_antsbees").click().run()
    assert not app.exception, app.exception
    assert app.selectbox(key="train_dataset").value == "folder:antsbees"
    assert ExperimentConfig(dataset="folder:antsbees").planned_train_count() == 26
    assert app.number_input(key="train_batch_size").value == 4  # a quarter of 26, a power of two
    # AppTest reruns the page it last switched to, not one st.switch_page went to: follow it.
    app.switch_page("pages/1_Train.py").run()
    assert app.selectbox(key="train_dataset").value == "folder:antsbees"
    app.number_input(key="train_epochs").set_value(2)
    next(button for button in app.button if button.label == "Train").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    [run] = RunStore(lab_home).list_runs()
    record = job_manager().wait(run.run_id, timeout=300)
    assert record.status == "completed", record.error
    assert record.config["dataset"] == "folder:antsbees" and record.config["batch_size"] == 4

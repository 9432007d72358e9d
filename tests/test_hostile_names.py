"""The hostile-names corpus through every route a name takes and every page that shows it.

Routes: class folders of a zip upload and of a folder the CLI imports, data set names, run
names, display names, share links, imported config JSON. Pages (AppTest): Train (the run
panel, its Confusion tab with the chosen cell's caption, a failed run's error), Compare,
Augment, Data, home, Lessons. Each page's Markdown-rendering elements are walked: no name
may appear there raw (unescaped), and Plotly specs may hold no raw tag from a name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
import unicodedata

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnlab.config import ExperimentConfig
from cnnlab.data.image_folders import import_images, scan_images
from cnnlab.data.uploads import UploadRejected
from cnnlab.export.link import config_from_upload
from cnnlab.sessions import check_display_name
from cnnlab.store import RunStore
from cnnlab.text import md, plot, plot_all
from tests.apptest import ROOT, plotly_figure
from tests.hostile_corpus import LIMITS, make_zip
from tests.hostile_names import FOLDER_NAMES, NAMES, REFUSED, shown_literally
from tests.images import photo

# The classes of the trained data set: an image, a tag, a link, and words in CJK.
CLASSES = ["![pwn](https:example.invalid|x.png)", "<img src=x onerror=alert(1)>",
           "[click me](javascript:alert(1))", "蜜蜂と蟻"]
RUN_NAME = "![pwn](https://example.invalid/r.png) <b>run</b> :red[x]"
FAILED_NAME = "[click me](javascript:alert(1)) www.example.invalid"
FAILED_ERROR = "Class '<a href=https://example.invalid>x</a>' broke: ![e](https://example.invalid/e.png)"
HOSTILE = [name for name in [*NAMES, RUN_NAME, FAILED_NAME, FAILED_ERROR] if md(name) != name]
# Fields of Streamlit's element protos that are rendered as Markdown, and element types
# whose text is shown as plain text whatever it holds (so a raw name there is fine).
MARKDOWN_FIELDS = {"body", "label", "help", "caption", "text", "captions", "placeholder_text"}
PLAIN_TYPES = {"text", "code", "json", "selectbox", "multiselect", "text_input", "arrow_data_frame",
               "dataframe", "table"}


def _zip(classes, per_class: int = 12) -> bytes:
    return make_zip({f"{name}/{i}.png": photo(100 * c + i, size=16) for c, name in enumerate(classes)
                     for i in range(per_class)}, base=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store with a data set of hostile class names, a completed run of it under a hostile
    name, and a failed run whose error quotes a hostile name.

    The completed run's validation predictions are written as the training callback writes
    them (cnnlab.training.figures), for the data set's real validation split: what is under
    test is how pages show names, and a worker process would cost this module a minute.
    """
    home = tmp_path_factory.mktemp("hostile") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_HOME", str(home))
        st.cache_resource.clear()
        yield make_lab(home)
        from ui.resources import job_manager

        job_manager().shutdown(timeout=60)
        st.cache_resource.clear()


def make_lab(home) -> dict:
    """The lab's store at `home` (see the `lab` fixture); also used by the browser test."""
    import numpy as np

    from cnnlab.data import load_dataset
    from cnnlab.training.figures import VAL_LABELS, VAL_PROBS, encode_array

    import_images(_zip(CLASSES), "hostile", image_size=16, home=home)
    config = ExperimentConfig.from_dict({"dataset": "folder:hostile", "image_size": 16, "epochs": 1,
                                         "batch_size": 8, "validation_fraction": 0.25})
    store = RunStore(home)
    try:
        trained = store.create_run(config.to_dict(), RUN_NAME, session="Ada")
        store.mark_running(trained, device="CPU")
        data = load_dataset("folder:hostile", image_size=16, validation_fraction=0.25, seed=config.seed)
        labels = np.asarray(data.y_val, dtype="int32")
        probabilities = np.random.default_rng(0).dirichlet(np.ones(len(CLASSES)), len(labels))
        store.write_artifact(trained, VAL_LABELS, encode_array(labels))
        store.write_artifact(trained, VAL_PROBS % 1, encode_array(probabilities.astype("float16")))
        store.add_metrics(trained, [(1, 4, "loss", 1.3), (1, 4, "val_loss", 1.4),
                                    (1, 4, "accuracy", 0.3), (1, 4, "val_accuracy", 0.25)])
        store.finish_run(trained, "completed", final_metrics={"val_accuracy": 0.25, "val_loss": 1.4})
        failed = store.create_run(config.to_dict(), FAILED_NAME, session="Bob")
        store.finish_run(failed, "failed", error=FAILED_ERROR)
    finally:
        store.close()
    return {"home": home, "trained": trained, "failed": failed}


def _strings(node, kind=""):
    """(element type, proto field, text) of every string in the page's element tree."""
    proto = getattr(node, "proto", None)
    kind = getattr(node, "type", kind) or kind
    if proto is not None and hasattr(proto, "ListFields"):
        yield from _proto_strings(proto, kind)
    for child in getattr(node, "children", {}).values():
        yield from _strings(child, kind)


def _proto_strings(message, kind):
    for field, value in message.ListFields():
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        for item in values:
            if isinstance(item, str):
                yield kind, field.name, item
            elif hasattr(item, "ListFields"):
                yield from _proto_strings(item, kind)


def _json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def check_page(app: AppTest) -> list[str]:
    """Fail on any hostile name shown raw where Markdown or Plotly renders it; return the
    Markdown texts of the page, to look for the names shown literally."""
    assert not app.exception, app.exception
    texts = []
    for kind, field, text in _strings(app._tree):
        if field == "spec" and text.startswith("{"):  # a Plotly figure: its labels are HTML-ish
            for label in _json_strings(json.loads(text)):
                assert not any(name in label for name in HOSTILE if "<" in name), label
            continue
        if field not in MARKDOWN_FIELDS or kind in PLAIN_TYPES:
            continue
        texts.append(text)
        raw = [name for name in HOSTILE if name in text]
        assert not raw, f"{kind}.{field} shows {raw[0]!r} as Markdown: {text!r}"
    return texts


def _open(script: str, **query) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page(script)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


# -- routes ---------------------------------------------------------------------------------


def test_class_folders_of_an_upload_keep_what_people_write(tmp_path):
    scan = scan_images(_zip(FOLDER_NAMES, per_class=1), limits=LIMITS)
    assert sorted(scan.class_names) == sorted(unicodedata.normalize("NFC", name) for name in FOLDER_NAMES)


@pytest.mark.parametrize("name", [name for name in REFUSED if ord(min(name)) >= 32])
def test_an_upload_with_a_hidden_character_in_a_class_name_is_refused(name):
    with pytest.raises(UploadRejected, match=r"class folder name .* invisible character U\+[0-9A-F]{4} .* position"):
        scan_images(_zip(["ants", name], per_class=1), limits=LIMITS)


def test_the_cli_imports_hostile_class_folders_and_refuses_hidden_characters(tmp_path, monkeypatch, capsys):
    from cnnlab.cli import main
    from cnnlab.data.image_store import list_stored

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "runs"))
    source = tmp_path / "photos"
    for c, name in enumerate(CLASSES):
        (source / name).mkdir(parents=True)
        for i in range(3):
            (source / name / f"{i}.png").write_bytes(photo(10 * c + i, size=16))
    assert main(["import-images", str(source), "--name", "hostile", "--size", "16"]) == 0
    [stored] = list_stored(tmp_path / "runs")
    assert sorted(stored.class_names) == sorted(CLASSES)
    (source / "ant\u202es").mkdir()
    (source / "ant\u202es" / "0.png").write_bytes(photo(99, size=16))
    assert main(["import-images", str(source), "--name", "other", "--size", "16"]) != 0
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["![x](y)", "<b>", "javascript:alert(1)", "a" * 41, "ant\u200bs"])
def test_data_set_and_display_names_refuse_markup(name, tmp_path):
    with pytest.raises(ValueError, match="Invalid"):
        import_images(_zip(["ants", "bees"], per_class=2), name, limits=LIMITS, image_size=16,
                      home=tmp_path)
    with pytest.raises(ValueError, match="Invalid display name"):
        check_display_name(name)
    assert check_display_name("e\u0301cole 蜜蜂") == "école 蜜蜂"


def test_run_names_keep_markup_as_text_and_refuse_hidden_characters(store):
    for name in NAMES:
        if "\n" not in name:
            assert store.get_run(store.create_run(ExperimentConfig().to_dict(), name)).name == name
    for name in [*REFUSED, "line one\nline two"]:
        with pytest.raises(ValueError, match="Invalid run name"):
            store.create_run(ExperimentConfig().to_dict(), name)


def test_an_imported_config_quoting_a_hostile_name_is_refused_in_words():
    payload = json.dumps({"dataset": CLASSES[0], "architecture": CLASSES[1]}).encode()
    with pytest.raises(ValueError) as caught:
        config_from_upload(payload)
    assert CLASSES[0] in str(caught.value) or CLASSES[1] in str(caught.value)


# -- pages ----------------------------------------------------------------------------------


def test_train_shows_the_run_name_and_class_names_literally(lab):
    app = _open("pages/1_Train.py", run=lab["trained"])
    app.session_state[f"train_insight_tab_{lab['trained']}"] = "Confusion"
    texts = check_page(app.run())
    assert any(shown_literally(RUN_NAME, text) for text in app.subheader.values)
    # The chosen cell's caption names its classes (the issue's <img>), escaped.
    assert any(shown_literally(name, text) for text in texts for name in CLASSES)
    figure = plotly_figure(app, f"train_confusion_{lab['trained']}")
    assert figure["layout"]["xaxis"]["categoryarray"] == plot_all(sorted(CLASSES))


def test_train_shows_a_failed_runs_error_and_a_bad_link_literally(lab):
    app = _open("pages/1_Train.py", run=lab["failed"])
    check_page(app)
    assert any(shown_literally(FAILED_ERROR, error.value) for error in app.error)
    assert any(shown_literally(FAILED_NAME, text) for text in app.subheader.values)
    app = _open("pages/1_Train.py", dataset=RUN_NAME)  # a share link with a hostile value
    check_page(app)
    assert any(md(RUN_NAME) in error.value for error in app.error)
    # An imported config JSON naming a hostile data set: refused, the name quoted as text.
    payload = json.dumps({"dataset": CLASSES[1], "epochs": 1}).encode()
    app.file_uploader(key="train_import_file").upload("evil.json", payload, "application/json").run()
    check_page(app)
    assert any(shown_literally(CLASSES[1], error.value) for error in app.error)


def test_compare_augment_data_home_and_lessons_show_names_literally(lab):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    app.session_state["compare_selected"] = [lab["trained"], lab["failed"]]
    app.run()
    check_page(app)  # home: the recent runs
    check_page(app.switch_page("pages/3_Compare.py").run())
    for label in _json_strings(plotly_figure(app, "compare_curves")):
        assert "<b>run</b>" not in label
    app = check_page(_open("pages/4_Data.py"))
    assert any(shown_literally(CLASSES[1], text) for text in app)
    app = _open("pages/2_Augment.py")
    app.selectbox(key="augment_dataset").set_value("folder:hostile").run()
    texts = check_page(app)
    assert any(shown_literally(name, text) for text in texts for name in CLASSES)
    check_page(_open("pages/5_Lessons.py"))


def test_plot_labels_of_class_names_round_trip():
    assert [plot(name) for name in CLASSES] == plot_all(CLASSES)


def test_chart_legends_hover_and_bars_carry_names_as_text():
    import pandas as pd

    from cnnlab.charts import compare as compare_charts
    from cnnlab.charts import lessons as lesson_charts

    name = "<a href='https://example.invalid'>x</a><br><b>run</b>"
    profiles = {"r1": pd.Series([1e-3, 1e-2], index=["conv1", "predictions"])}
    figure = compare_charts.gradient_profiles_figure(profiles, {"r1": name}, {"r1": "#1f77b4"})
    bars = lesson_charts.figure_bars({"r1": 0.5}, {"r1": name}, {"r1": "#1f77b4"}, title="loss")
    labels = [figure.data[0].name, figure.data[0].hovertemplate, *bars.data[0].y]
    assert all(plot(name) in label and name not in label for label in labels), labels

"""Shareable links and imported configs: round trips, hostile input, and the Train page."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.config import ExperimentConfig
from cnnlab.export.link import (
    MAX_IMPORT_BYTES,
    config_from_params,
    config_from_upload,
    config_to_params,
    share_url,
)
from tests.apptest import ROOT, fresh_resources  # noqa: F401  (fixture)

LINKED = ExperimentConfig(architecture="deep_plain", epochs=4, learning_rate=0.01,
                          tricks={"activation": "sigmoid", "batch_norm": True,
                                  "batch_norm_momentum": 0.9},
                          augmentation={"horizontal_flip": True}, schedule={"kind": "cosine"})


def test_a_link_carries_only_what_differs_and_round_trips():
    params = config_to_params(LINKED)
    assert params == {
        "architecture": "deep_plain", "tricks.activation": "sigmoid", "tricks.batch_norm": "true",
        "tricks.batch_norm_momentum": "0.9",
        "augmentation.horizontal_flip": "true", "learning_rate": "0.01", "schedule.kind": "cosine",
        "epochs": "4",
    }
    url = share_url("http://lab.example:8501/Train?run=old", LINKED)
    parts = urlsplit(url)
    assert parts.path == "/Train" and "run=" not in parts.query
    assert config_from_params(dict(parse_qsl(parts.query))) == LINKED
    assert share_url("http://x/Train", ExperimentConfig()) == "http://x/Train"
    assert config_from_params({"run": "20261121-000000-abcd"}) is None  # no config in it


@pytest.mark.parametrize("params, message", [
    ({"epochs": "0"}, "epochs"),
    ({"tricks.dropuot_rate": "0.5"}, "Unknown config field `dropuot_rate`"),
    ({"architecture": "skynet"}, "architecture"),
    ({"nonsense.field": "1"}, "Unknown config section"),
])
def test_an_invalid_link_says_which_field_is_wrong(params, message):
    with pytest.raises(ValueError, match="This link's experiment is invalid") as error:
        config_from_params(params)
    assert message in str(error.value)


def test_imported_files_are_validated():
    assert config_from_upload(LINKED.to_json().encode()) == LINKED
    assert config_from_upload(b"\xef\xbb\xbf" + LINKED.to_json().encode()) == LINKED  # BOM
    for data, message in [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not text"),
        (b"{not json", "Could not parse"),
        (b'["a list"]', "Expected a JSON object"),
        (json.dumps({"epochs": 3, "evil": 1}).encode(), "evil"),
        (b" " * (MAX_IMPORT_BYTES + 1), "too large"),
    ]:
        with pytest.raises(ValueError, match=message):
            config_from_upload(data)


@pytest.mark.usefixtures("fresh_resources")
def test_the_train_page_opens_a_shared_link_in_the_form():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.query_params.update(config_to_params(LINKED))
    app.switch_page("pages/1_Train.py").run()
    assert not app.exception and not app.error
    assert app.selectbox(key="train_architecture").value == "deep_plain"
    assert app.selectbox(key="train_tricks_activation").value == "sigmoid"
    assert app.toggle(key="train_tricks_batch_norm").value is True
    assert app.number_input(key="train_tricks_batch_norm_momentum").value == 0.9
    assert app.number_input(key="train_epochs").value == 4
    assert ExperimentConfig.from_dict(app.session_state["train_draft"].to_dict()) == LINKED
    shown = " ".join(code.value for code in app.code)
    assert "architecture=deep_plain" in shown and "tricks.activation=sigmoid" in shown


@pytest.mark.usefixtures("fresh_resources")
def test_a_bad_link_shows_an_error_and_the_default_form():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.query_params.update({"epochs": "-3"})
    app.switch_page("pages/1_Train.py").run()
    assert not app.exception
    assert "This link's experiment is invalid" in app.error[0].value
    assert app.number_input(key="train_epochs").value == ExperimentConfig().epochs

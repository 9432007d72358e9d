"""Streamlit behaviours the lab turns off, because runs train in the server's threads."""

from __future__ import annotations

import tomllib

import keras
import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import ROOT, fresh_resources  # noqa: F401  (fixture)


@pytest.mark.usefixtures("fresh_resources")
def test_page_runs_leave_keras_global_state_alone(monkeypatch):
    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.run()
    assert not app.exception
    assert cleared == []  # Streamlit would call it after every run, under training threads


def test_no_full_garbage_collection_after_every_script_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False

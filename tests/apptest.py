"""Helpers for AppTest page tests: open a page as a user would, with a fresh job manager."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_page(script: str) -> AppTest:
    """`script` (e.g. "pages/1_Train.py"), reached from the home page, navigation included."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return app.switch_page(script).run()


@pytest.fixture
def fresh_resources(lab_home):
    """A job manager of this test's own (it is process-wide: st.cache_resource)."""
    st.cache_resource.clear()
    yield
    from ui.resources import job_manager

    job_manager().shutdown(timeout=60)
    st.cache_resource.clear()


def plotly_figure(app: AppTest, key: str) -> dict:
    """The Plotly figure (as JSON, typed arrays as lists) of the chart with widget key `key`."""
    charts = [chart for chart in app.get("plotly_chart") if chart.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, f"no chart {key!r}"
    return _decoded(json.loads(charts[0].proto.spec))


def _decoded(value):
    """Plotly's JSON with its typed arrays ({"dtype", "bdata", "shape"}) turned into lists."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def plain(text: str) -> str:
    """What an element's Markdown reads as once rendered, for texts that went through
    `cnnlab.text.md`: its backslash escapes removed."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")  # autolink breaker

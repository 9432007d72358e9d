"""Helpers for AppTest page tests: open a page as a user would, with a fresh job manager."""

from __future__ import annotations

from pathlib import Path

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

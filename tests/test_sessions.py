"""Sessions on a shared server: runs record who started them; only they (or a teacher) may
stop or delete them."""

from __future__ import annotations

import pytest

from cnnlab.config import ExperimentConfig
from tests.apptest import fresh_resources  # noqa: F401  (fixture)
from cnnlab.sessions import (
    PASSWORD_ENV,
    check_display_name,
    check_may_modify,
    guest_name,
    is_teacher_password,
    may_modify,
    teacher_mode_available,
)


def test_runs_record_their_session(store):
    mine = store.create_run(ExperimentConfig().to_dict(), "a", session="Ada")
    cli = store.create_run(ExperimentConfig().to_dict(), "b")
    assert store.get_run(mine).session == "Ada"
    assert store.get_run(cli).session == ""
    assert [r.session for r in store.list_runs()] == ["", "Ada"]


def test_only_the_owner_or_a_teacher_may_modify(store):
    record = store.get_run(store.create_run(ExperimentConfig().to_dict(), session="Ada"))
    assert may_modify(record, "Ada")
    assert not may_modify(record, "Bob")
    assert not may_modify(record, "")
    assert may_modify(record, "Bob", teacher=True)
    with pytest.raises(PermissionError, match="started by Ada, not by you \\(Bob\\).*delete only your own"):
        check_may_modify(record, "Bob", action="delete")
    check_may_modify(record, "Ada", action="delete")


def test_display_names_are_checked():
    assert check_display_name("  Ada L. ") == "Ada L."
    assert check_display_name(guest_name()).startswith("guest-")
    for bad in ("", " ", "x" * 41, "<script>", "a/b", None, "Ada\nBob"):
        with pytest.raises(ValueError, match="Invalid display name"):
            check_display_name(bad)


def test_teacher_mode_needs_the_configured_password(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert not teacher_mode_available()
    assert not is_teacher_password("")  # no password configured: no teacher mode at all
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    assert teacher_mode_available()
    assert is_teacher_password("s3cret")
    assert not is_teacher_password("s3cre")
    assert not is_teacher_password(None)


@pytest.mark.usefixtures("fresh_resources")
def test_the_sidebar_sets_the_name_and_unlocks_teacher_mode(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.apptest import ROOT

    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert app.session_state["session_name"].startswith("guest-")
    app.text_input(key="session_name_input").set_value("Ada L.").run()
    assert app.session_state["session_name"] == "Ada L."
    app.text_input(key="session_name_input").set_value("<b>").run()
    assert "Invalid display name" in app.error[0].value
    assert app.session_state["session_name"] == "Ada L."
    app.text_input(key="session_teacher_password").set_value("nope").run()
    assert "Wrong password" in app.error[-1].value
    assert "session_teacher" not in app.session_state
    app.text_input(key="session_teacher_password").set_value("s3cret").run()
    assert app.session_state["session_teacher"] is True
    assert any("Teacher mode" in caption.value for caption in app.caption)

"""Sessions on a shared server: a run belongs to the browser key (or signed-in user) that
started it, never to a display name; teachers may act on any run; the teacher password
resists guessing; share links never carry the key; the store's migration to schema 5."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading

import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.export.link import share_url
from cnnlab.sessions import (
    PASSWORD_ENV,
    check_display_name,
    check_may_modify,
    configured_teachers,
    guest_name,
    is_browser_key,
    is_teacher_password,
    is_teacher_user,
    may_modify,
    new_browser_key,
    owner_of_key,
    owner_of_user,
    teacher_mode_available,
)
from cnnlab.sign_in import SignInGuard, format_wait
from cnnlab.store import RunStore, schema
from tests.apptest import fresh_resources  # noqa: F401  (fixture)

ADA, BOB = new_browser_key(), new_browser_key()


def test_runs_record_their_label_and_owner(store):
    mine = store.create_run(ExperimentConfig().to_dict(), "a", session="Ada", owner_key=owner_of_key(ADA))
    cli = store.create_run(ExperimentConfig().to_dict(), "b")
    assert (store.get_run(mine).session, store.get_run(mine).owner_key) == ("Ada", owner_of_key(ADA))
    assert (store.get_run(cli).session, store.get_run(cli).owner_key) == ("", "")
    assert ADA not in json.dumps([vars(record) for record in store.list_runs()])  # only its hash


def test_the_owner_is_the_key_not_the_name(store):
    record = store.get_run(store.create_run(ExperimentConfig().to_dict(), session="Ada",
                                            owner_key=owner_of_key(ADA)))
    assert may_modify(record, owner_of_key(ADA))
    assert not may_modify(record, owner_of_key(BOB))  # Bob typed "Ada": still Bob's browser
    assert not may_modify(record, "") and not may_modify(record, "Ada")
    assert may_modify(record, owner_of_key(BOB), teacher=True)
    with pytest.raises(PermissionError, match="started by Ada in another browser.*delete only"):
        check_may_modify(record, owner_of_key(BOB), action="delete")
    check_may_modify(record, owner_of_key(ADA), action="delete")
    unowned = store.get_run(store.create_run(ExperimentConfig().to_dict(), session="Ada"))
    assert not may_modify(unowned, owner_of_key(ADA))  # an old or CLI run: a teacher's only


def test_keys_are_random_urlsafe_and_hashed():
    keys = {new_browser_key() for _ in range(100)}
    assert len(keys) == 100 and all(is_browser_key(key) for key in keys)
    assert not is_browser_key("Ada") and not is_browser_key(ADA + "x") and not is_browser_key(None)
    assert owner_of_key(ADA) != owner_of_key(BOB) and ADA not in owner_of_key(ADA)
    with pytest.raises(ValueError, match="Invalid browser key"):
        owner_of_key("Ada")
    assert owner_of_user("Ada@Uni.example ") == owner_of_user("ada@uni.example")
    assert owner_of_user("ada@uni.example") != owner_of_key(ADA)


def test_teachers_come_from_the_configured_list(monkeypatch):
    monkeypatch.setenv("CNNLAB_TEACHERS", "Grace@uni.example, alan@uni.example")
    assert configured_teachers() == {"grace@uni.example", "alan@uni.example"}
    assert is_teacher_user("grace@UNI.example") and not is_teacher_user("ada@uni.example")
    assert not is_teacher_user(None) and not is_teacher_user("", frozenset({""}))


def test_a_share_link_never_carries_the_key():
    config = ExperimentConfig().with_overrides({"epochs": 3})
    url = share_url(f"http://lab.example/Train?key={ADA}&who=Ada&run=x", config)
    assert ADA not in url and "key=" not in url and "who=" not in url and "epochs=3" in url


def test_display_names_are_checked():
    assert check_display_name("  Ada L. ") == "Ada L."
    assert check_display_name(guest_name()).startswith("guest-")
    for bad in ("", " ", "x" * 41, "<script>", "a/b", None, "Ada\nBob", "Ada\u202e"):
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


def test_schema_5_adds_the_owner_and_leaves_old_runs_to_teachers(tmp_path):
    """A store of schema 4 (display names as owners) opens as schema 5; its runs keep
    their label and belong to nobody's key."""
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / schema.DB_NAME)
    for statement in schema.TABLES:
        conn.execute(statement)
    for step in (2, 3, 4):
        for statement in schema.MIGRATIONS[step]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO runs (run_id, config_json, status, created_at, updated_at, session) "
                 "VALUES ('20240101-000000-abcd', '{}', 'completed', 0, 0, 'Ada')")
    conn.commit()
    conn.close()
    store = RunStore(home)
    record = store.get_run("20240101-000000-abcd")
    assert (record.session, record.owner_key) == ("Ada", "")
    assert not may_modify(record, owner_of_key(ADA)) and may_modify(record, "", teacher=True)
    with sqlite3.connect(home / schema.DB_NAME) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 5
    store.close()


# -- teacher sign-in that resists guessing --------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _guard(clock, **options) -> SignInGuard:
    return SignInGuard(clock=clock, **options)


def test_failures_wait_longer_then_lock_the_browser_out(caplog):
    clock = Clock()
    guard = _guard(clock)
    checked = []

    def wrong():
        checked.append(1)
        return False

    caplog.set_level(logging.INFO, logger="cnnlab.sign_in")
    waits = []
    for _ in range(5):
        outcome = guard.attempt("ada", wrong, who="Ada")
        assert not outcome.ok and outcome.message.startswith("Wrong password.")
        waits.append(outcome.wait_s)
        clock.now += outcome.wait_s
    assert waits == [0, 0, 2, 4, 300]  # two free tries, a growing delay, then 5 minutes
    clock.now -= 1  # one second before the lock-out ends: refused without checking
    refused = guard.attempt("ada", wrong)
    assert not refused.ok and refused.wait_s == 1 and "from this browser: try again in 1 s" in refused.message
    assert len(checked) == 5
    assert guard.wait_s("bob") == 0  # another browser is not held up
    clock.now += 1
    assert guard.attempt("ada", lambda: True).ok and guard.wait_s("ada") == 0
    log = caplog.text
    assert log.count("Teacher sign-in failed for Ada") == 5 and "succeeded" in log and "refused" in log


def test_the_server_locks_sign_in_after_many_failures_from_many_browsers():
    clock = Clock()
    guard = _guard(clock, server_lockout_after=6, server_window_s=600)
    for browser in range(6):  # strangers, each with fresh counters (a dropped key)
        outcome = guard.attempt(f"stranger{browser}", lambda: False)
        clock.now += 10
    assert "on this server" in outcome.message
    late = guard.attempt("teacher", lambda: True)
    assert not late.ok and late.wait_s == pytest.approx(300 - 10)
    assert "on this server: try again in 4 min 50 s" in late.message
    clock.now += 300
    for browser in range(6):  # the next server lock-out lasts twice as long
        outcome = guard.attempt(f"again{browser}", lambda: False)
    assert outcome.wait_s == 600
    clock.now += 600
    assert guard.attempt("teacher", lambda: True).ok  # and a success resets the doubling
    for browser in range(6):
        outcome = guard.attempt(f"later{browser}", lambda: False)
    assert outcome.wait_s == 300


def test_failures_outside_the_server_window_are_forgotten():
    clock = Clock()
    guard = _guard(clock, server_lockout_after=3, server_window_s=60)
    for browser in range(2):
        guard.attempt(f"b{browser}", lambda: False)
    clock.now += 61
    assert guard.attempt("b3", lambda: False).wait_s == 0  # only one failure in the window


def test_the_guard_counts_every_failure_from_many_threads():
    clock = Clock()
    guard = _guard(clock, lockout_after=10_000, free_failures=10_000, server_lockout_after=10_000)
    threads = [threading.Thread(target=lambda: [guard.attempt("ada", lambda: False) for _ in range(50)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert guard._browsers["ada"].failures == 400


def test_the_log_never_holds_the_password(caplog):
    caplog.set_level(logging.INFO, logger="cnnlab.sign_in")
    guard = _guard(Clock())
    guard.attempt("ada", lambda: is_teacher_password("hunter2-guess"), who="Ada")
    assert "hunter2" not in caplog.text and "Ada" in caplog.text


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (45, "45 s"), (290, "4 min 50 s"), (300, "5 min")])
def test_waits_are_said_in_minutes_and_seconds(seconds, text):
    assert format_wait(seconds) == text


@pytest.mark.usefixtures("fresh_resources")
def test_the_sidebar_sets_the_name_and_unlocks_teacher_mode(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.apptest import ROOT

    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert app.session_state["session_name"].startswith("guest-")
    assert is_browser_key(app.session_state["session_browser_key"])
    app.text_input(key="session_name_input").set_value("Ada L.").run()
    assert app.session_state["session_name"] == "Ada L."
    app.text_input(key="session_name_input").set_value("<b>").run()
    assert "Invalid display name" in app.error[0].value
    assert app.session_state["session_name"] == "Ada L."
    app.text_input(key="session_teacher_password").set_value("nope").run()
    assert "Wrong password" in app.error[-1].value
    assert "session_teacher" not in app.session_state
    app.run()  # a rerun is not another try
    app.text_input(key="session_teacher_password").set_value("s3cret").run()
    assert app.session_state["session_teacher"] is True
    assert any("Teacher mode" in caption.value for caption in app.caption)


@pytest.mark.usefixtures("fresh_resources")
def test_the_page_says_how_long_to_wait_after_too_many_failures(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.apptest import ROOT, plain

    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for guess in ("a", "b", "c"):
        app.text_input(key="session_teacher_password").set_value(guess).run()
    assert "try again in 2 s" in plain(app.error[-1].value)
    app.run()
    assert any("try again in" in plain(warning.value) for warning in app.warning)
    app.text_input(key="session_teacher_password").set_value("s3cret").run()  # too early
    assert "session_teacher" not in app.session_state
    assert "from this browser: try again in" in plain(app.error[-1].value)

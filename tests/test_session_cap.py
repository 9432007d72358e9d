"""CNNLAB_MAX_PER_SESSION: one session cannot fill the queue ahead of the class."""

from __future__ import annotations

import pytest

from cnnlab.training.admission import check_session_cap, max_per_session


def test_a_session_at_its_cap_is_refused_others_and_the_command_line_are_not(store, tiny_config,
                                                                              monkeypatch):
    from cnnlab.training import JobManager

    monkeypatch.setenv("CNNLAB_MAX_PER_SESSION", "2")
    manager = JobManager(store, max_concurrent=1)
    try:
        first = manager.submit(tiny_config)  # the command line's run takes the one slot...
        ada = [manager.submit(tiny_config, session="Ada") for _ in range(2)]  # ...these wait
        with pytest.raises(ValueError, match=r"Too many runs for session 'Ada': it has 2 queued "
                                             r"or running\. Expected at most 2 per session"):
            manager.submit(tiny_config, session="Ada")
        manager.stop(ada[0])  # a queued run stops at once
        # A batch that would pass the cap is refused whole, before anything is written.
        before = len(store.list_runs())
        with pytest.raises(ValueError, match="it has 1 queued or running.*Received: 2 more"):
            manager.submit_all([(tiny_config, "a"), (tiny_config, "b")], session="Ada")
        assert len(store.list_runs()) == before
        ada.append(manager.submit(tiny_config, session="Ada"))  # the stop freed a place
        bob = manager.submit(tiny_config, session="Bob")  # another student is not held back
        cli = [manager.submit(tiny_config) for _ in range(3)]  # the command line: no cap
        assert store.get_run(bob).session == "Bob"
        for run_id in [first, *ada, bob, *cli]:
            manager.stop(run_id)
    finally:
        manager.shutdown(timeout=60)


def test_no_cap_unless_set_and_a_bad_value_is_explained(store, monkeypatch):
    monkeypatch.delenv("CNNLAB_MAX_PER_SESSION", raising=False)
    assert max_per_session() is None
    for _ in range(5):
        store.create_run({}, session="Ada")
    check_session_cap(store, "Ada", 1)  # no cap: nothing raised
    for raw in ("0", "-1", "three"):
        monkeypatch.setenv("CNNLAB_MAX_PER_SESSION", raw)
        with pytest.raises(ValueError, match="Invalid CNNLAB_MAX_PER_SESSION. Expected a whole number >= 1"):
            max_per_session()
    monkeypatch.setenv("CNNLAB_MAX_PER_SESSION", "5")
    check_session_cap(store, "Ada", 0)
    with pytest.raises(ValueError, match="has 5 queued or running"):
        check_session_cap(store, "Ada", 1)
    # Finished runs do not count.
    for record in store.list_runs()[:2]:
        store.finish_run(record.run_id, "stopped")
    check_session_cap(store, "Ada", 2)

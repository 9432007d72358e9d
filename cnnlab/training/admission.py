"""Admission: the checks every run passes before it is accepted, once, before anything is written.

Why one call: a run that cannot train must be refused with its reason while the user still
looks at the button they pressed, and nothing may be stored for it. The job manager admits
each run it is given (`JobManager.submit`, and `submit_all` for a batch such as the Compare
page's ablation grid, which admits every run of the batch before it writes any), so a
page, the CLI and a test cannot skip a check or run one twice.

The checks, cheapest first: the config's feasibility against its data set (a batch size
the training set can fill, a validation set where one is watched); transfer learning's
(a run to start from that exists and fits, weights that can be had); and the memory
estimate (`cnnlab.training.memory`), which builds the model once per architecture, input
shape and tricks, cached.
"""

from __future__ import annotations

from cnnlab.config import ExperimentConfig
from cnnlab.training import memory
from cnnlab.training.seeding import seed_lock


def admit(config: ExperimentConfig, store) -> None:
    """Raise ValueError, saying why and how to fix it, for a config the lab must not run.

    Args:
        config: the experiment.
        store: the run store the run would be written to (a run to start from is there).
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(
            "Invalid experiment. Expected an ExperimentConfig. "
            f"Received: {type(config).__name__}. Build one with ExperimentConfig(...)."
        )
    # Imported here: they load Keras, which a process that only lists runs (a page, the
    # CLI's `runs`) should not wait for. TensorFlow is configured first, so its start-up
    # lines are filtered and its thread pools set (cnnlab.training.device).
    from cnnlab.training.device import configure_tensorflow
    from cnnlab.training.transfer import check_transfer

    config.check_feasible()
    configure_tensorflow()
    check_transfer(config, store)
    check_memory(config)


def check_memory(config: ExperimentConfig) -> None:
    """Raise ValueError when a run of `config` would not fit in this machine's memory.

    Why at admission: a run that outgrows the memory of a shared server is killed by the
    operating system, maybe with the whole lab and everyone's runs in it. The estimate
    (`memory.check_memory_fits`) builds the model once per architecture, input shape and
    tricks, cached, so the Train form (which shows the same estimate) has usually built
    it already.
    """
    available = memory.available_memory_bytes()
    if available is None:
        return  # Nothing to compare with (an unknown platform): no check, no refusal.
    try:
        # Under the seed lock: building draws default seeds from Python's generator, which
        # must not move under a run being built at the same moment.
        with seed_lock:
            warning = memory.check_memory_fits(config, available)
    except Exception:  # noqa: BLE001 - see the comment below
        # The estimate is advice built with the architecture registry; where it cannot be
        # made (a model the summary cannot walk, a data set whose shape cannot be read
        # now) the run itself builds its model and, if that fails too, fails with its own
        # message. Refusing here would block runs that can train.
        return
    if warning is not None:
        raise ValueError(
            f"Not enough memory to start this run. {warning} A smaller architecture needs "
            "less too, and memory frees up as other runs finish."
        )


def max_per_session() -> int | None:
    """`CNNLAB_MAX_PER_SESSION`: the most runs one browser session may have queued or
    running at once (unset or "": no cap)."""
    import os

    raw = os.environ.get("CNNLAB_MAX_PER_SESSION", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError("Invalid CNNLAB_MAX_PER_SESSION. Expected a whole number >= 1 (or "
                         f"unset, for no cap). Received: {raw!r}. Set it to, e.g., 3.")
    return int(raw)


def check_session_cap(store, session: str, adding: int, *, owner_key: str = "") -> None:
    """Raise ValueError when `session` would have more than `CNNLAB_MAX_PER_SESSION` runs
    queued or running with `adding` more. Where the runs carry an `owner_key` (the browser's
    secret or the signed-in user, cnnlab.sessions), the cap counts by it: a student cannot
    escape it by typing another display name.

    Why: on a shared server (or cluster) one student pressing Train twenty times must not
    fill the queue ahead of the class. Counted in the store, so every server sharing it
    counts the same runs. The command line (session "") is the administrator's: no cap.
    """
    cap = max_per_session()
    if cap is None or not session:
        return
    running = store.list_runs(statuses=("queued", "running"))
    if owner_key:
        active = sum(record.owner_key == owner_key for record in running)
    else:
        active = sum(record.session == session for record in running)
    if active + adding > cap:
        raise ValueError(
            f"Too many runs for session {session!r}: it has {active} queued or running. "
            f"Expected at most {cap} per session (CNNLAB_MAX_PER_SESSION). Received: "
            f"{adding} more. Wait for one to finish, or stop one, then train again.")

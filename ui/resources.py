"""Process-wide engine objects, created once per server process, and the one change the
lab makes to Streamlit's own behaviour (see `keep_keras_state`)."""

from __future__ import annotations

import gc
import os
import sys
import threading

import streamlit as st

from cnnlab.training import JobManager


def keep_keras_state() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Streamlit does that for apps that build models inside the script. The lab trains in
    background threads while pages rerun every second: clearing Keras' global state (and
    running a full garbage collection) under a training thread, every second, slowed
    watched runs several-fold and can reset state a run is using. Streamlit's other clean-up
    (closing matplotlib figures) is kept.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "cnnlab", False):
        return

    def clean_problem_modules() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    clean_problem_modules.cnnlab = True
    script_runner._clean_problem_modules = clean_problem_modules


keep_keras_state()


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The one job manager of this server; it also turns stale `running` runs into `interrupted`.

    Runs train in recycled worker processes (see cnnlab.training.workers): TensorFlow
    leaks memory with each run a process trains, and a worker that dies takes only its
    own run with it. One worker starts now, so the first Train does not wait for it
    (`CNNLAB_PRESTART_WORKERS`, default 1; the tests set 0, as most pages never train).
    """
    isolation = "process" if os.name == "posix" else "thread"
    raw = os.environ.get("CNNLAB_PRESTART_WORKERS", "1")
    if not raw.isdigit():
        raise ValueError("Invalid CNNLAB_PRESTART_WORKERS. Expected a whole number >= 0. "
                         f"Received: {raw!r}. Set it to, e.g., 1.")
    return JobManager(isolation=isolation, prestart=int(raw))


def store_error_message(error: Exception) -> str:
    """What a user reads when the run store refuses a write at submit.

    Why not the error itself: many sessions at once can hold SQLite's write lock past its
    timeout, and "database is locked" means nothing to a student; a full disk needs
    someone who can free space.
    """
    if "full" in str(error):
        return ("The disk that holds the lab's runs is full, so no run can start; ask the "
                "lab's administrator to free space.")
    return "The lab's run store is busy; try again in a moment."


def _load_tensorflow() -> None:
    from cnnlab.training.device import configure_tensorflow

    configure_tensorflow()
    # TensorFlow's and Keras' many long-lived objects made every full collection take
    # 0.25-0.75 s; frozen, collections skip them.
    gc.freeze()


_tensorflow_loader = threading.Thread(target=_load_tensorflow, name="cnnlab-load-tensorflow",
                                      daemon=True)
_loader_guard = threading.Lock()


def load_tensorflow_soon() -> None:
    """Start loading TensorFlow in the background, once per server (`page_setup` calls it).

    Why in the background, and only once a page's modules are imported: importing
    TensorFlow took 5 to 20 s on two cores, which the first page waited for when it loaded
    in the page's own thread; and a loading thread started as the first page began slowed
    that page's own imports threefold (2.5 s to 7.6 s: both want the interpreter's lock).
    Pages that need it (the Train form's model summary, a submit's memory estimate) wait
    for it only where they use it, after the Train button is drawn.
    """
    with _loader_guard:
        if not _tensorflow_loader.is_alive() and not _tensorflow_loader.ident:
            _tensorflow_loader.start()


def device_name() -> str | None:
    """The device runs train on ("CPU" or the GPU's name), or None while TensorFlow loads."""
    from cnnlab.training.device import configure_tensorflow, tensorflow_ready

    return configure_tensorflow() if tensorflow_ready() else None


STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/autorenew:",
    "completed": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
    "diverged": ":material/trending_up:",
    "interrupted": ":material/pause_circle:",
}

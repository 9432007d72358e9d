"""Process-wide engine objects, created once per server process."""

from __future__ import annotations

import streamlit as st

from cnnlab.training import JobManager


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The one job manager of this server; it also turns stale `running` runs into `interrupted`."""
    return JobManager()


@st.cache_resource(show_spinner="Starting TensorFlow...")
def device_name() -> str:
    from cnnlab.training.device import configure_tensorflow

    return configure_tensorflow()


STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/autorenew:",
    "completed": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
    "diverged": ":material/trending_up:",
    "interrupted": ":material/pause_circle:",
}

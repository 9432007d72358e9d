"""Share the Train form as a link, or import an experiment from a JSON file."""

from __future__ import annotations

import streamlit as st

from cnnlab.config import ExperimentConfig
from cnnlab.export.link import (
    MAX_IMPORT_BYTES,
    RESERVED,
    config_from_params,
    config_from_upload,
    share_url,
)
from cnnlab.text import md

LINK_APPLIED = "train_link_applied"  # the link's config fields, once loaded into the form


def linked_config() -> ExperimentConfig | None:
    """The experiment the page's link describes, if any; an invalid link shows why."""
    try:
        return config_from_params(st.query_params.to_dict())
    except ValueError as error:
        st.error(md(error), icon=":material/link_off:")
        return None


def new_link_config() -> ExperimentConfig | None:
    """The experiment of the page's link, the first time this session sees that link.

    Why once: the link stays in the address while the form is edited, and reruns must not
    reset the form to it; a different link (the Data page's "Train on ...") loads again,
    even into a form already filled. `forget_link` lets the same link load again.
    """
    fields = {key: value for key, value in st.query_params.to_dict().items() if key not in RESERVED}
    if not fields or st.session_state.get(LINK_APPLIED) == fields:
        return None
    st.session_state[LINK_APPLIED] = fields
    return linked_config()


def forget_link() -> None:
    """Let the Train page load its link again (a button that links there calls it)."""
    st.session_state.pop(LINK_APPLIED, None)


def share_and_import(draft: ExperimentConfig | None, submit) -> None:
    """A popover with the link to this experiment and a JSON import.

    Args:
        draft: the form's current experiment (None while the form is invalid).
        submit: called with an imported config to train it at once; True if it started.
    """
    with st.popover("Share or import", icon=":material/share:"):
        st.markdown("**Link to this experiment**: it opens the Train page with these settings.")
        if draft is None:
            st.caption("Fix the form's errors first.")
        else:
            st.code(share_url(st.context.url or "", draft), language=None, wrap_lines=True)
        st.divider()
        upload = st.file_uploader(
            "Import an experiment (config JSON)", type=["json"], key="train_import_file",
            help=f"An exported run's config.json, at most {MAX_IMPORT_BYTES // 1024:d} kB.")
        if upload is None:
            return
        try:
            config = config_from_upload(upload.getvalue())
        except ValueError as error:
            st.error(md(error), icon=":material/error:")
            return
        st.caption(md(config.summary()))
        load, train = st.columns(2)
        if load.button("Load into form", key="train_import_load", width="stretch"):
            st.session_state["train_load_config"] = config
            st.rerun()
        if train.button("Load and train", key="train_import_train", type="primary", width="stretch"):
            if submit(config):
                st.session_state["train_load_config"] = config
                st.rerun()

"""Who this browser session is: its display name and whether it is in teacher mode."""

from __future__ import annotations

import streamlit as st

from cnnlab.sessions import check_display_name, guest_name, is_teacher_password, teacher_mode_available
from cnnlab.text import md

NAME_KEY = "session_name"
TEACHER_KEY = "session_teacher"


URL_KEY = "who"


def current_session() -> str:
    """This session's display name (a guest name until the user picks one).

    The name also sits in the address (`?who=`), so a reload or a bookmarked page, which
    Streamlit treats as a new session, is still the same person and can stop its runs.
    """
    if NAME_KEY not in st.session_state:
        try:
            name = check_display_name(st.query_params.get(URL_KEY, ""))
        except ValueError:
            name = guest_name()
        st.session_state[NAME_KEY] = name
    name = st.session_state[NAME_KEY]
    if st.query_params.get(URL_KEY) != name:
        st.query_params[URL_KEY] = name
    return name


def is_teacher() -> bool:
    return bool(st.session_state.get(TEACHER_KEY))


def identity_sidebar() -> None:
    """The sidebar's name field and, where a password is configured, the teacher switch."""
    name = current_session()
    typed = st.text_input("Your name", value=name, key="session_name_input", max_chars=40,
                          help="Runs you start carry this name; you can stop and delete only "
                               "your own runs.")
    if typed != name:
        try:
            st.session_state[NAME_KEY] = check_display_name(typed)
        except ValueError as error:
            st.error(md(error))
    if not teacher_mode_available():
        return
    if is_teacher():
        st.caption(":material/school: Teacher mode: you can stop and delete any run.")
        if st.button("Leave teacher mode", key="session_teacher_leave"):
            st.session_state[TEACHER_KEY] = False
            st.rerun()
        return
    with st.expander("Teacher mode"):
        attempt = st.text_input("Password", type="password", key="session_teacher_password")
        if attempt:
            if is_teacher_password(attempt):
                st.session_state[TEACHER_KEY] = True
                st.rerun()  # the expander, and the typed password with it, is gone
            st.error("Wrong password.")

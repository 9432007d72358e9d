"""Who this browser session is: the owner of its runs, its display name, teacher or not.

The owner (cnnlab.sessions) is the signed-in user where the server has Streamlit's login
configured (`[auth]` in .streamlit/secrets.toml) and the user signed in; otherwise a
random key of this browser, kept in the address as `?key=` so a reload or a bookmark is
still the same browser. The display name (`?who=`) is only a label on the runs.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.sessions import (
    check_display_name,
    guest_name,
    is_browser_key,
    is_teacher_password,
    is_teacher_user,
    new_browser_key,
    owner_of_key,
    owner_of_user,
    teacher_mode_available,
)
from cnnlab.sign_in import SignInGuard, format_wait, log_to_stderr
from cnnlab.text import md

NAME_KEY = "session_name"
TEACHER_KEY = "session_teacher"
BROWSER_KEY = "session_browser_key"
URL_KEY = "who"
KEY_PARAM = "key"
PASSWORD_KEY = "session_teacher_password"
PASSWORD_MESSAGE = "session_teacher_message"


@st.cache_resource
def sign_in_guard() -> SignInGuard:
    """The server's one guard of teacher sign-in (process-wide, shared by every session)."""
    log_to_stderr()
    return SignInGuard()


def login_configured() -> bool:
    """Whether the server has Streamlit's OpenID Connect login set up (an `[auth]` section
    in its secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all is the usual case
        return False


def signed_in_user() -> str | None:
    """The signed-in user's email (or subject id), or None (no login, or not signed in)."""
    if not login_configured() or not st.user.is_logged_in:
        return None
    return st.user.get("email") or st.user.get("sub")


def current_owner() -> str:
    """Who owns the runs this session starts, and may stop and delete them: the signed-in
    user, or this browser's key (made on the first visit and kept in the address)."""
    user = signed_in_user()
    if user:
        return owner_of_user(user)
    if BROWSER_KEY not in st.session_state:
        linked = st.query_params.get(KEY_PARAM, "")
        st.session_state[BROWSER_KEY] = linked if is_browser_key(linked) else new_browser_key()
    key = st.session_state[BROWSER_KEY]
    if st.query_params.get(KEY_PARAM) != key:
        st.query_params[KEY_PARAM] = key
    return owner_of_key(key)


def current_session() -> str:
    """This session's display name (a guest name until the user picks one), a label only.

    The name also sits in the address (`?who=`), so a reload keeps it.
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
    """A signed-in user on the teachers list, or a session that gave the teacher password."""
    user = signed_in_user()
    return (user is not None and is_teacher_user(user)) or bool(st.session_state.get(TEACHER_KEY))


def identity_sidebar() -> None:
    """The sidebar's name field, sign-in where a login is configured, and teacher mode."""
    name = current_session()
    owner = current_owner()
    typed = st.text_input("Your name", value=name, key="session_name_input", max_chars=40,
                          help="A label on the runs you start. What lets you stop and delete "
                               "them is this browser (or your sign-in), not the name.")
    if typed != name:
        try:
            st.session_state[NAME_KEY] = check_display_name(typed)
        except ValueError as error:
            st.error(md(error))
    if login_configured():
        _sign_in_out()
    if is_teacher():
        st.caption(":material/school: Teacher mode: you can stop and delete any run.")
        if st.session_state.get(TEACHER_KEY) and st.button("Leave teacher mode", key="session_teacher_leave"):
            st.session_state[TEACHER_KEY] = False
            st.rerun()
        return
    if teacher_mode_available():
        _teacher_password(owner, name)


def _sign_in_out() -> None:
    user = signed_in_user()
    if user is None:
        st.button("Sign in", key="session_sign_in", icon=":material/login:", on_click=st.login,
                  help="Your runs then belong to your account, in any browser.")
    else:
        st.caption(f":material/account_circle: Signed in as {md(user)}")
        st.button("Sign out", key="session_sign_out", on_click=st.logout)


def _teacher_password(owner: str, name: str) -> None:
    """The password field, guarded (cnnlab.sign_in): a try is made when the field is
    submitted, not on every rerun; failures wait a growing delay, then a lock-out."""
    guard = sign_in_guard()
    with st.expander("Teacher mode", expanded=PASSWORD_MESSAGE in st.session_state):
        wait = guard.wait_s(owner)
        # Never disabled: nothing would rerun the page to enable it again when the wait is
        # over; a try made too early is refused without checking (cnnlab.sign_in).
        st.text_input("Password", type="password", key=PASSWORD_KEY,
                      on_change=_try_password, args=(owner, name))
        message = st.session_state.pop(PASSWORD_MESSAGE, None)
        if message:
            st.error(md(message))
        elif wait > 0:
            st.warning(md(f"Too many wrong passwords: try again in {format_wait(wait)}."))


def _try_password(owner: str, name: str) -> None:
    """One attempt with the password just entered; the field is emptied either way."""
    attempt = st.session_state.get(PASSWORD_KEY, "")
    st.session_state[PASSWORD_KEY] = ""
    if not attempt:
        return
    outcome = sign_in_guard().attempt(owner, lambda: is_teacher_password(attempt), who=name)
    if outcome.ok:
        st.session_state[TEACHER_KEY] = True
    else:
        st.session_state[PASSWORD_MESSAGE] = outcome.message

"""Who may do what on a shared classroom server: session names and teacher mode.

Each browser session has a display name; the runs it starts record it. A session may stop
and delete only its own runs, unless it is in teacher mode, which a password set in the
server's configuration (`CNNLAB_TEACHER_PASSWORD`) unlocks. Without a configured password
there is no teacher mode. This is classroom etiquette, not authentication: names are not
secret and anyone can claim one; the password is what protects other people's runs.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import unicodedata

NAME_PATTERN = re.compile(r"[\w .'-]{1,40}")
PASSWORD_ENV = "CNNLAB_TEACHER_PASSWORD"


def guest_name() -> str:
    """A fresh display name for a new session, e.g. "guest-3f9a"."""
    return f"guest-{secrets.token_hex(2)}"


def check_display_name(name: str) -> str:
    """The name, trimmed (and NFC-normalised, so a decomposed "é" is one letter); a
    ValueError saying what is allowed if it is not acceptable."""
    trimmed = unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else name
    if not isinstance(trimmed, str) or not NAME_PATTERN.fullmatch(trimmed):
        raise ValueError(
            "Invalid display name. Expected 1 to 40 letters, digits, spaces or . ' - _, "
            f"like 'Ada L.'. Received: {name!r}. Choose a name your classmates will recognise.")
    return trimmed


def teacher_mode_available() -> bool:
    """Whether the server has a teacher password configured."""
    return bool(os.environ.get(PASSWORD_ENV))


def is_teacher_password(attempt: str) -> bool:
    """Whether `attempt` is the configured teacher password (constant-time comparison)."""
    expected = os.environ.get(PASSWORD_ENV, "")
    if not expected or not isinstance(attempt, str):
        return False
    return hmac.compare_digest(attempt.encode(), expected.encode())


def may_modify(record, session: str, *, teacher: bool = False) -> bool:
    """Whether `session` may stop or delete the run `record`."""
    return teacher or (bool(session) and record.session == session)


def check_may_modify(record, session: str, *, teacher: bool = False, action: str = "change") -> None:
    """Raise PermissionError, saying whose run it is, unless `session` may modify it."""
    if not may_modify(record, session, teacher=teacher):
        owner = record.session or "the command line"
        raise PermissionError(
            f"Run {record.run_id} was started by {owner}, not by you ({session or 'no name'}). "
            f"You can {action} only your own runs; a teacher can {action} any run.")

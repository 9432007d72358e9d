"""Who may do what on a shared classroom server: owners of runs, display names, teachers.

A run may be stopped and deleted by its owner, or by a teacher. The owner is a secret,
not a name: by default the random key of the browser that started the run (kept in the
page's address as `?key=`, never in a share link), stored only as a hash; where the server
has Streamlit's OpenID Connect login configured, the signed-in user. The display name is
only a label: anyone can type anyone's name, and doing so gives no right to their runs.

Teachers may stop and delete any run: a configured list of signed-in users
(`CNNLAB_TEACHERS`), or, without a login, whoever knows the password set in
`CNNLAB_TEACHER_PASSWORD` (guarded against guessing by cnnlab.sign_in).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata

NAME_PATTERN = re.compile(r"[\w .'-]{1,40}")
PASSWORD_ENV = "CNNLAB_TEACHER_PASSWORD"
TEACHERS_ENV = "CNNLAB_TEACHERS"  # signed-in users who are teachers: emails, comma-separated
# A browser key: 32 random bytes, URL-safe base64 (43 characters).
KEY_BYTES = 32
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_browser_key() -> str:
    """A fresh secret for a browser (secrets.token_urlsafe: 256 random bits)."""
    return secrets.token_urlsafe(KEY_BYTES)


def is_browser_key(key) -> bool:
    """Whether `key` has the form of a key `new_browser_key` makes (not whether it is known)."""
    return isinstance(key, str) and bool(KEY_PATTERN.fullmatch(key))


def owner_of_key(key: str) -> str:
    """The owner stored with the runs of the browser holding `key`: a SHA-256 hash of it.

    Why a hash: the store (and its backups, exports, a teacher's screen of it) never holds
    a key that would let its reader act as the browser. 256 random bits need no salt.
    """
    if not is_browser_key(key):
        raise ValueError("Invalid browser key. Expected 43 URL-safe characters from "
                         "new_browser_key(). Received: a value of another form.")
    return "key:" + hashlib.sha256(key.encode()).hexdigest()


def owner_of_user(identifier: str) -> str:
    """The owner stored with the runs of a signed-in user (their email, else their subject
    id from the identity provider), hashed like a key."""
    if not isinstance(identifier, str) or not identifier.strip():
        raise ValueError("Invalid user. Expected the signed-in user's email or subject id. "
                         f"Received: {identifier!r}.")
    return "user:" + hashlib.sha256(identifier.strip().casefold().encode()).hexdigest()


def configured_teachers(value: str | None = None) -> frozenset[str]:
    """The signed-in users who are teachers: `value`, else $CNNLAB_TEACHERS (emails,
    comma-separated, compared case-insensitively)."""
    text = os.environ.get(TEACHERS_ENV, "") if value is None else value
    return frozenset(part.strip().casefold() for part in text.split(",") if part.strip())


def is_teacher_user(email: str | None, teachers: frozenset[str] | None = None) -> bool:
    """Whether the signed-in user with `email` is in the teachers list."""
    teachers = configured_teachers() if teachers is None else teachers
    return bool(email) and email.strip().casefold() in teachers


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


def may_modify(record, owner: str, *, teacher: bool = False) -> bool:
    """Whether the browser or user `owner` (owner_of_key/owner_of_user) may stop or delete
    the run `record`. A display name gives no right: only the owner a run was stored with."""
    return teacher or (bool(owner) and bool(record.owner_key)
                       and hmac.compare_digest(record.owner_key, owner))


def check_may_modify(record, owner: str, *, teacher: bool = False, action: str = "change") -> None:
    """Raise PermissionError, saying whose run it is, unless `owner` may modify it."""
    if not may_modify(record, owner, teacher=teacher):
        started_by = f"by {record.session}" if record.session else "from the command line"
        raise PermissionError(
            f"Run {record.run_id} was started {started_by} in another browser. You can {action} "
            f"only the runs this browser started (or, signed in, your own); a teacher can "
            f"{action} any run.")

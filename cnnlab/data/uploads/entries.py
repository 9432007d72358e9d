"""What an upload is made of: its entries, their checked names, and the two ways it fails.

Why apart from the readers: a zip (`cnnlab.data.uploads.archive`) and a folder
(`cnnlab.data.uploads.folder`) are read under the same caps and yield the same entries, and
the importer (`cnnlab.data.image_folders`) skips hidden files and reports failures alike
whichever it reads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cnnlab.data.uploads.limits import UploadLimits
from cnnlab.units import format_bytes

# Names that file managers leave behind, skipped wherever they appear.
SYSTEM_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini", "ehthumbs.db", "$recycle.bin"})
EXPECTED_ZIP = "Expected a .zip archive of class folders, such as ants/001.jpg and bees/002.jpg"
_DRIVE = re.compile(r"^[A-Za-z]:")


class UploadRejected(ValueError):
    """The whole upload is refused: hostile, broken or over a limit. Nothing was kept."""


class EntryUnreadable(ValueError):
    """One file of the upload cannot be read; it is skipped with this message."""


@dataclass(frozen=True)
class Entry:
    """A file in an upload, by its checked relative path.

    Args:
        path: '/'-separated and relative, with no '..', '.' or empty parts,
            e.g. "ants/001.jpg".
        size: its size as the archive header or the file system states it; shown to
            people, never trusted for a limit.
    """

    path: str
    size: int


def hidden_reason(path: str) -> str | None:
    """Why `path` is a hidden or system file that an import skips, or None if it is not."""
    for part in path.split("/"):
        if part.startswith("."):
            return f"hidden file or folder ('{part}')"
        if part.casefold() in SYSTEM_NAMES:
            return f"system file or folder ('{part}') left by a file manager"
    return None


def unsafe_name_reason(name: str) -> str | None:
    """Why an archive member's name could write outside a target folder, or None.

    Rejected: control characters, backslashes (a Windows separator that hides '..\\'),
    absolute paths, drive letters, '..' parts and overlong names. '.' and empty parts
    ('./a', 'a//b') are harmless and are normalised away by `normalise_name`.
    """
    if not name:
        return "has an empty name"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash, a Windows path separator that can hide '..\\'"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "climbs out of the archive with '..'"
    if len(name) > 1024 or any(len(part.encode()) > 255 for part in parts):
        return "is too long (over 1,024 characters, or a part over 255 bytes)"
    return None


def normalise_name(name: str) -> str:
    """A safe member name in canonical form: NFC, without '.' or empty parts or a trailing '/'."""
    parts = [part for part in unicodedata.normalize("NFC", name).split("/") if part not in ("", ".")]
    return "/".join(parts)


def check_upload_size(size: int, limits: UploadLimits, label: str) -> None:
    """Refuse an upload of `size` bytes over the cap, before any of it is read."""
    if size > limits.max_upload_bytes:
        raise UploadRejected(
            f"'{label}' is too large. Expected at most {format_bytes(limits.max_upload_bytes)}. "
            f"Received: {format_bytes(size)}. Fix: upload fewer or smaller images, or ask the "
            "administrator to raise CNNLAB_MAX_UPLOAD_MB and Streamlit's server.maxUploadSize."
        )

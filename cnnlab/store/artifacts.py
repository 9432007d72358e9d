"""A run's files: written atomically, and the partial files a killed writer leaves, removed.

Why: every artifact is written to a temporary file in the run's own folder and renamed over
its name when complete (`write_atomically`, which `RunStore.write_artifact` uses; the
trained model in `cnnlab.training.job`), so no reader ever sees half a file under an
artifact's name. A process killed mid-write (kill -9, out of memory, a power cut) leaves the temporary
file behind, though. When recovery marks the run `interrupted`, nothing will ever finish or
rename it, so it is removed and the folder holds only complete artifacts.

Only names the two writers produce are matched, never anything else a user may have put
there: `tempfile.mkstemp` draws 8 characters from [a-z0-9_] between its prefix and suffix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

_RANDOM = r"[a-z0-9_]{8}"
TEMPORARY_PATTERNS = (
    # write_atomically: mkstemp(prefix=f".{name}.", suffix=".tmp")
    re.compile(rf"\..+\.{_RANDOM}\.tmp"),
    # the trained model (cnnlab.training.job): mkstemp(suffix=".keras"), mkstemp's default prefix "tmp"
    re.compile(rf"tmp{_RANDOM}\.keras"),
)


# The key of a completed run's progress under which the store keeps its model file's
# sha256 (written by the run once the file is saved; see `cnnlab.inspect.loading`).
MODEL_DIGEST_KEY = "model_sha256"


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def is_temporary(name: str) -> bool:
    """Whether `name` is a file name one of the lab's atomic writers uses while writing."""
    return any(pattern.fullmatch(name) for pattern in TEMPORARY_PATTERNS)


def temporary_files(folder: str | Path) -> list[Path]:
    """The writers' temporary files directly in `folder` (none if it does not exist)."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(Path(entry.path) for entry in entries
                  if is_temporary(entry.name) and entry.is_file(follow_symlinks=False))


def remove_partial_files(folder: str | Path, *, older_than_s: float = 0.0) -> list[Path]:
    """Delete the temporary files a dead writer left in `folder`; return those removed.

    Args:
        folder: a run's folder.
        older_than_s: keep files modified less than this many seconds ago (default 0: all
            go). A run taken from a silent owner on another host may still have a live
            writer there; a file it touched recently is left to it.
    """
    removed, cutoff = [], time.time() - older_than_s
    for path in temporary_files(folder):
        with contextlib.suppress(FileNotFoundError):  # another recovery got there first
            if older_than_s and path.stat().st_mtime > cutoff:
                continue
            path.unlink()
            removed.append(path)
    return removed


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder / name`, atomically, and return that path.

    A temporary file in the same folder is written, flushed to disk and renamed over the
    name, so a reader or a crash sees the old file or the new one, never half.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)
    return folder / name


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows cannot open folders)."""
    if os.name == "nt":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)

"""A folder on this machine read like an upload: the same caps, links and special files skipped.

Why a folder needs care too: the CLI may be pointed at a folder someone else filled (a
shared drive, an unpacked download). A symbolic link in it could lead anywhere on the
machine, and opening a FIFO blocks forever, so neither is followed or opened; a file
swapped for a link after listing is caught by opening with O_NOFOLLOW.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cnnlab.data.uploads.entries import (
    Entry,
    EntryUnreadable,
    UploadRejected,
    hidden_reason,
)
from cnnlab.data.uploads.limits import UploadLimits
from cnnlab.units import format_bytes


class FolderUpload:
    """A folder on this machine read as an upload: same caps, links and special files skipped.

    Hidden folders (`.git`, `__MACOSX`) are not descended into; each becomes one skipped
    line, so a repository's history cannot exhaust the entry cap.

    Args:
        root: the folder.
        limits: the caps.
        label: how messages name the folder.
    """

    def __init__(self, root: Path, *, limits: UploadLimits, label: str):
        self.root = root.resolve()
        self.limits = limits
        self.label = label
        self.bytes_read = 0
        self.size = 0
        skipped: list[tuple[str, str]] = []
        entries: list[Entry] = []
        folders: set[str] = set()
        count = 0
        for folder, subfolders, names in os.walk(self.root, followlinks=False, onerror=_raise):
            relative = Path(folder).relative_to(self.root).as_posix()
            prefix = "" if relative == "." else relative + "/"
            for name in sorted(subfolders):
                reason = hidden_reason(name)
                if reason is not None or os.path.islink(os.path.join(folder, name)):
                    skipped.append((prefix + name + "/", reason or "symbolic link, not followed"))
                    subfolders.remove(name)
            subfolders.sort()
            folders.update(prefix + name for name in subfolders)
            for name in sorted(names):
                count += 1
                if count > limits.max_entries:
                    raise UploadRejected(
                        f"'{label}' holds too many files. Expected at most "
                        f"{limits.max_entries:,}. Received: more. Fix: point at a smaller "
                        "folder, or raise CNNLAB_MAX_ARCHIVE_ENTRIES.")
                path = os.path.join(folder, name)
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    skipped.append((prefix + name, "symbolic link, not followed"))
                elif not stat.S_ISREG(info.st_mode):
                    skipped.append((prefix + name, "special file (device, FIFO or socket), not read"))
                else:
                    entries.append(Entry(prefix + name, int(info.st_size)))
        self.skipped = tuple(skipped)
        self.entries = tuple(entries)
        self.folders = frozenset(folders)

    def read(self, entry: Entry) -> bytes:
        """The file's bytes, counted against the per-file and total caps."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            descriptor = os.open(self.root / entry.path, flags)
        except OSError as error:
            raise EntryUnreadable(f"could not be opened ({error.strerror})") from None
        with os.fdopen(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise EntryUnreadable("is not a regular file")
            data = file.read(self.limits.max_file_bytes + 1)
        self.bytes_read += len(data)
        if len(data) > self.limits.max_file_bytes:
            raise EntryUnreadable(
                f"larger than the {format_bytes(self.limits.max_file_bytes)} allowed for one file")
        if self.bytes_read > self.limits.max_total_bytes:
            raise UploadRejected(
                f"'{self.label}' holds more than {format_bytes(self.limits.max_total_bytes)} of "
                f"files. Expected at most that much. Received: more, stopped at {entry.path!r}. "
                "Fix: point at fewer images, or raise CNNLAB_MAX_UNCOMPRESSED_MB.")
        return data

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _raise(error: OSError) -> None:
    raise UploadRejected(f"Could not read the folder. Expected a readable folder of class "
                         f"folders. Received: {error}. Check the path and its permissions.")

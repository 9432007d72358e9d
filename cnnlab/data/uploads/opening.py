"""Opening an upload: a zip's bytes, a file object, a .zip path or a folder path.

Why one door: the Data page hands over bytes, the CLI a path that may be a zip or a
folder; either way the caller gets a reader with the same `.entries`, `.read(entry)` and
caps, and a refusal with the same message form.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnnlab.data.uploads.archive import ZipUpload
from cnnlab.data.uploads.entries import EXPECTED_ZIP, UploadRejected, check_upload_size
from cnnlab.data.uploads.folder import FolderUpload
from cnnlab.data.uploads.limits import UploadLimits, upload_limits


def open_upload(source, *, limits: UploadLimits | None = None, label: str | None = None):
    """Open a zip (bytes, a file object or a path) or a folder path for reading under `limits`.

    Args:
        source: the zip's bytes, a binary file object holding it, or a path to a .zip
            file or to a folder.
        limits: the caps; defaults to `upload_limits()`.
        label: how messages name the upload; defaults to the path's name or "the upload".

    Returns:
        A `ZipUpload` or `FolderUpload`: `.entries` (the files), `.folders` (every folder
        path, implied ones included), `.skipped` ((path, reason) of what was not listed),
        `.read(entry)`, `.close()`.

    Raises:
        UploadRejected: not a readable zip or folder, or hostile, or over a limit.
    """
    limits = limits or upload_limits()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = label or path.name or str(path)
        if path.is_dir():
            return FolderUpload(path, limits=limits, label=label)
        try:
            size = path.stat().st_size
            check_upload_size(size, limits, label)
            data = path.read_bytes()
        except OSError as error:
            raise UploadRejected(
                f"Could not read '{path}'. {EXPECTED_ZIP}, or a folder of them. "
                f"Received: {error.strerror or error}. Check the path."
            ) from None
        return ZipUpload(data, limits=limits, label=label)
    return ZipUpload(source, limits=limits, label=label or "the upload")

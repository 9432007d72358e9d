"""Uploads read safely: a zip or a folder of files, every byte counted against the limits.

`open_upload` (opening) picks the reader: `ZipUpload` (archive) or `FolderUpload` (folder);
both yield the `Entry`s of `entries` under the caps of `limits`.
"""

from cnnlab.data.uploads.archive import ZipUpload, describe_bytes
from cnnlab.data.uploads.entries import (
    SYSTEM_NAMES,
    Entry,
    EntryUnreadable,
    UploadRejected,
    hidden_reason,
    normalise_name,
    unsafe_name_reason,
)
from cnnlab.data.uploads.folder import FolderUpload
from cnnlab.data.uploads.limits import ENVIRONMENT, MIB, UploadLimits, upload_limits
from cnnlab.data.uploads.opening import open_upload

__all__ = ["ENVIRONMENT", "MIB", "SYSTEM_NAMES", "Entry", "EntryUnreadable", "FolderUpload",
           "UploadLimits", "UploadRejected", "ZipUpload", "describe_bytes", "hidden_reason",
           "normalise_name", "open_upload", "unsafe_name_reason", "upload_limits"]

"""Limits on what users may upload, each overridable by an environment variable.

Why one module: the zip reader, the image-folder importer, the Data page and the CLI must
agree on every limit, and an administrator of a shared classroom server must find them
in one place. Streamlit's own upload cap, `server.maxUploadSize` in
`.streamlit/config.toml`, is set to the same number (200); raise both together
(`CNNLAB_MAX_UPLOAD_MB` and `STREAMLIT_SERVER_MAX_UPLOAD_SIZE`).

One unit everywhere: every size here, in the environment variables, the README and every
message is in decimal megabytes (1 MB = 1,000,000 bytes), as file browsers show sizes.
Where the lab once set 32 MiB and wrote "33.6 MB", it now sets and writes 32 MB. Streamlit
counts its `maxUploadSize` in MiB, so at the same number its cap is 5% above the lab's,
which is the one that applies and the one the messages quote.

Why these defaults: they admit what a lesson uses (the 27 MB ants-and-bees set, a
2,000-photo cats-vs-dogs subset of about 60 MB, CIFAR-10 as 60,000 tiny PNGs is the
largest that still fits with `CNNLAB_MAX_IMAGES` raised) and keep the worst case of a
hostile upload within what a laptop can afford: at most 1 GB inflated in total, 32 MB
per file, and one decoded photo of 20 megapixels (240 MB as float32) at a time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from cnnlab.data.images import DEFAULT_MAX_PIXELS
from cnnlab.units import MB

MIB = 2**20  # the unit of Streamlit's server.maxUploadSize


@dataclass(frozen=True)
class UploadLimits:
    """Caps on an uploaded archive or a folder of images, and on the data set stored from it.

    Args:
        max_upload_bytes: the largest zip accepted, in bytes (200 MB; Streamlit's
            `server.maxUploadSize` is set to the same number).
        max_entries: the most entries (files and folders) an archive or folder may hold
            (20,000). Counted from the archive's directory before any entry is read.
        max_file_bytes: the largest single file, inflated (32 MB; a 20-megapixel PNG
            is about 30 MB).
        max_total_bytes: the most bytes inflated from one archive or read from one folder,
            counted while reading (1 GB).
        max_ratio: the largest inflated-to-compressed ratio of an entry and of the whole
            archive (100). Photos barely compress (ratio about 1); a zip bomb's entries
            inflate by 1,000 and more.
        ratio_grace_bytes: the ratio is only enforced once an entry (or the archive) has
            inflated more than this (1 MB), so small flat images (an icon, a blank BMP)
            that compress well are not taken for bombs; they cost at most this much.
        max_pixels: the most pixels (width x height) of one image, checked from its
            header before decoding (20,000,000, as `cnnlab.data.images.decode_image`).
        max_images: the most images one data set may hold (10,000).
        max_stored_bytes: the most bytes the stored, resized uint8 images may take
            (512 MB): 10,000 RGB images of 128 px, or 2,600 of 256 px.
    """

    max_upload_bytes: int = 200 * MB
    max_entries: int = 20_000
    max_file_bytes: int = 32 * MB
    max_total_bytes: int = 1000 * MB
    max_ratio: float = 100.0
    ratio_grace_bytes: int = 1 * MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_images: int = 10_000
    max_stored_bytes: int = 512 * MB

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Invalid `{f.name}`. Expected a number > 0. Received: {value!r}.")


# field: (environment variable, unit in bytes, or None for a plain count or ratio)
ENVIRONMENT = {
    "max_upload_bytes": ("CNNLAB_MAX_UPLOAD_MB", MB),
    "max_entries": ("CNNLAB_MAX_ARCHIVE_ENTRIES", None),
    "max_file_bytes": ("CNNLAB_MAX_FILE_MB", MB),
    "max_total_bytes": ("CNNLAB_MAX_UNCOMPRESSED_MB", MB),
    "max_ratio": ("CNNLAB_MAX_COMPRESSION_RATIO", None),
    "max_pixels": ("CNNLAB_MAX_IMAGE_PIXELS", None),
    "max_images": ("CNNLAB_MAX_IMAGES", None),
    "max_stored_bytes": ("CNNLAB_MAX_DATASET_MB", MB),
}


def upload_limits() -> UploadLimits:
    """The limits in force: the defaults, each replaced by its environment variable if set.

    Read on every call, so a test or an administrator can change them without a restart.

    Raises:
        ValueError: an environment variable that is not a positive number.
    """
    values = {}
    for name, (variable, unit) in ENVIRONMENT.items():
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise ValueError(
                f"Invalid `{variable}` environment variable. Expected a number > 0"
                f"{' of megabytes (1 MB = 1,000,000 bytes)' if unit else ''}. Received: {text!r}. Fix: correct it, "
                "or unset it for the default."
            )
        values[name] = number if name == "max_ratio" else max(1, int(number * (unit or 1)))
    return UploadLimits(**values)

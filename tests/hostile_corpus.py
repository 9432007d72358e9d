"""A hostile-upload corpus, generated: zips and images crafted to break an importer.

Each case is an upload (the bytes of what a stranger sends) and what must happen to it:
refused as a whole (`REJECT`, with a phrase the message must contain), or imported with
the hostile part skipped or converted (`NORMALISE`, with the file that must be skipped and
a phrase of its reason, or a phrase of a note). Every normalised case also holds two good
classes, so the import itself succeeds. Archives are built by hand where `zipfile` would
refuse to write the attack (lying sizes, encryption flags, forged directories).
"""

from __future__ import annotations

import functools
import io
import stat
import struct
import uuid
import zipfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cnnlab.data.uploads.limits import MIB, UploadLimits
from tests.images import encode, jpeg, photo, png_header_only

REJECT, NORMALISE = "reject", "normalise"
# The limits the corpus runs under: the defaults, with the caps that size-based cases
# probe lowered so the corpus stays small and fast.
LIMITS = UploadLimits(max_entries=40, max_file_bytes=2 * MIB, max_total_bytes=6 * MIB,
                      max_pixels=1_000_000, max_upload_bytes=20 * MIB)
# An absolute path no test could create by accident, so its absence proves no write.
ABSOLUTE_TARGET = f"/tmp/cnnlab-zipslip-{uuid.uuid4().hex}.png"


@dataclass(frozen=True)
class Case:
    """One hostile upload and the outcome it must have."""

    id: str
    data: bytes
    outcome: str  # REJECT or NORMALISE
    phrase: str  # in the error message (REJECT) or in the skipped reason or a note
    skipped: str | None = None  # NORMALISE: the path that must be skipped (None: a note)
    limits: UploadLimits = field(default=LIMITS)


# -- building blocks -------------------------------------------------------------------------


GOOD = {f"{name}/{i}.png": photo(seed) for seed, (name, i) in
        enumerate([("ants", 0), ("ants", 1), ("ants", 2), ("bees", 0), ("bees", 1), ("bees", 2)])}


def make_zip(files: dict[str, bytes], *, method=zipfile.ZIP_DEFLATED, base: bool = True,
             infos: list[tuple[zipfile.ZipInfo, bytes]] = ()) -> bytes:
    """A zip of `files` (after the two good classes, if `base`), plus hand-made entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in ({**GOOD, **files} if base else files).items():
            archive.writestr(name, data)
        for info, data in infos:
            archive.writestr(info, data)
    return buffer.getvalue()


def patch_headers(data: bytes, name: str, **fields) -> bytes:
    """Rewrite fields of `name`'s local header and central-directory record in place.

    Fields: flag_bits, compress_size, file_size. Offsets from the zip specification
    (APPNOTE 4.3.7 and 4.3.12).
    """
    local = {"flag_bits": (6, "<H"), "compress_size": (18, "<L"), "file_size": (22, "<L")}
    central = {"flag_bits": (8, "<H"), "compress_size": (20, "<L"), "file_size": (24, "<L")}
    out = bytearray(data)
    encoded = name.encode()
    for signature, offsets, name_at in ((b"PK\x03\x04", local, 30), (b"PK\x01\x02", central, 46)):
        at = out.find(signature)
        while at >= 0:
            if out[at + name_at:at + name_at + len(encoded)] == encoded:
                for key, value in fields.items():
                    offset, fmt = offsets[key]
                    struct.pack_into(fmt, out, at + offset, value)
            at = out.find(signature, at + 4)
    return bytes(out)


def entry(name: str, *, mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    if mode is not None:
        info.create_system = 3
        info.external_attr = mode << 16
    return info


@functools.lru_cache(maxsize=1)
def zeros_member() -> bytes:
    """16 MiB of zeros: deflates about 1,000 to 1, the classic bomb payload."""
    return bytes(16 * MIB)


# -- the images -----------------------------------------------------------------------------


def _palette() -> Image.Image:
    image = Image.fromarray((np.arange(30) % 4).reshape(6, 5).astype(np.uint8), "P")
    image.putpalette([255, 0, 0, 0, 128, 255, 20, 200, 40, 250, 250, 250])
    return image


RGB = np.random.default_rng(1).integers(0, 256, (6, 5, 3), dtype=np.uint8)
# mode: (file name, encoded image); `every_mode_case` checks Pillow reopens each in its mode.
MODES = {
    "1": ("one_bit.png", lambda: encode(Image.fromarray(RGB[:, :, 0] > 127).convert("1"), "PNG")),
    "L": ("grey.png", lambda: encode(Image.fromarray(RGB[:, :, 0], "L"), "PNG")),
    "P": ("palette.png", lambda: encode(_palette(), "PNG")),
    "RGB": ("colour.jpg", lambda: encode(Image.fromarray(RGB), "JPEG")),
    "RGBA": ("alpha.png", lambda: encode(Image.fromarray(np.dstack([RGB, RGB[:, :, 1]]), "RGBA"), "PNG")),
    "CMYK": ("cmyk.jpg", lambda: encode(Image.fromarray(np.dstack([RGB, RGB[:, :, 2]]), "CMYK"), "JPEG")),
    "I": ("int32.tif", lambda: encode(Image.fromarray(RGB[:, :, 0].astype(np.int32) * 250, "I"), "TIFF")),
    "F": ("float.tif", lambda: encode(Image.fromarray(RGB[:, :, 0].astype(np.float32) / 255, "F"), "TIFF")),
    "LA": ("grey_alpha.png", lambda: encode(Image.fromarray(RGB[:, :, :2].copy(), "LA"), "PNG")),
    "PA": ("palette_alpha.tif", lambda: encode(_palette().convert("PA"), "TIFF")),
    "I;16": ("sixteen.png", lambda: encode(Image.fromarray(RGB[:, :, 0].astype(np.uint16) * 257), "PNG")),
}


def mode_files() -> dict[str, bytes]:
    return {f"ants/{name}": make() for name, make in MODES.values()}


# -- the corpus ------------------------------------------------------------------------------


def corpus() -> list[Case]:
    """Every hostile upload, with the outcome it must have."""
    good = make_zip({})
    cases = [
        # Paths that would write outside a target folder: refused before anything is read.
        Case("zip-slip-dotdot", make_zip({"../evil.png": photo()}), REJECT, "climbs out of the archive"),
        Case("zip-slip-nested-dotdot", make_zip({"ants/../../evil.png": photo()}), REJECT, "'..'"),
        Case("absolute-path", make_zip({ABSOLUTE_TARGET: photo()}), REJECT, "is an absolute path"),
        Case("drive-letter", make_zip({"C:/Windows/evil.png": photo()}), REJECT, "drive letter"),
        Case("backslash-dotdot", make_zip({"ants\\..\\..\\evil.png": photo()}), REJECT, "backslash"),
        Case("control-characters", make_zip({"ants/bad\x07name.png": photo()}), REJECT, "control characters"),
        Case("symlink-entry", make_zip({}, infos=[(entry("ants/link.png", mode=stat.S_IFLNK | 0o777),
                                                   b"/etc/passwd")]), REJECT, "symbolic link"),
        Case("symlink-dir-entry", make_zip({}, infos=[(entry("bees/up/", mode=stat.S_IFLNK | 0o777),
                                                       b"../..")]), REJECT, "symbolic link"),
        Case("fifo-entry", make_zip({}, infos=[(entry("ants/pipe", mode=stat.S_IFIFO | 0o644), b"")]),
             REJECT, "special file"),
        Case("duplicate-names", _duplicate_zip(), REJECT, "stored twice"),
        Case("file-and-folder", make_zip({"ants": photo()}), REJECT, "both a file and a folder"),
        # Archives that are not archives, or not whole.
        Case("encrypted", patch_headers(good, "ants/0.png", flag_bits=0x1), REJECT, "encrypted"),
        Case("truncated-zip", good[: len(good) // 2], REJECT, "no end-of-archive record"),
        Case("truncated-zip-tail", good[:-10], REJECT, "Could not open"),
        Case("png-named-zip", photo(), REJECT, "PNG image"),
        Case("jpeg-named-zip", jpeg(), REJECT, "JPEG image"),
        Case("empty-upload", b"", REJECT, "empty file"),
        Case("text-upload", b"just some text, not a zip\n" * 10, REJECT, "of text"),
        Case("gzip-upload", b"\x1f\x8b\x08\x00" + bytes(60), REJECT, "gzip"),
        Case("random-bytes", np.random.default_rng(9).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
             REJECT, "Could not open"),
        # Bombs and caps: counted while inflating, whatever the headers say.
        Case("bomb-real-ratio", make_zip({"ants/zeros.bmp": zeros_member()}), REJECT, "zip bomb"),
        Case("bomb-lying-compressed-size", lying_compressed_zip(), REJECT, "zip bomb"),
        Case("bomb-lying-file-size", patch_headers(make_zip({"bees/zeros.bmp": zeros_member()}),
                                                   "bees/zeros.bmp", file_size=1000),
             NORMALISE, "damaged in the archive", skipped="bees/zeros.bmp"),
        Case("total-size-cap", make_zip({f"ants/noise{i}.bmp": _noise(i, 1_900_000) for i in range(4)},
                                        method=zipfile.ZIP_STORED), REJECT, "inflates to more than"),
        Case("file-size-cap", make_zip({"ants/huge.bmp": _noise(1, 3 * MIB)}, method=zipfile.ZIP_STORED),
             NORMALISE, "larger than", skipped="ants/huge.bmp"),
        Case("too-many-entries", make_zip({f"ants/{i}.txt": b"x" for i in range(50)}), REJECT,
             "too many entries"),
        Case("forged-entry-count", _forged_count_zip(good), REJECT, "too many entries"),
        Case("upload-over-cap", make_zip({"ants/big.bin": _noise(2, 2 * MIB)}, method=zipfile.ZIP_STORED),
             REJECT, "too large", limits=UploadLimits(max_upload_bytes=1 * MIB)),
        Case("bzip2-member", _bzip2_zip(), NORMALISE, "bzip2", skipped="bees/packed.png"),
        Case("bad-crc", _bad_crc_zip(), NORMALISE, "damaged in the archive", skipped="ants/flipped.png"),
        Case("local-name-differs", _local_name_zip(), NORMALISE, "damaged in the archive",
             skipped="ants/zz.png"),
        Case("nested-zip", make_zip({"ants/inner.zip": good}), NORMALISE, "nested archives are not opened",
             skipped="ants/inner.zip"),
        # Layout: hidden files, no class folders, one class, empty classes.
        Case("macosx-resource-forks", make_zip({"__MACOSX/ants/._0.png": b"\x00\x05\x16\x07junk"}),
             NORMALISE, "system file", skipped="__MACOSX/ants/._0.png"),
        Case("ds-store", make_zip({".DS_Store": b"Bud1" + bytes(40)}), NORMALISE, "hidden",
             skipped=".DS_Store"),
        Case("hidden-image", make_zip({"bees/.secret.png": photo(5)}), NORMALISE, "hidden",
             skipped="bees/.secret.png"),
        Case("thumbs-db", make_zip({"ants/Thumbs.db": b"\xd0\xcf\x11\xe0" + bytes(40)}), NORMALISE,
             "system file", skipped="ants/Thumbs.db"),
        Case("top-level-file", make_zip({"README.txt": b"hello"}), NORMALISE, "not inside a class folder",
             skipped="README.txt"),
        Case("no-class-folders", make_zip({"a.png": photo(1), "b.png": photo(2)}, base=False), REJECT,
             "No class folders found"),
        Case("one-class", make_zip({"ants/a.png": photo(1), "ants/b.png": photo(2)}, base=False), REJECT,
             "Only one class"),
        Case("only-hidden", make_zip({"__MACOSX/._a.png": b"x", ".hidden/a.png": photo()}, base=False),
             REJECT, "No class folders found"),
        Case("one-class-and-empty-ones", make_zip({"ants/a.png": photo(1), "junk/notes.txt": b"hi"},
                                                  base=False, infos=[(entry("empty/"), b"")]),
             REJECT, "Only one class"),
        Case("empty-classes", make_zip({"junk/notes.txt": b"hi"}, infos=[(entry("empty/"), b"")]),
             NORMALISE, "class folders with no usable images left out"),
        Case("directory-only", make_zip({}, base=False, infos=[(entry("ants/"), b""), (entry("bees/"), b"")]),
             REJECT, "No usable images"),
        # Images: damaged, disguised, oversized, and every Pillow mode.
        Case("truncated-jpeg", make_zip({"ants/cut.jpg": jpeg()[:1500]}), NORMALISE, "truncated or corrupt",
             skipped="ants/cut.jpg"),
        Case("text-named-jpg", make_zip({"bees/fake.jpg": b"<html><script>alert(1)</script></html>"}),
             NORMALISE, "bytes of text", skipped="bees/fake.jpg"),
        Case("empty-named-png", make_zip({"bees/empty.png": b""}), NORMALISE, "empty file",
             skipped="bees/empty.png"),
        Case("exe-named-png", make_zip({"ants/tool.png": b"MZ\x90\x00" + bytes(200)}), NORMALISE,
             "not an image", skipped="ants/tool.png"),
        Case("svg-named-png", make_zip({"ants/vector.png": b'<svg xmlns="http://www.w3.org/2000/svg"/>'}),
             NORMALISE, "text", skipped="ants/vector.png"),
        Case("ppm-image", make_zip({"ants/old.ppm": encode(Image.fromarray(RGB), "PPM")}), NORMALISE,
             "not an image", skipped="ants/old.ppm"),
        Case("decompression-bomb-png", make_zip({"ants/bomb.png": png_header_only(100_000, 100_000)}),
             NORMALISE, "too many pixels", skipped="ants/bomb.png"),
        Case("over-max-pixels-png", make_zip({"bees/wide.png": png_header_only(5000, 5000)}), NORMALISE,
             "at most 1,000,000 pixels", skipped="bees/wide.png"),
        Case("png-named-jpg", make_zip({"bees/disguised.jpg": photo(7)}), NORMALISE, "read by content"),
        Case("every-pillow-mode", make_zip(mode_files()), NORMALISE, "Converted from other modes"),
    ]
    return cases


def _noise(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _duplicate_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in GOOD.items():
            archive.writestr(name, data)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns, and writes it anyway
            archive.writestr("ants/0.png", photo(99))
    return buffer.getvalue()


def lying_compressed_zip() -> bytes:
    """A bomb whose header claims its data runs to the end of the archive, to look less dense.

    (A claim beyond the end, say 2 GiB, gets no further: zipfile runs out of input and
    the entry is skipped as damaged; a test covers that too.)
    """
    name = "ants/zeros.bmp"
    data = make_zip({name: zeros_member()})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(name.encode()) + len(info.extra)
    return patch_headers(data, name, compress_size=len(data) - start)


def _forged_count_zip(data: bytes) -> bytes:
    """A zip whose end-of-directory record claims 60,000 entries (it holds 6)."""
    out = bytearray(data)
    at = out.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", out, at + 8, 60_000, 60_000)
    return bytes(out)


def _bzip2_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in GOOD.items():
            archive.writestr(name, data)
        archive.writestr("bees/packed.png", photo(8), compress_type=zipfile.ZIP_BZIP2)
    return buffer.getvalue()


def _bad_crc_zip() -> bytes:
    payload = photo(11)
    data = bytearray(make_zip({"ants/flipped.png": payload}, method=zipfile.ZIP_STORED))
    at = data.find(payload)
    data[at + len(payload) // 2] ^= 0xFF
    return bytes(data)


def _local_name_zip() -> bytes:
    """The directory says 'ants/zz.png'; the entry's own header says '../../z.png'."""
    data = bytearray(make_zip({"ants/zz.png": photo(12)}))
    at = data.find(b"PK\x03\x04")
    while data[at + 30:at + 41] != b"ants/zz.png":
        at = data.find(b"PK\x03\x04", at + 4)
    data[at + 30:at + 41] = b"../../z.png"
    return bytes(data)

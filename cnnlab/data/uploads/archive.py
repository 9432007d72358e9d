"""Reading an uploaded zip archive safely: every byte is hostile until counted.

Why nothing is ever extracted to disk: the importer needs each file's bytes once, to decode
an image, and an archive read straight into memory cannot write anywhere, so zip-slip
(`../../.bashrc`), absolute paths, drive letters and symlink entries become impossible by
construction rather than by a check that might be forgotten. The checks still run, before
any entry is read, because an archive that carries such a name is hostile (or broken) and
is refused as a whole with a message naming the entry. The only files the import ever
writes are the stored data set's own, under a name the importer validates.

Zip bombs are stopped by counting, never by believing the archive: the central directory's
size and entry count are checked before `zipfile` parses it; each entry is then inflated in
64 KiB chunks while running counters enforce the per-file cap, the archive-wide total, and
the inflated-to-compressed ratio of the entry and of the archive. A header that lies about
sizes changes nothing: the counters measure what really comes out. Only the Stored and
Deflate methods are read, since Python's bzip2 and LZMA readers inflate a chunk without a
bound on its output.

A folder (the CLI's `import-images path/`) goes through the same caps, read by
`cnnlab.data.uploads.folder.FolderUpload`; `cnnlab.data.uploads.opening.open_upload` picks
the reader.
"""

from __future__ import annotations

import contextlib
import io
import stat
import struct
import zipfile
import zlib
from typing import BinaryIO

from cnnlab.data.images import SIGNATURES
from cnnlab.data.uploads.entries import (
    EXPECTED_ZIP,
    Entry,
    EntryUnreadable,
    UploadRejected,
    check_upload_size,
    normalise_name,
    unsafe_name_reason,
)
from cnnlab.data.uploads.limits import UploadLimits
from cnnlab.units import format_bytes

CHUNK = 64 * 1024
READABLE_METHODS = {zipfile.ZIP_STORED: "Stored", zipfile.ZIP_DEFLATED: "Deflate"}
METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA", 9: "Deflate64", 93: "Zstandard",
                98: "PPMd", 99: "AES encryption"}
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def describe_bytes(head: bytes, size: int) -> str:
    """What a file that is not a zip seems to be, from its first bytes, for an error message."""
    if size == 0:
        return "an empty file (0 bytes)"
    kinds = [(magic, f"a {name} image") for magic, name in SIGNATURES]
    kinds += [(b"PK\x03\x04", "a truncated or corrupt zip archive (it starts like one)"),
              (b"\x1f\x8b", "a gzip file (.gz or .tar.gz)"), (b"Rar!", "a RAR archive"),
              (b"7z\xbc\xaf", "a 7-Zip archive"), (b"%PDF", "a PDF document")]
    for magic, kind in kinds:
        if head.startswith(magic):
            return f"{format_bytes(size)} of {kind}"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return f"{format_bytes(size)} of a WebP image"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head[:16]):
        return f"{format_bytes(size)} of text starting {head[:16].decode('ascii')!r}"
    return f"{format_bytes(size)} that are not a zip archive (starting {head[:8]!r})"


class ZipUpload:
    """A zip archive checked as a whole, whose entries are read into memory under running caps.

    Args:
        data: the archive's bytes, or a seekable binary file object holding them.
        limits: the caps.
        label: how messages name the archive.

    Raises:
        UploadRejected: too large, not a zip, truncated, too many entries, or any entry
            with an unsafe name, a symlink or other special type, encryption, or a name
            used twice. The message names the first offending entry.
    """

    def __init__(self, data: bytes | BinaryIO, *, limits: UploadLimits, label: str):
        self.limits = limits
        self.label = label
        self.bytes_read = 0  # inflated so far, over all entries: what the caps count
        stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        stream.seek(0, io.SEEK_END)
        self.size = stream.tell()
        stream.seek(0)
        check_upload_size(self.size, limits, label)
        head = stream.read(16)
        self._check_directory(stream, head)
        try:
            self._zip = zipfile.ZipFile(stream)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError,
                EOFError, OSError, struct.error, UnicodeDecodeError) as error:
            raise UploadRejected(self._not_a_zip(head, f" ({error})")) from None
        self._check_count(len(infos), "entries")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self.skipped: tuple[tuple[str, str], ...] = ()
        self.entries = tuple(self._checked_entries(infos))

    # -- the archive as a whole -------------------------------------------------------

    def _not_a_zip(self, head: bytes, detail: str = "") -> str:
        return (f"Could not open '{self.label}' as a zip archive. {EXPECTED_ZIP}. "
                f"Received: {describe_bytes(head, self.size)}{detail}. Fix: zip the class "
                "folders (without a password) and upload the .zip file.")

    def _check_count(self, count: int, what: str) -> None:
        if count > self.limits.max_entries:
            raise UploadRejected(
                f"'{self.label}' holds too many {what}. Expected at most "
                f"{self.limits.max_entries:,} files and folders. Received: {count:,}. Fix: "
                "upload fewer images, or raise CNNLAB_MAX_ARCHIVE_ENTRIES."
            )

    def _check_directory(self, stream: BinaryIO, head: bytes) -> None:
        """Read the end-of-directory record before `zipfile` does, and bound what it will parse.

        Why: `zipfile` builds an object per directory record up front, so a directory
        claiming millions of entries would cost memory before any count could be checked.
        """
        tail_size = min(self.size, _EOCD.size + 65535)
        stream.seek(self.size - tail_size)
        tail = stream.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise UploadRejected(self._not_a_zip(head, ", with no end-of-archive record"))
        (_, _, _, _, entries, cd_size, _, _) = _EOCD.unpack_from(tail, at)
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # Zip64: the real values are elsewhere
            position = self.size - tail_size + at - _ZIP64_LOCATOR.size
            if position >= 0:
                stream.seek(position)
                locator = stream.read(_ZIP64_LOCATOR.size)
                if locator[:4] == b"PK\x06\x07":
                    stream.seek(_ZIP64_LOCATOR.unpack(locator)[2])
                    record = stream.read(_ZIP64_EOCD.size)
                    if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                        _, _, _, _, _, _, _, entries, cd_size, _ = _ZIP64_EOCD.unpack(record)
        self._check_count(entries, "entries")
        # A directory record takes at least 46 bytes plus the name; 1 KiB each on average
        # is generous for real archives and bounds the parse for hostile ones.
        if cd_size > self.limits.max_entries * 1024:
            raise UploadRejected(
                f"'{self.label}' has a central directory of {format_bytes(cd_size)}, too "
                f"large for the {self.limits.max_entries:,} entries allowed. Expected a normal "
                "zip archive. Received: an oversized or forged directory. Fix: zip the class "
                "folders again."
            )
        stream.seek(0)

    def _checked_entries(self, infos: list[zipfile.ZipInfo]):
        """Every entry's name, type and flags, checked before any entry is read."""
        problems: list[str] = []
        seen: dict[str, str] = {}
        folders: set[str] = set()
        files: list[Entry] = []
        for info in infos:
            name = info.filename
            reason = unsafe_name_reason(name)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if reason is None and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                reason = ("is a symbolic link" if kind == stat.S_IFLNK
                          else "is a special file (device, FIFO or socket)")
            if reason is None and info.flag_bits & 0x41:  # 0x01: encrypted, 0x40: strong encryption
                reason = "is encrypted (the archive has a password)"
            path = normalise_name(name)
            if reason is None and path in seen:
                reason = f"is stored twice (also as {seen[path]!r}), so which one counts is ambiguous"
            if reason is not None:
                problems.append(f"{name!r} {reason}")
                continue
            seen[path] = name
            if info.is_dir() or kind == stat.S_IFDIR:
                if path:
                    folders.add(path)
                continue
            self._infos[path] = info
            files.append(Entry(path, int(info.file_size)))
        parts = [path.split("/") for path in self._infos]
        folders |= {"/".join(split[:end]) for split in parts for end in range(1, len(split))}
        problems += [f"{path!r} is both a file and a folder" for path in sorted(folders & set(self._infos))]
        self.folders = frozenset(folders)
        if problems:
            more = f" (and {len(problems) - 1:,} more)" if len(problems) > 1 else ""
            raise UploadRejected(
                f"'{self.label}' was refused before anything was read: entry {problems[0]}{more}. "
                "Expected plain files and folders with relative names, no links, no password. "
                "Fix: zip the class folders again with a standard zip tool."
            )
        return files

    # -- reading ----------------------------------------------------------------------

    def read(self, entry: Entry) -> bytes:
        """The inflated bytes of `entry`, counted against every cap while they come out.

        Raises:
            UploadRejected: the archive is a bomb (ratio or total over its cap); stop.
            EntryUnreadable: this entry alone cannot be read (damaged, unsupported method,
                over the per-file cap); skip it.
        """
        info = self._infos[entry.path]
        if info.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise EntryUnreadable(f"compressed with {method}, which the lab does not read; "
                                  "zip with the standard Deflate method")
        limits = self.limits
        # The header's compressed size can lie too: never count it as more than the archive.
        compressed = max(1, min(info.compress_size, self.size))
        data = bytearray()
        with self._inflating(entry, info) as stream:
            while chunk := stream.read(CHUNK):
                data += chunk
                self.bytes_read += len(chunk)
                self._check_bomb(entry, len(data), compressed)
                if len(data) > limits.max_file_bytes:
                    raise EntryUnreadable(
                        f"larger than the {format_bytes(limits.max_file_bytes)} allowed for one file")
        return bytes(data)

    @contextlib.contextmanager
    def _inflating(self, entry: Entry, info: zipfile.ZipInfo):
        """The entry's stream; damage found while inflating it makes the entry unreadable."""
        try:
            with self._zip.open(info) as stream:
                yield stream
        except (UploadRejected, EntryUnreadable):
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError, struct.error) as error:
            raise EntryUnreadable(f"damaged in the archive ({error})") from None

    def _check_bomb(self, entry: Entry, inflated: int, compressed: int) -> None:
        limits = self.limits
        ratio = inflated / compressed
        whole = self.bytes_read / max(self.size, 1)
        if (inflated > limits.ratio_grace_bytes and ratio > limits.max_ratio) or (
                self.bytes_read > limits.ratio_grace_bytes and whole > limits.max_ratio):
            raise UploadRejected(
                f"'{self.label}' looks like a zip bomb: {entry.path!r} inflated more than "
                f"{max(ratio, whole):,.0f} times its compressed size. Expected at most "
                f"{limits.max_ratio:g} times (photos barely compress). Received: "
                f"{format_bytes(inflated)} from {format_bytes(compressed)}, and counting. "
                "Nothing was kept. Fix: upload the images themselves, zipped normally."
            )
        if self.bytes_read > limits.max_total_bytes:
            raise UploadRejected(
                f"'{self.label}' inflates to more than {format_bytes(limits.max_total_bytes)}. "
                f"Expected at most that much in all. Received: more, stopped at {entry.path!r}. "
                "Nothing was kept. Fix: upload fewer or smaller images, or raise "
                "CNNLAB_MAX_UNCOMPRESSED_MB."
            )

    def close(self) -> None:
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

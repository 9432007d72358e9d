"""Reading uploads safely: names checked before reading, bombs stopped by counting, limits."""

from __future__ import annotations

import io
import os
import tomllib
import zipfile
from pathlib import Path

import pytest

from cnnlab.data.uploads import (
    EntryUnreadable,
    UploadRejected,
    ZipUpload,
    hidden_reason,
    normalise_name,
    open_upload,
    unsafe_name_reason,
)
from cnnlab.data.uploads.archive import CHUNK
from cnnlab.data.uploads.folder import FolderUpload
from cnnlab.data.uploads.limits import ENVIRONMENT, MIB, UploadLimits, upload_limits
from cnnlab.units import MB, format_bytes
from tests.hostile_corpus import (
    LIMITS,
    lying_compressed_zip,
    make_zip,
    patch_headers,
    zeros_member,
)
from tests.images import photo

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, phrase", [
    ("../evil.png", "'..'"),
    ("ants/../../evil.png", "'..'"),
    ("ants/..", "'..'"),
    ("/etc/passwd", "absolute path"),
    ("//server/share/x.png", "absolute path"),
    ("C:/x.png", "drive letter"),
    ("c:x.png", "drive letter"),
    ("ants\\..\\..\\x.png", "backslash"),
    ("ants/x\x00.png", "control characters"),
    ("ants/x\n.png", "control characters"),
    ("", "empty name"),
    ("a/" + "b" * 256, "too long"),
    ("a/" * 600, "too long"),
])
def test_unsafe_names_are_named(name, phrase):
    assert phrase in unsafe_name_reason(name)


@pytest.mark.parametrize("name, normal", [
    ("ants/001.jpg", "ants/001.jpg"),
    ("./ants/001.jpg", "ants/001.jpg"),
    ("ants//001.jpg", "ants/001.jpg"),
    ("ants/./001.jpg", "ants/001.jpg"),
    ("ants/", "ants"),
    ("ameisen/größe.png", "ameisen/größe.png"),
    ("cafe\u0301/x.png", "café/x.png"),  # NFD becomes NFC, so the two spellings are one name
    ("..hidden/x.png", "..hidden/x.png"),  # '..' only as a whole part climbs
])
def test_safe_names_normalise(name, normal):
    assert unsafe_name_reason(name) is None
    assert normalise_name(name) == normal


@pytest.mark.parametrize("path, hidden", [
    (".DS_Store", True), ("ants/._001.jpg", True), ("__MACOSX/ants/x.jpg", True),
    ("ants/Thumbs.db", True), ("ants/desktop.ini", True), (".git/objects/ab", True),
    ("ants/001.jpg", False), ("ants/macosx.jpg", False),
])
def test_hidden_and_system_files(path, hidden):
    assert (hidden_reason(path) is not None) is hidden


def test_the_same_name_in_two_unicode_forms_is_a_duplicate():
    data = make_zip({"ants/caf\u00e9.png": photo(1), "ants/cafe\u0301.png": photo(2)})
    with pytest.raises(UploadRejected, match="stored twice"):
        ZipUpload(data, limits=LIMITS, label="x.zip")


def test_a_good_zip_lists_files_and_folders_and_reads_them():
    data = make_zip({"ants/sub/deep.png": photo(4)})
    with ZipUpload(data, limits=LIMITS, label="good.zip") as upload:
        assert sorted(e.path for e in upload.entries)[:3] == ["ants/0.png", "ants/1.png", "ants/2.png"]
        assert {"ants", "bees", "ants/sub"} <= upload.folders
        entry = next(e for e in upload.entries if e.path == "ants/sub/deep.png")
        assert upload.read(entry) == photo(4)
        assert upload.bytes_read == len(photo(4))


def test_a_real_bomb_is_stopped_after_the_grace_not_after_inflating():
    """Counting while inflating: the 16 MiB member is abandoned a chunk or two past the grace."""
    data = make_zip({"ants/zeros.bmp": zeros_member()})
    limits = UploadLimits(max_file_bytes=64 * MIB, max_total_bytes=64 * MIB)
    upload = ZipUpload(data, limits=limits, label="bomb.zip")
    bomb = next(e for e in upload.entries if e.path == "ants/zeros.bmp")
    with pytest.raises(UploadRejected, match="looks like a zip bomb") as caught:
        upload.read(bomb)
    ratio_cap_reached = limits.max_ratio * len(data)  # the archive-wide ratio trips first
    assert upload.bytes_read <= max(limits.ratio_grace_bytes, ratio_cap_reached) + 2 * CHUNK
    assert upload.bytes_read < 2 * MIB
    assert "Nothing was kept" in str(caught.value)


def test_a_header_that_understates_the_size_cannot_smuggle_bytes():
    """zipfile stops at the stated size and the CRC exposes the lie: the entry is skipped."""
    data = patch_headers(make_zip({"ants/zeros.bmp": zeros_member()}), "ants/zeros.bmp", file_size=1000)
    upload = ZipUpload(data, limits=LIMITS, label="liar.zip")
    liar = next(e for e in upload.entries if e.path == "ants/zeros.bmp")
    assert liar.size == 1000
    with pytest.raises(EntryUnreadable, match="damaged in the archive"):
        upload.read(liar)
    assert upload.bytes_read <= 1000


@pytest.mark.parametrize("claim", ["to-the-end", "2 GiB"])
def test_a_header_that_overstates_the_compressed_size_cannot_buy_a_ratio(claim):
    """Claimed to the end of the archive, the ratio of the whole archive still trips; claimed
    past the end, zipfile runs out of input at once and the entry is skipped as damaged."""
    if claim == "2 GiB":
        data = patch_headers(make_zip({"ants/zeros.bmp": zeros_member()}), "ants/zeros.bmp",
                             compress_size=2**31)
        error, phrase = EntryUnreadable, "damaged in the archive"
    else:
        data, error, phrase = lying_compressed_zip(), UploadRejected, "zip bomb"
    limits = UploadLimits(max_file_bytes=64 * MIB, max_total_bytes=64 * MIB)
    upload = ZipUpload(data, limits=limits, label="liar.zip")
    with pytest.raises(error, match=phrase):
        upload.read(next(e for e in upload.entries if e.path == "ants/zeros.bmp"))
    assert upload.bytes_read < limits.max_ratio * len(data) + 2 * CHUNK


def test_small_flat_images_are_not_taken_for_bombs():
    """A blank 600 KB BMP deflates a thousandfold, but stays under the ratio's grace."""
    data = make_zip({"ants/blank.bmp": bytes(600_000)})
    upload = ZipUpload(data, limits=LIMITS, label="flat.zip")
    assert len(upload.read(next(e for e in upload.entries if e.path == "ants/blank.bmp"))) == 600_000


def test_the_total_is_counted_across_entries():
    files = {f"ants/{i}.bin": bytes([i]) * 300_000 for i in range(5)}
    limits = UploadLimits(max_total_bytes=1_000_000, max_ratio=1e9)
    upload = ZipUpload(make_zip(files, base=False, method=zipfile.ZIP_STORED), limits=limits, label="t.zip")
    with pytest.raises(UploadRejected, match="inflates to more than"):
        for entry in upload.entries:
            upload.read(entry)
    assert upload.bytes_read <= 1_000_000 + CHUNK


def test_a_file_object_is_read_like_bytes():
    data = make_zip({})
    upload = open_upload(io.BytesIO(data), limits=LIMITS, label="stream.zip")
    assert len(upload.entries) == 6


def test_a_zip_path_over_the_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.zip"
    path.write_bytes(make_zip({}))
    with pytest.raises(UploadRejected, match="'big.zip' is too large"):
        open_upload(path, limits=UploadLimits(max_upload_bytes=100))


def test_a_missing_path_says_so(tmp_path):
    with pytest.raises(UploadRejected, match="Could not read"):
        open_upload(tmp_path / "nope.zip", limits=LIMITS)


# -- folders ------------------------------------------------------------------------------


def test_a_folder_skips_links_and_special_files_and_hidden_folders(tmp_path):
    root = tmp_path / "photos"
    (root / "ants").mkdir(parents=True)
    (root / "ants" / "a.png").write_bytes(photo(1))
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "objects" / "x").write_bytes(b"blob")
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (root / "ants" / "link.png").symlink_to(secret)
    (root / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(root / "ants" / "pipe.png")
    upload = open_upload(root, limits=LIMITS)
    assert isinstance(upload, FolderUpload)
    assert [e.path for e in upload.entries] == ["ants/a.png"]
    reasons = dict(upload.skipped)
    assert "symbolic link" in reasons["ants/link.png"]
    assert "symbolic link" in reasons["elsewhere/"]
    assert "special file" in reasons["ants/pipe.png"]
    assert "hidden" in reasons[".git/"]
    assert upload.read(upload.entries[0]) == photo(1)


def test_a_folder_respects_the_caps(tmp_path):
    root = tmp_path / "photos"
    (root / "ants").mkdir(parents=True)
    for i in range(5):
        (root / "ants" / f"{i}.bin").write_bytes(bytes(400))
    with pytest.raises(UploadRejected, match="too many files"):
        open_upload(root, limits=UploadLimits(max_entries=4))
    upload = open_upload(root, limits=UploadLimits(max_file_bytes=300))
    with pytest.raises(EntryUnreadable, match="larger than"):
        upload.read(upload.entries[0])
    upload = open_upload(root, limits=UploadLimits(max_total_bytes=1000))
    with pytest.raises(UploadRejected, match="holds more than"):
        for entry in upload.entries:
            upload.read(entry)


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(tmp_path):
    root = tmp_path / "photos"
    (root / "ants").mkdir(parents=True)
    (root / "ants" / "a.png").write_bytes(photo(1))
    upload = open_upload(root, limits=LIMITS)
    (root / "ants" / "a.png").unlink()
    (root / "ants" / "a.png").symlink_to(tmp_path / "secret")
    with pytest.raises(EntryUnreadable, match="could not be opened"):
        upload.read(upload.entries[0])


# -- limits ---------------------------------------------------------------------------------


def test_defaults_match_streamlits_upload_cap(monkeypatch):
    for variable, _ in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # The same number; Streamlit counts it in MiB, so its cap never undercuts the lab's.
    assert config["server"]["maxUploadSize"] * MB == upload_limits().max_upload_bytes == 200 * MB
    assert config["server"]["maxUploadSize"] * MIB >= upload_limits().max_upload_bytes


def test_every_limit_is_stated_in_the_unit_it_is_set_in(monkeypatch):
    """One unit everywhere: a cap set as 32 MB is written "32 MB" (not "33.6 MB", as a
    32 MiB cap read in decimal units was), in messages, the README and the Data page."""
    for variable, _ in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    limits = upload_limits()
    stated = {"max_upload_bytes": "200 MB", "max_file_bytes": "32 MB", "max_total_bytes": "1 GB",
              "max_stored_bytes": "512 MB"}
    assert {field: format_bytes(getattr(limits, field)) for field in stated} == stated
    readme = (ROOT / "README.md").read_text()
    assert "| upload size | 200 MB |" in readme and "20,000; 32 MB; 1 GB" in readme
    assert "MiB" not in readme and "GiB" not in readme
    monkeypatch.setenv("CNNLAB_MAX_FILE_MB", "5")
    assert format_bytes(upload_limits().max_file_bytes) == "5 MB"


@pytest.mark.parametrize("variable, text, field, value", [
    ("CNNLAB_MAX_UPLOAD_MB", "50", "max_upload_bytes", 50 * MB),
    ("CNNLAB_MAX_ARCHIVE_ENTRIES", "100", "max_entries", 100),
    ("CNNLAB_MAX_FILE_MB", "0.5", "max_file_bytes", MB // 2),
    ("CNNLAB_MAX_UNCOMPRESSED_MB", "2048", "max_total_bytes", 2048 * MB),
    ("CNNLAB_MAX_COMPRESSION_RATIO", "12.5", "max_ratio", 12.5),
    ("CNNLAB_MAX_IMAGE_PIXELS", "1e6", "max_pixels", 1_000_000),
    ("CNNLAB_MAX_IMAGES", "300", "max_images", 300),
    ("CNNLAB_MAX_DATASET_MB", "64", "max_stored_bytes", 64 * MB),
])
def test_each_limit_has_its_environment_variable(monkeypatch, variable, text, field, value):
    monkeypatch.setenv(variable, text)
    assert getattr(upload_limits(), field) == value


@pytest.mark.parametrize("text", ["-1", "0", "lots", "nan", "inf"])
def test_a_bad_environment_value_is_an_error(monkeypatch, text):
    monkeypatch.setenv("CNNLAB_MAX_IMAGES", text)
    with pytest.raises(ValueError, match="Invalid `CNNLAB_MAX_IMAGES` environment variable"):
        upload_limits()


@pytest.mark.parametrize("count, text", [(0, "0 bytes"), (999, "999 bytes"), (27_087_607, "27.1 MB"),
                                         (200 * MIB, "210 MB"), (5 * 10**12, "5 TB")])
def test_format_bytes(count, text):
    assert format_bytes(count) == text

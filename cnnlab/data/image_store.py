"""Stored image-folder data sets: where they live, their manifests, listing, loading, deleting.

Each imported data set is a folder `<home>/datasets/<name>/` beside the run store (home
is `$CNNLAB_HOME` or `./runs`), holding `images.npz` (compressed uint8 arrays: the training
pool and the test split, already resized) and `manifest.json` (class names, counts, image
size, skipped files with reasons, source). A folder appears whole or not at all: it is
written under a hidden temporary name and renamed into place, so a reader, another
process or a crash never sees half a data set.

Why discovered at lookup time rather than registered in code: the data sets are data.
The registry (`cnnlab.data.registry.DATASETS`) lists them under the key `folder:<name>`,
so an experiment config, the Train form and the job runner use them like the built-in
ones, and one imported by the CLI shows up in a running server at once. Listing is cheap:
a manifest is parsed again only when its file changes.

This module stays light (json, os, numpy): `import cnnlab.data` must not pull in more.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.data.dataset import DatasetInfo

PREFIX = "folder:"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "images.npz"
FOLDER = "datasets"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Staging and trash folders older than this are left over from a crash and removed.
STALE_AFTER_S = 3600.0
MAX_SKIPPED_KEPT = 1000  # the manifest lists at most this many skipped files


def datasets_dir(home: str | Path | None = None) -> Path:
    """The folder stored data sets live in: `<home>/datasets`, home defaulting to the run store's."""
    if home is None:
        from cnnlab.store import default_home

        home = default_home()
    return Path(home) / FOLDER


def check_name(name) -> str:
    """`name` if it is a valid data set name, else a ValueError saying what is allowed."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            "Invalid data set `name`. Expected 1 to 40 lowercase letters, digits, '_' or '-', "
            f"starting with a letter or digit, e.g. 'ants_bees'. Received: {name!r}. "
            f"Fix: try {suggest_name(str(name))!r}."
        )
    return name


def suggest_name(text: str) -> str:
    """A valid name made from `text` (an upload's file name): 'Ants & Bees.zip' -> 'ants_bees'."""
    stem = re.sub(r"\.(zip|tar|gz|tgz)$", "", text.strip().lower())
    slug = re.sub(r"[^a-z0-9_-]+", "_", stem).strip("_-")[:40].rstrip("_-")
    return slug or "images"


def key_of(name: str) -> str:
    """The registry key of the stored data set `name`: 'folder:<name>'."""
    return PREFIX + name


def name_of(key: str) -> str | None:
    """The stored data set name in a registry key, or None if the key is not 'folder:<name>'."""
    if isinstance(key, str) and key.startswith(PREFIX) and NAME_PATTERN.match(key[len(PREFIX):]):
        return key[len(PREFIX):]
    return None


@dataclass(frozen=True)
class StoredDataset:
    """The manifest of a stored data set: what a form, a listing or the loader needs to know.

    Args:
        name: the data set's name; its registry key is `folder:<name>`.
        class_names: one per class index, in label order (sorted folder names).
        class_counts: images per class, in the same order, over both splits.
        image_size: the side length the images were stored at.
        channels: 3 (RGB) or 1 (every source image was grey).
        pool_size: images in the training pool (validation is drawn from it per run).
        test_size: images in the test split, fixed at import.
        test_fraction: the share of images held out as the test split.
        seed: seeded the test split.
        source: the zip's file name or the folder imported.
        created_at: unix seconds.
        import_id: random, new for every import: caches key on it, so a data set deleted
            and imported again under the same name is never served stale.
        skipped: (path, reason) of the files left out, at most `MAX_SKIPPED_KEPT`.
        skipped_count: how many files were left out in all.
        notes: what else the import did (empty classes left out, files read by content).
    """

    name: str
    class_names: tuple[str, ...]
    class_counts: tuple[int, ...]
    image_size: int
    channels: int
    pool_size: int
    test_size: int
    test_fraction: float
    seed: int
    source: str
    created_at: float
    import_id: str
    skipped: tuple[tuple[str, str], ...] = ()
    skipped_count: int = 0
    notes: tuple[str, ...] = ()
    format_version: int = field(default=FORMAT_VERSION)

    @property
    def key(self) -> str:
        """The registry key: what an experiment config's `dataset` holds."""
        return key_of(self.name)

    @property
    def num_images(self) -> int:
        return self.pool_size + self.test_size

    def description(self) -> str:
        """One or two sentences for the forms."""
        colour = "RGB" if self.channels == 3 else "grayscale"
        classes = ", ".join(f"{name} {count:,}" for name, count in zip(self.class_names,
                                                                      self.class_counts, strict=True))
        if len(classes) > 160:
            classes = classes[:157] + "..."
        return (f"{self.num_images:,} images in {len(self.class_names)} classes ({classes}), "
                f"imported from '{self.source}' and stored at {self.image_size}×{self.image_size} "
                f"{colour}; {self.test_size:,} held out as the test split.")

    def info(self) -> DatasetInfo:
        """This data set as a registry entry."""
        return DatasetInfo(
            name=self.key, title=f"{self.name} (imported)", description=self.description(),
            native_size=self.image_size, default_size=self.image_size, channels=self.channels,
            num_classes=len(self.class_names), pool_size=self.pool_size, test_size=self.test_size,
            needs_download=False, version=self.import_id,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> StoredDataset:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format {data.get('format_version')!r}")
        data["class_names"] = tuple(str(n) for n in data["class_names"])
        data["class_counts"] = tuple(int(c) for c in data["class_counts"])
        data["skipped"] = tuple((str(p), str(r)) for p, r in data.get("skipped", ()))
        data["notes"] = tuple(str(n) for n in data.get("notes", ()))
        manifest = cls(**data)
        check_name(manifest.name)
        if (len(manifest.class_names) < 2 or len(manifest.class_counts) != len(manifest.class_names)
                or sum(manifest.class_counts) != manifest.num_images or manifest.channels not in (1, 3)):
            raise ValueError("inconsistent manifest")
        return manifest


# -- listing ---------------------------------------------------------------------------

_manifests: dict[Path, tuple[tuple, StoredDataset | None]] = {}
_manifests_lock = threading.Lock()


def list_stored(home: str | Path | None = None) -> list[StoredDataset]:
    """The stored data sets under `home`, by name. Damaged or foreign folders are left out."""
    root = datasets_dir(home)
    try:
        names = sorted(entry.name for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False))
    except OSError:
        return []
    found = []
    for name in names:
        if NAME_PATTERN.match(name):
            manifest = _read_manifest(root / name / MANIFEST)
            if manifest is not None and manifest.name == name:
                found.append(manifest)
    return found


def find_stored(name: str, home: str | Path | None = None) -> StoredDataset | None:
    """The manifest of the stored data set `name`, or None if there is none (or it is damaged)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return None
    manifest = _read_manifest(datasets_dir(home) / name / MANIFEST)
    return manifest if manifest is not None and manifest.name == name else None


def _read_manifest(path: Path) -> StoredDataset | None:
    """The parsed manifest, re-read only when the file changed (a folder is replaced whole)."""
    try:
        info = path.stat()
    except OSError:
        return None
    stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
    with _manifests_lock:
        cached = _manifests.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        manifest = StoredDataset.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        manifest = None
    with _manifests_lock:
        _manifests[path] = (stamp, manifest)
    return manifest


# -- writing and deleting -----------------------------------------------------------------


def write_stored(manifest: StoredDataset, arrays: dict[str, np.ndarray], *,
                 home: str | Path | None = None, replace: bool = False) -> Path:
    """Write a data set atomically: a hidden staging folder, then one rename into place.

    Args:
        manifest: the data set's manifest.
        arrays: `x_pool`, `y_pool`, `x_test`, `y_test`.
        home: the run store's home; defaults to `$CNNLAB_HOME` or `./runs`.
        replace: replace a data set of the same name (else that is an error).

    Raises:
        ValueError: a data set of that name exists and `replace` is False.
    """
    root = datasets_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    target = root / check_name(manifest.name)
    if not replace and target.exists():
        raise name_taken(manifest.name)
    staging = root / f".incoming-{manifest.name}-{secrets.token_hex(6)}"
    staging.mkdir()
    trash = None
    try:
        with open(staging / ARRAYS, "wb") as file:
            np.savez_compressed(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        if replace and target.exists():
            trash = root / f".replaced-{manifest.name}-{secrets.token_hex(6)}"
            os.rename(target, trash)
        try:
            os.rename(staging, target)
        except OSError:  # another import took the name meanwhile
            raise name_taken(manifest.name) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return target


def name_taken(name: str) -> ValueError:
    """The error for a new data set whose name is in use."""
    return ValueError(
        f"A data set named {name!r} already exists. Expected a new name. Received: {name!r}. "
        "Fix: choose another name, or delete the stored one first (or replace it)."
    )


def delete_stored(name: str, home: str | Path | None = None) -> None:
    """Delete the stored data set `name` (renamed away first, so it vanishes at once).

    Runs that trained on it keep their results, but cannot be retrained or reloaded.

    Raises:
        ValueError: there is no stored data set of that name.
    """
    root = datasets_dir(home)
    target = root / check_name(name)
    trash = root / f".deleting-{name}-{secrets.token_hex(6)}"
    try:
        os.rename(target, trash)
    except FileNotFoundError:
        stored = [m.name for m in list_stored(home)]
        raise ValueError(f"Unknown stored data set. Expected one of {stored}. Received: {name!r}.") from None
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale(root: Path) -> None:
    """Remove staging and trash folders a crash left behind (older than an hour)."""
    now = time.time()
    for entry in os.scandir(root):
        if entry.name.startswith((".incoming-", ".replaced-", ".deleting-")):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S:
                    shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass


# -- loading ---------------------------------------------------------------------------


def load_stored_pool(name: str, home: str | Path | None = None):
    """The stored arrays of `name`: `(x_pool, y_pool, x_test, y_test), class_names`.

    Images are uint8 (N, size, size, channels), labels int32; everything is checked against
    the manifest, so a damaged or tampered file is an error rather than a strange run.

    Raises:
        ValueError: no such data set, or its files are damaged.
    """
    manifest = find_stored(name, home)
    if manifest is None:
        stored = [m.name for m in list_stored(home)]
        raise ValueError(f"Unknown stored data set. Expected one of {stored}. Received: {name!r}. "
                         "Fix: import it on the Data page or with `python -m cnnlab import-images`.")
    path = datasets_dir(home) / name / ARRAYS
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = tuple(np.asarray(archive[k]) for k in ("x_pool", "y_pool", "x_test", "y_test"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise _damaged(name, path, f"cannot be read ({error})") from None
    x_pool, y_pool, x_test, y_test = arrays
    shape = (manifest.image_size, manifest.image_size, manifest.channels)
    for what, x, y, count in (("pool", x_pool, y_pool, manifest.pool_size),
                              ("test", x_test, y_test, manifest.test_size)):
        if x.dtype != np.uint8 or x.shape != (count, *shape) or y.shape != (count,):
            raise _damaged(name, path, f"holds {what} arrays of shape {x.shape} and {y.shape}, "
                           f"not ({count}, {', '.join(map(str, shape))})")
        if count and (y.min() < 0 or y.max() >= len(manifest.class_names)):
            raise _damaged(name, path, f"has {what} labels outside 0..{len(manifest.class_names) - 1}")
    return (x_pool, y_pool.astype(np.int32), x_test, y_test.astype(np.int32)), manifest.class_names


def _damaged(name: str, path: Path, what: str) -> ValueError:
    return ValueError(f"The stored data set {name!r} is damaged: {path} {what}. Expected the "
                      "arrays its manifest describes. Fix: delete it and import it again.")

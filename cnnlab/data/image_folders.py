"""Image folders as data sets: scan an upload or a folder of class sub-folders, then import it.

Two steps, so people see what they get before anything is stored:

1. `scan_images(source)` reads a zip (bytes, file object or path) or a folder through
   `cnnlab.data.uploads` (every safety cap applies), decodes every candidate image with
   `cnnlab.data.images.decode_image` (header-checked pixel limit, every Pillow mode), and
   returns an `ImageFolderScan`: the classes, images per class, and every file skipped
   with its reason. Its `text()` is the summary: "3 classes, 412 images, 9 skipped: ...".
2. `import_scan(scan, name, image_size=..., test_fraction=..., seed=...)` decodes the
   accepted images again at the chosen size, holds out a stratified, seeded test split,
   and stores the data set atomically (`cnnlab.data.image_store`). From then on it is
   the registry entry `folder:<name>`, usable in any experiment.

Why decode twice rather than keep the scan's pixels: the size is chosen after the
summary, and keeping every photo decoded would cost gigabytes; a second decode costs
seconds. Layout: class = first folder below the root, sorted like Keras'
`image_dataset_from_directory`; one wrapping folder ("hymenoptera/ants/...") is looked
through; images deeper in a class folder count for that class.
"""

from __future__ import annotations

import io
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from cnnlab.data import image_store
from cnnlab.data.splits import stratified_sample, validation_count
from cnnlab.data.uploads import (
    EntryUnreadable,
    UploadRejected,
    hidden_reason,
    open_upload,
)
from cnnlab.data.uploads.limits import UploadLimits, upload_limits
from cnnlab.text import check_name
from cnnlab.units import format_bytes

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 256  # as ExperimentConfig.image_size
MIN_TEST_FRACTION, MAX_TEST_FRACTION = 0.05, 0.5
IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".gif": "GIF",
                  ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")
# category: (singular, plural), in the order the summary lists them.
CATEGORIES = {
    "hidden": ("hidden or system file", "hidden or system files"),
    "outside": ("file outside the class folders", "files outside the class folders"),
    "not_image": ("file that is not an image", "files that are not images"),
    "archive": ("nested archive (not opened)", "nested archives (not opened)"),
    "damaged": ("truncated or corrupt image", "truncated or corrupt images"),
    "too_large": ("image over the size limits", "images over the size limits"),
    "unreadable": ("unreadable file", "unreadable files"),
    "link": ("link or special file (not followed)", "links or special files (not followed)"),
}
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """A file left out of the data set, and why."""

    path: str
    reason: str
    category: str  # a key of CATEGORIES


@dataclass(frozen=True, eq=False)
class ImageFolderScan:
    """What an upload holds: classes, images per class, files skipped. Nothing is stored yet.

    Args:
        label: the upload's file name or the folder's name.
        class_names: the classes kept, sorted; labels index into this.
        class_counts: usable images per class.
        skipped: every file left out, with its reason.
        notes: what else was decided (a wrapping folder looked through, empty classes left
            out, images read by content or converted from other modes).
        grey: whether every image is grey, so one channel loses nothing.
        modes: how many images came in each Pillow mode ('RGB', 'L', 'P', 'CMYK', ...).
    """

    label: str
    class_names: tuple[str, ...]
    class_counts: tuple[int, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...]
    grey: bool
    modes: dict[str, int]
    limits: UploadLimits = field(repr=False)
    # What import_scan reads again: the zip's bytes or the path, and (class index, path).
    source: object = field(repr=False, default=None)
    images: tuple[tuple[int, str], ...] = field(repr=False, default=())

    @property
    def num_images(self) -> int:
        return sum(self.class_counts)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def skipped_by_category(self) -> dict[str, int]:
        counts = Counter(item.category for item in self.skipped)
        return {category: counts[category] for category in CATEGORIES if counts[category]}

    def text(self) -> str:
        """The one-line summary: '2 classes, 242 images, 3 skipped: 2 hidden or system files, ...'."""
        head = f"{self.num_classes} classes, {self.num_images:,} images"
        if not self.skipped:
            return head + ", none skipped."
        parts = [f"{count:,} {CATEGORIES[category][count != 1]}"
                 for category, count in self.skipped_by_category().items()]
        return f"{head}, {len(self.skipped):,} skipped: {', '.join(parts)}."

    def planned_split(self, test_fraction: float) -> tuple[int, int]:
        """(training pool, test split) sizes an import with `test_fraction` gives."""
        test = validation_count(self.num_images, test_fraction)
        return self.num_images - test, test


class NotEnoughClasses(ValueError):
    """An upload with fewer than two usable classes; `.scan` holds what was found."""

    def __init__(self, message: str, scan: ImageFolderScan):
        super().__init__(message)
        self.scan = scan


def scan_images(source, *, label: str | None = None, limits: UploadLimits | None = None,
                progress: Progress | None = None) -> ImageFolderScan:
    """Read an upload or a folder of class folders and say what an import would get.

    Args:
        source: a zip's bytes, a binary file object (e.g. Streamlit's UploadedFile), or a
            path to a .zip file or to a folder.
        label: how messages name the upload; defaults to the file or folder name.
        limits: the caps; defaults to `cnnlab.data.uploads.limits.upload_limits()`.
        progress: called with (files done, files in all) while decoding.

    Raises:
        UploadRejected: the upload as a whole is hostile, broken or over a limit (more
            images than `limits.max_images` included).
        NotEnoughClasses: fewer than two class folders hold usable images.
    """
    limits = limits or upload_limits()
    if hasattr(source, "getvalue"):  # an in-memory upload: keep the bytes to read again
        label = label or getattr(source, "name", None)
        source = source.getvalue()
    elif hasattr(source, "read"):  # read one byte past the cap, so the size check sees it
        source = source.read(limits.max_upload_bytes + 1)
    with open_upload(source, limits=limits, label=label) as upload:
        label = upload.label
        skipped = [Skipped(path, reason, "hidden" if hidden_reason(path) else "link")
                   for path, reason in upload.skipped]
        candidates, folders, notes = _layout([entry.path for entry in upload.entries],
                                             upload.folders, skipped)
        _check_class_names(folders, label)
        by_path = {entry.path: entry for entry in upload.entries}
        accepted: list[tuple[str, str]] = []
        modes: Counter = Counter()
        renamed: list[str] = []
        grey = True
        for done, (path, class_name) in enumerate(candidates):
            if progress is not None:
                progress(done, len(candidates))
            try:
                data = upload.read(by_path[path])
            except EntryUnreadable as error:
                skipped.append(Skipped(path, str(error), "too_large" if "larger" in str(error)
                                       else "unreadable"))
                continue
            result = _check_image(path, data, limits)
            if isinstance(result, Skipped):
                skipped.append(result)
                continue
            mode, image_format, is_grey = result
            accepted.append((class_name, path))
            modes[mode] += 1
            grey = grey and is_grey
            expected = IMAGE_SUFFIXES.get(PurePosixPath(path).suffix.lower())
            if expected != image_format:
                renamed.append(f"'{path}' is a {image_format}")
            if len(accepted) > limits.max_images:
                raise UploadRejected(
                    f"'{label}' holds more images than one data set may. Expected at most "
                    f"{limits.max_images:,}. Received: more than that. Fix: upload a subset, "
                    "or raise CNNLAB_MAX_IMAGES.")
    counts = Counter(class_name for class_name, _ in accepted)
    class_names = tuple(sorted(counts))
    empty = sorted(folders - set(counts))
    if empty:
        notes.append(f"{len(empty)} class folder{'s' if len(empty) > 1 else ''} with no usable "
                     f"images left out: {', '.join(repr(name) for name in empty[:10])}"
                     f"{' ...' if len(empty) > 10 else ''}.")
    if renamed:
        notes.append(f"{len(renamed)} image{'s' if len(renamed) > 1 else ''} read by content, "
                     f"not by name ({renamed[0]}{', ...' if len(renamed) > 1 else ''}).")
    converted = {mode: count for mode, count in sorted(modes.items()) if mode != "RGB"}
    if converted:
        notes.append("Converted from other modes: " + ", ".join(f"{count:,} in mode {mode}"
                                                      for mode, count in converted.items())
                     + " (transparency composited on white).")
    index = {name: i for i, name in enumerate(class_names)}
    scan = ImageFolderScan(
        label=label, class_names=class_names,
        class_counts=tuple(counts[name] for name in class_names), skipped=tuple(skipped),
        notes=tuple(notes), grey=grey and bool(accepted), modes=dict(modes), limits=limits,
        source=source, images=tuple((index[class_name], path) for class_name, path in accepted))
    _check_classes(scan, folders, len(candidates))
    return scan


def _layout(paths: list[str], all_folders, skipped: list[Skipped]):
    """The candidate images as (path, class name), the class folders, and notes.

    Hidden files are skipped here, and a wrapping folder is looked through.
    """
    notes: list[str] = []
    visible = []
    for path in paths:
        reason = hidden_reason(path)
        if reason is not None:
            skipped.append(Skipped(path, reason, "hidden"))
        else:
            visible.append(path)
    # A zip of one folder that holds the class folders: look through the wrapper.
    prefix = ""
    while visible and len({p[len(prefix):].split("/")[0] for p in visible}) == 1 and any(
            p[len(prefix):].count("/") >= 2 for p in visible):
        prefix += visible[0][len(prefix):].split("/")[0] + "/"
    if prefix:
        notes.append(f"Read the class folders inside '{prefix}'.")
    candidates = []
    for path in visible:
        relative = path[len(prefix):]
        if "/" not in relative:
            skipped.append(Skipped(path, "not inside a class folder", "outside"))
        else:
            candidates.append((relative.split("/")[0], path))
    deep = sum(1 for _, path in candidates if path[len(prefix):].count("/") > 1)
    if deep:
        notes.append(f"{deep:,} files in sub-folders of a class folder count for that class.")
    folders = {folder[len(prefix):].split("/")[0] for folder in all_folders
               if folder.startswith(prefix) and len(folder) > len(prefix) and hidden_reason(folder) is None}
    folders |= {class_name for class_name, _ in candidates}
    return [(path, class_name) for class_name, path in candidates], folders, notes


def _check_class_names(folders, label: str) -> None:
    """Refuse the upload if a class folder's name holds a hidden character.

    Why refuse rather than skip: the name is the class's label on every chart and page;
    invisible or reordering characters (bidirectional overrides, zero-width joiners) make
    two classes look alike or a name read differently from what it is (cnnlab.text).
    """
    for folder in sorted(folders):
        try:
            check_name(folder, what="class folder name", where=f"in '{label}'")
        except ValueError as error:
            raise UploadRejected(str(error)) from None


def _check_image(path: str, data: bytes, limits: UploadLimits):
    """(mode, format, grey) of a decodable image, or the Skipped entry saying why not."""
    from PIL import Image

    from cnnlab.data.images import FORMATS, SIGNATURES, decode_image

    if data.startswith(ARCHIVE_MAGIC) or path.lower().endswith(ARCHIVE_SUFFIXES):
        return Skipped(path, "an archive inside the archive; nested archives are not opened",
                       "archive")
    try:
        pixels = decode_image(data, max_pixels=limits.max_pixels)
    except ValueError as error:
        message = str(error)
        looks_like_image = any(data.startswith(magic) for magic, _ in SIGNATURES) or (
            data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        if "pixels" in message and "at most" in message:
            category = "too_large"
        elif looks_like_image:
            category = "damaged"
        else:
            category = "not_image"
        return Skipped(path, message.removeprefix("Could not read the uploaded file as an image. "),
                       category)
    with Image.open(io.BytesIO(data), formats=FORMATS) as image:
        mode, image_format = image.mode, image.format
    grey = bool(np.array_equal(pixels[..., 0], pixels[..., 1])
                and np.array_equal(pixels[..., 1], pixels[..., 2]))
    return mode, ("JPEG" if image_format == "MPO" else image_format), grey


def _check_classes(scan: ImageFolderScan, folders: set[str], candidates: int) -> None:
    skipped = f" Skipped: {scan.text().split(': ', 1)[1]}" if scan.skipped else ""
    layout = ("Expected a folder per class holding its images, e.g. ants/001.jpg and "
              "bees/002.jpg (zipped, or inside one top folder).")
    if not folders:
        raise NotEnoughClasses(
            f"No class folders found in '{scan.label}'. {layout} Received: "
            f"{len(scan.skipped):,} files, none inside a folder.{skipped} Fix: put each "
            "class's images in a folder named after the class.", scan)
    if scan.num_classes == 0:
        raise NotEnoughClasses(
            f"No usable images in '{scan.label}'. {layout} Received: {candidates:,} files in "
            f"{len(folders)} folders, none a readable image.{skipped}", scan)
    if scan.num_classes == 1:
        raise NotEnoughClasses(
            f"Only one class found in '{scan.label}': {scan.class_names[0]!r} with "
            f"{scan.num_images:,} images. Expected at least 2 class folders, since a classifier "
            f"needs something to tell apart. {layout}{skipped} Fix: add a folder for each "
            "other class.", scan)


def import_scan(scan: ImageFolderScan, name: str, *, image_size: int = 64,
                test_fraction: float = 0.2, seed: int = 0, channels: int | None = None,
                home: str | Path | None = None, replace: bool = False,
                progress: Progress | None = None) -> image_store.StoredDataset:
    """Store the scanned images as the data set `name`, resized, with a held-out test split.

    Each image is centre-cropped to a square and resized (`cnnlab.data.images.fit_image`), so
    photos are not squashed. The test split is a stratified `test_fraction` drawn with
    `seed`; the rest is the training pool, from which each run draws its validation split
    with its own `validation_fraction`, as for the built-in data sets.

    Args:
        scan: what `scan_images` returned.
        name: lowercase letters, digits, '_' or '-'; the registry key becomes 'folder:<name>'.
        image_size: side length in pixels, 8 to 256. Defaults to 64.
        test_fraction: share held out as the test split, 0.05 to 0.5. Defaults to 0.2.
        seed: seeds the test split. Defaults to 0.
        channels: 3 (RGB) or 1 (grey); None picks 1 only if every image is grey.
        home: the run store's home; defaults to `$CNNLAB_HOME` or `./runs`.
        replace: replace a stored data set of the same name.
        progress: called with (images done, images in all).

    Raises:
        ValueError: for invalid arguments, a name in use, too many bytes to store, or
            too few images for a split.
    """
    from cnnlab.data.images import decode_image, fit_image

    image_store.check_name(name)
    image_size, test_fraction, seed, channels = _check_import_args(
        scan, image_size, test_fraction, seed, channels)
    if not replace and image_store.find_stored(name, home) is not None:
        raise image_store.name_taken(name)
    limits = scan.limits
    needed = scan.num_images * image_size * image_size * channels
    if needed > limits.max_stored_bytes:
        largest = math.isqrt(limits.max_stored_bytes // max(1, scan.num_images * channels))
        raise ValueError(
            f"{scan.num_images:,} images of {image_size}×{image_size}×{channels} take "
            f"{format_bytes(needed)}. Expected at most {format_bytes(limits.max_stored_bytes)}. "
            f"Received: image_size={image_size}. Fix: choose an image size of at most {largest}.")
    images = np.empty((scan.num_images, image_size, image_size, channels), np.uint8)
    labels = np.empty(scan.num_images, np.int32)
    kept = 0
    lost: list[tuple[str, str]] = []
    with open_upload(scan.source, limits=limits, label=scan.label) as upload:
        by_path = {entry.path: entry for entry in upload.entries}
        for done, (label, path) in enumerate(scan.images):
            if progress is not None:
                progress(done, len(scan.images))
            try:
                pixels = decode_image(upload.read(by_path[path]), max_pixels=limits.max_pixels)
            except (KeyError, ValueError) as error:  # changed since the scan: skip it too
                if isinstance(error, UploadRejected):
                    raise
                lost.append((path, f"could not be read again ({error})"))
                continue
            fitted = fit_image(pixels, image_size, channels=channels)
            images[kept] = np.round(fitted * 255.0).astype(np.uint8)
            labels[kept] = label
            kept += 1
    images, labels = images[:kept], labels[:kept]
    counts = np.bincount(labels, minlength=scan.num_classes)
    test_count = validation_count(kept, test_fraction)
    if kept - test_count < 2 or test_count < 1 or np.count_nonzero(counts) < 2:
        raise ValueError(
            f"Too few images to split. Expected at least 2 training images and 1 test image in "
            f"2 classes or more. Received: {kept} images, {test_count} of them for testing "
            f"(test_fraction={test_fraction}). Fix: add images, or raise the test fraction.")
    rng = np.random.default_rng(seed)
    test = np.sort(stratified_sample(labels, np.arange(kept), test_count, rng))
    pool = np.setdiff1d(np.arange(kept), test, assume_unique=True)
    skipped = [(item.path, item.reason) for item in scan.skipped] + lost
    manifest = image_store.StoredDataset(
        name=name, class_names=scan.class_names, class_counts=tuple(int(c) for c in counts),
        image_size=image_size, channels=channels, pool_size=len(pool), test_size=len(test),
        test_fraction=float(test_fraction), seed=seed, source=scan.label, created_at=time.time(),
        import_id=_new_id(), skipped=tuple(skipped[:image_store.MAX_SKIPPED_KEPT]),
        skipped_count=len(skipped), notes=scan.notes)
    image_store.write_stored(
        manifest, {"x_pool": images[pool], "y_pool": labels[pool], "x_test": images[test],
                   "y_test": labels[test]}, home=home, replace=replace)
    return manifest


def _check_import_args(scan, image_size, test_fraction, seed, channels):
    def whole(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not whole(image_size) or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"Invalid `image_size`. Expected an integer from {MIN_IMAGE_SIZE} to "
                         f"{MAX_IMAGE_SIZE} pixels. Received: {image_size!r}.")
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float))
            or not MIN_TEST_FRACTION <= test_fraction <= MAX_TEST_FRACTION):
        raise ValueError(f"Invalid `test_fraction`. Expected a number from {MIN_TEST_FRACTION} "
                         f"to {MAX_TEST_FRACTION}. Received: {test_fraction!r}.")
    if not whole(seed) or seed < 0:
        raise ValueError(f"Invalid `seed`. Expected an integer >= 0. Received: {seed!r}.")
    if channels is None:
        channels = 1 if scan.grey else 3
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"Invalid `channels`. Expected 1 (grey), 3 (RGB) or None (automatic). "
                         f"Received: {channels!r}.")
    return int(image_size), float(test_fraction), int(seed), int(channels)


def _new_id() -> str:
    import secrets

    return secrets.token_hex(8)


def import_images(source, name: str, *, label: str | None = None,
                  limits: UploadLimits | None = None, **options) -> image_store.StoredDataset:
    """`scan_images(source)` then `import_scan(scan, name, **options)`, in one call."""
    return import_scan(scan_images(source, label=label, limits=limits), name, **options)

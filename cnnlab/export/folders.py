"""`train.py`'s command line: `--epochs N`, and `--data FOLDER` to train on a folder of images.

Why a folder of class folders: it is what the lab's Data page imports, so a teacher can
rerun an exported experiment on the photos of a lesson (or on the very folder a run's
imported data set came from) with Keras alone. The script reads it the way the lab
imports one: one sub-folder per class, sorted by name, images found by walking each class
folder in sorted order (sub-folders count for their class), hidden and system files
skipped; each image decoded with Pillow (EXIF orientation applied, transparency on white),
centre-cropped to a square and resized (`cnnlab.data.images.fit_image`, copied), stored as
8-bit, and a stratified, seeded share held out for testing. For a run on an imported data
set the script uses that import's size, test share and seed, so the same folder gives the
run's images and split (tests/test_export.py checks it against the lab's own import).
"""

from __future__ import annotations

from cnnlab.config import ExperimentConfig

# The Data page's defaults, for runs on a data set not imported from a folder.
DEFAULT_TEST_FRACTION, DEFAULT_TEST_SEED = 0.2, 0


def folder_constants(config: ExperimentConfig, size: int) -> dict:
    """How `--data` reads a folder: the size images are stored at, the test share and seed."""
    from cnnlab.data.image_store import find_stored, name_of

    stored = name_of(config.dataset)
    manifest = find_stored(stored) if stored is not None else None
    if manifest is None:
        return {"FOLDER_IMAGE_SIZE": size, "FOLDER_TEST_FRACTION": DEFAULT_TEST_FRACTION,
                "FOLDER_TEST_SEED": DEFAULT_TEST_SEED}
    return {"FOLDER_IMAGE_SIZE": manifest.image_size, "FOLDER_TEST_FRACTION": manifest.test_fraction,
            "FOLDER_TEST_SEED": manifest.seed}


def imported_load_pool(config: ExperimentConfig) -> str:
    """`load_pool` for a run on an imported data set: its images are not in the bundle."""
    from cnnlab.data.image_store import find_stored, name_of

    name = name_of(config.dataset)
    manifest = find_stored(name) if name is not None else None
    source = f", imported from '{manifest.source}'" if manifest is not None else ""
    message = (f"This run trained on the data set '{name}'{source} into the lab; its images "
               "are not in the bundle. Pass the folder they came from: python train.py --data "
               "FOLDER (one sub-folder of images per class).")
    return (f"def load_pool():\n    \"\"\"The imported data set's images come from --data.\"\"\"\n"
            f"    raise SystemExit({message!r})")


def folder_parts() -> list[str]:
    """The script's code that reads `--data FOLDER`: the lab's image fitting, copied, and the loader."""
    import inspect
    import textwrap

    from cnnlab.data import images
    from cnnlab.data.image_folders import IMAGE_SUFFIXES
    from cnnlab.data.uploads.entries import SYSTEM_NAMES

    copied = [textwrap.dedent(inspect.getsource(function)) for function in
              (images.to_rgb, images.scale_grey, images.fit_image)]
    constants = (f"IMAGE_SUFFIXES = {tuple(sorted(IMAGE_SUFFIXES))!r}\n"
                 f"SYSTEM_NAMES = {tuple(sorted(SYSTEM_NAMES))!r}\n"
                 f"LUMA_WEIGHTS = np.array({images.LUMA_WEIGHTS.tolist()!r}, np.float32)")
    return [constants, *copied, _LOADER, _ARGUMENTS]


_LOADER = '''
def _visible(name):
    return not name.startswith(".") and name.casefold() not in SYSTEM_NAMES


def image_folder_paths(folder):
    """(class index, path) of each image, in the order the lab reads a folder; the class names."""
    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir() and _visible(entry.name))
    found = []
    for label, name in enumerate(classes):
        for root, subfolders, names in os.walk(folder / name):
            subfolders[:] = sorted(sub for sub in subfolders if _visible(sub))
            found += [(label, Path(root) / file) for file in sorted(names)
                      if _visible(file) and Path(file).suffix.lower() in IMAGE_SUFFIXES]
    return found, classes


def load_image_folders(folder):
    """(x_pool, y_pool, x_test, y_test) from a folder with one sub-folder of images per class.

    As the lab's Data page imports one: each image centre-cropped and resized to
    FOLDER_IMAGE_SIZE, as 8-bit; FOLDER_TEST_FRACTION of each class held out for testing,
    drawn with FOLDER_TEST_SEED. Unreadable images are skipped, each said.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"--data {folder}: not a folder. Expected a folder with one sub-folder "
                         "of images per class.")
    paths, classes = image_folder_paths(folder)
    if len(classes) != NUM_CLASSES:
        raise SystemExit(f"--data {folder}: {len(classes)} class folders ({', '.join(classes[:10])}). "
                         f"Expected {NUM_CLASSES}, one per output of the model. Point --data at a "
                         f"folder with {NUM_CLASSES} sub-folders of images.")
    images, labels = [], []
    for label, path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                try:
                    image = ImageOps.exif_transpose(image)
                except Exception:  # noqa: BLE001, S110 - a broken EXIF block costs no picture
                    pass
                pixels = to_rgb(image)
        except Exception as error:  # noqa: BLE001 - a bad file is skipped, as the lab skips it
            print(f"Skipped {path}: {error}")
            continue
        fitted = fit_image(pixels, FOLDER_IMAGE_SIZE, channels=CHANNELS)
        images.append(np.round(fitted * 255.0).astype(np.uint8))
        labels.append(label)
    labels = np.asarray(labels, np.int32)
    test_count = validation_count(len(labels), FOLDER_TEST_FRACTION)
    if len(labels) - test_count < 2 or test_count < 1:
        raise SystemExit(f"--data {folder}: {len(labels)} readable images. Expected enough for a "
                         "test split and training (3 at least). Add images.")
    rng = np.random.default_rng(FOLDER_TEST_SEED)
    test = np.sort(stratified_sample(labels, np.arange(len(labels)), test_count, rng))
    pool = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    images = np.stack(images)
    print(f"--data {folder}: {len(labels)} images of {', '.join(classes)}; {len(test)} held out for testing.")
    return images[pool], labels[pool], images[test], labels[test]
'''

_ARGUMENTS = '''
def parse_arguments(argv):
    """The command line: every flag defaults to the run's own setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS,
                        help=f"epochs to train (the run's: {EPOCHS}; a learning-rate schedule "
                             "keeps the run's plan)")
    parser.add_argument("--data", type=Path, default=None, metavar="FOLDER",
                        help="train on the images of FOLDER, one sub-folder per class "
                             f"({NUM_CLASSES} classes, as the model has outputs), instead of "
                             "the run's data set")
    arguments = parser.parse_args(list(argv))
    if arguments.epochs < 1:
        parser.error(f"--epochs must be 1 or more. Received: {arguments.epochs}.")
    return arguments
'''

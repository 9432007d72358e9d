"""The registry of data sets the lab offers, with what is known about each before loading.

`DATASETS` maps a name to its `DatasetInfo`: the built-in data sets first, then the image
folders imported into the run store's home, under `folder:<name>` keys. It is a live,
read-only mapping rather than a dict, so a data set imported on the Data page (or by the
CLI, in another process) is at once a valid `ExperimentConfig.dataset`, an option of the
Train form and loadable by `load_dataset`, and one deleted disappears from all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from cnnlab.data.dataset import DatasetInfo


def _info(**fields) -> tuple[str, DatasetInfo]:
    return fields["name"], DatasetInfo(**fields)


# In display order: the embedded sets first, since they work everywhere and load at once.
BUILTIN_DATASETS: dict[str, DatasetInfo] = dict(
    [
        _info(
            name="digits",
            title="Digits (8×8)",
            description="1,797 real handwritten digits from scikit-learn, 8×8 pixels, "
            "upscaled; embedded, so it needs no download and trains in seconds.",
            native_size=8,
            default_size=32,
            channels=1,
            num_classes=10,
            # scikit-learn's digits have no test split: a fixed stratified 20% (359) is
            # held out once, and the other 1,438 images form the pool.
            pool_size=1438,
            test_size=359,
            needs_download=False,
        ),
        _info(
            name="shapes",
            title="Shapes",
            description="Eight kinds of geometric shapes drawn by the lab itself in random "
            "positions, sizes, rotations and colours on noisy backgrounds.",
            native_size=32,
            default_size=32,
            channels=3,
            num_classes=8,
            pool_size=4000,
            test_size=1000,
            needs_download=False,
        ),
        _info(
            name="mnist",
            title="MNIST",
            description="70,000 handwritten digits, 28×28 grayscale.",
            native_size=28,
            default_size=28,
            channels=1,
            num_classes=10,
            pool_size=60000,
            test_size=10000,
            needs_download=True,
        ),
        _info(
            name="fashion_mnist",
            title="Fashion-MNIST",
            description="70,000 Zalando article images in ten classes, 28×28 grayscale; "
            "a harder drop-in replacement for MNIST.",
            native_size=28,
            default_size=28,
            channels=1,
            num_classes=10,
            pool_size=60000,
            test_size=10000,
            needs_download=True,
        ),
        _info(
            name="cifar10",
            title="CIFAR-10",
            description="60,000 small colour photos in ten classes (airplane … truck), 32×32 RGB.",
            native_size=32,
            default_size=32,
            channels=3,
            num_classes=10,
            pool_size=50000,
            test_size=10000,
            needs_download=True,
        ),
        _info(
            name="cifar100",
            title="CIFAR-100",
            description="60,000 small colour photos in 100 fine-grained classes, 32×32 RGB.",
            native_size=32,
            default_size=32,
            channels=3,
            num_classes=100,
            pool_size=50000,
            test_size=10000,
            needs_download=True,
        ),
    ]
)


class _Registry(Mapping):
    """The built-in data sets, then the stored image folders of the current run-store home.

    Why the home is looked up on every access: `$CNNLAB_HOME` decides where runs and data
    sets live, and tests (and the CLI) change it per process.
    """

    def _stored(self) -> dict[str, DatasetInfo]:
        from cnnlab.data.image_store import list_stored

        return {manifest.key: manifest.info() for manifest in list_stored()}

    def __getitem__(self, name) -> DatasetInfo:
        if isinstance(name, str) and name in BUILTIN_DATASETS:
            return BUILTIN_DATASETS[name]
        from cnnlab.data.image_store import find_stored, name_of

        stored = name_of(name)
        manifest = find_stored(stored) if stored is not None else None
        if manifest is None:
            raise KeyError(name)
        return manifest.info()

    def __iter__(self) -> Iterator[str]:
        return iter([*BUILTIN_DATASETS, *self._stored()])

    def __len__(self) -> int:
        return len(BUILTIN_DATASETS) + len(self._stored())

    def __repr__(self) -> str:
        return f"DATASETS({list(self)})"


DATASETS: Mapping[str, DatasetInfo] = _Registry()


def dataset_names() -> list[str]:
    """The registered data set names, in display order."""
    return list(DATASETS)


def get_info(name: str) -> DatasetInfo:
    """The registry entry for `name`, or a ValueError listing the names that exist."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown `dataset`. Expected one of {dataset_names()}. Received: {name!r}."
        ) from None

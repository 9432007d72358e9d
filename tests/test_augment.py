"""The augmentation pipeline against references: numpy flips and pads, blend formulas, its own code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnnlab.augment import layers, pipeline, preview
from cnnlab.augment.code import to_keras_code
from cnnlab.augment.pipeline import (
    build_augmenter,
    build_mixer,
    make_eval_dataset,
    make_training_dataset,
)
from cnnlab.augment.preview import preview_grid, preview_mix
from cnnlab.config import FILL_MODES, AugmentationConfig

C = AugmentationConfig
EVERYTHING = C(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1, shear_range=15,
               zoom_range=0.2, horizontal_flip=True, vertical_flip=True, brightness_range=0.2,
               contrast_range=0.3, channel_shift_range=0.1, crop_padding=3, fill_mode="reflect",
               mixup_alpha=0.4, cutmix_alpha=1.0)

# Each per-image transform alone, with the layer that must carry it (and no other).
TRANSFORMS = [
    (C(rotation_range=30), "RandomAffine"),
    (C(width_shift_range=0.2), "RandomAffine"),
    (C(height_shift_range=0.2), "RandomAffine"),
    (C(shear_range=20), "RandomAffine"),
    (C(zoom_range=0.3), "RandomAffine"),
    (C(horizontal_flip=True), "RandomAffine"),
    (C(vertical_flip=True), "RandomAffine"),
    (C(brightness_range=0.3), "RandomBrightness"),
    (C(contrast_range=0.5), "RandomContrast"),
    (C(channel_shift_range=0.2), "ChannelShift"),
    (C(crop_padding=4), "RandomPadCrop"),
]
IDS = [layer + ":" + next(f.name for f in dataclasses.fields(c) if getattr(c, f.name) != getattr(C(), f.name))
       for c, layer in TRANSFORMS]


def texture(shape=(15, 15, 3), seed=0):
    """An image with no symmetry, so every geometric transform shows."""
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape).astype(np.float32)


@pytest.mark.parametrize("config, layer", TRANSFORMS, ids=IDS)
def test_each_transform_changes_training_images_and_only_its_layer_is_built(config, layer):
    image = texture()
    augmenter = build_augmenter(config, image.shape, seed=1)
    assert [type(l).__name__ for l in augmenter.layers] == [layer]
    batch = np.repeat(image[None], 8, axis=0)
    out = np.asarray(augmenter(batch, training=True))
    assert out.shape == batch.shape and out.dtype == np.float32
    changed = np.abs(out - batch).reshape(8, -1).max(axis=1) > 1e-3
    assert changed.any(), f"{layer} left all 8 images unchanged"
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_nothing_switched_on_builds_no_layers_and_changes_nothing(fill_mode):
    config = C(fill_mode=fill_mode)
    assert build_augmenter(config, (8, 8, 3), seed=0) is None
    assert build_mixer(config, seed=0) is None
    image = texture((8, 8, 3))
    assert np.array_equal(preview_grid(image, config, count=4), np.repeat(image[None], 4, axis=0))


def test_layers_do_nothing_at_inference():
    x = np.random.default_rng(2).random((6, 12, 12, 3), dtype=np.float32)
    augmenter = build_augmenter(EVERYTHING, x.shape[1:], seed=3)
    assert np.array_equal(np.asarray(augmenter(x, training=False)), x)
    mixer = build_mixer(EVERYTHING, seed=3)
    labels = np.eye(6, dtype=np.float32)
    out = mixer({"images": x, "labels": labels}, training=False)
    assert np.array_equal(np.asarray(out["images"]), x) and np.array_equal(np.asarray(out["labels"]), labels)


@pytest.mark.parametrize("mode, choices", [
    ("horizontal_flip", [lambda x: x, lambda x: np.flip(x, axis=1)]),
    ("vertical_flip", [lambda x: x, lambda x: np.flip(x, axis=0)]),
    ("both", [lambda x: x, lambda x: np.flip(x, 1), lambda x: np.flip(x, 0), lambda x: np.flip(x, (0, 1))]),
])
def test_flips_match_numpy(mode, choices):
    config = C(horizontal_flip=True, vertical_flip=True) if mode == "both" else C(**{mode: True})
    image = texture((7, 9, 3))
    grid = preview_grid(image, config, count=24, seed=5)
    seen = set()
    for version in grid:
        matches = [k for k, flip in enumerate(choices) if np.allclose(version, flip(image), atol=1e-6)]
        assert matches, "a flip produced something that is no numpy flip of the image"
        seen.add(matches[0])
    assert seen == set(range(len(choices))), "every flip should occur in 24 draws"


# Keras' fill modes in numpy's words: reflect is (d c b a | a b c d), numpy's "symmetric".
NUMPY_PAD = {"constant": "constant", "nearest": "edge", "reflect": "symmetric", "wrap": "wrap"}


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_pad_and_crop_is_a_window_of_the_numpy_padded_image(fill_mode):
    padding, image = 3, texture((8, 10, 3), seed=1)
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)), mode=NUMPY_PAD[fill_mode])
    windows = {(dy, dx): padded[dy:dy + 8, dx:dx + 10] for dy in range(7) for dx in range(7)}
    grid = preview_grid(image, C(crop_padding=padding, fill_mode=fill_mode), count=12, seed=2)
    offsets = []
    for version in grid:
        found = [offset for offset, window in windows.items() if np.allclose(version, window, atol=1e-6)]
        assert found, f"not a crop of the {fill_mode}-padded image"
        offsets.append(found[0])
    assert len(set(offsets)) > 1


def test_shear_is_about_the_centre_row():
    image = texture((9, 9, 3), seed=4)  # odd height: row 4 is the centre and must not move
    grid = preview_grid(image, C(shear_range=30), count=6, seed=1)
    assert np.allclose(grid[:, 4], image[4], atol=1e-5)
    assert (np.abs(grid[:, 0] - image[0]).max(axis=(1, 2)) > 1e-3).any()


def test_all_geometry_is_one_layer_that_resamples_once():
    augmenter = build_augmenter(EVERYTHING, (16, 16, 3), seed=0)
    names = [type(layer).__name__ for layer in augmenter.layers]
    assert names == ["RandomAffine", "RandomPadCrop", "RandomBrightness", "RandomContrast", "ChannelShift"]
    assert {key: value for key, value in augmenter.layers[0].get_config().items()
            if key in pipeline.GEOMETRY or key == "fill_mode"} == {
        "rotation_range": 20.0, "width_shift_range": 0.1, "height_shift_range": 0.1, "shear_range": 15.0,
        "zoom_range": 0.2, "horizontal_flip": True, "vertical_flip": True, "fill_mode": "reflect"}


def ramp(size=32):
    """Three channels, each a different linear function of (x, y) within [0.1, 0.9].

    Bilinear interpolation reproduces a linear function exactly, so on it resampling once
    and resampling five times agree wherever no step reached past the border.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    return np.stack([0.1 + 0.5 * x + 0.3 * y, 0.9 - 0.6 * x + 0.2 * y, 0.5 + 0.4 * y - 0.3 * x], axis=-1)


def separate_layers(image, *, flip_x, flip_y, degrees, shear_degrees, shift_x, shift_y, zoom, monkeypatch):
    """`image` through the five layers the pipeline used before RandomAffine, each pinned to one value."""
    size = image.shape[0]
    x = image[None]
    x = x[:, :, ::-1] if flip_x < 0 else x  # RandomFlip("horizontal") on heads
    x = x[:, ::-1] if flip_y < 0 else x  # RandomFlip("vertical") on heads
    fill = {"fill_mode": "nearest"}
    x = keras.layers.RandomRotation(factor=(degrees / 360, degrees / 360), **fill)(x, training=True)
    with monkeypatch.context() as patch:  # RandomAngleShear draws its angle with keras.random.uniform
        patch.setattr(keras.random, "uniform", lambda shape, *a, **k: np.full(shape, np.radians(shear_degrees),
                                                                               np.float32))
        x = layers.RandomAngleShear(max_degrees=45, **fill)(x, training=True)
    x = keras.layers.RandomTranslation(height_factor=(shift_y / size,) * 2, width_factor=(shift_x / size,) * 2,
                                       **fill)(x, training=True)
    x = keras.layers.RandomZoom(height_factor=(zoom - 1,) * 2, **fill)(x, training=True)
    return np.asarray(x[0])


@pytest.mark.parametrize("flip_x, flip_y, degrees, shear_degrees, shift_x, shift_y, zoom", [
    (1, 1, 12.0, 0.0, 0.0, 0.0, 1.0),
    (1, 1, 0.0, 9.0, 0.0, 0.0, 1.0),
    (1, 1, 0.0, 0.0, 2.0, -3.0, 0.875),
    (-1, 1, 12.0, -9.0, 2.0, -3.0, 0.875),
    (1, -1, -20.0, 15.0, -4.0, 1.0, 1.125),
    (-1, -1, 7.0, 5.0, 3.0, 3.0, 0.75),
])
def test_the_fused_transform_is_the_separate_layers_in_a_row(flip_x, flip_y, degrees, shear_degrees,
                                                               shift_x, shift_y, zoom, monkeypatch):
    image = ramp(32)
    expected = separate_layers(image, flip_x=flip_x, flip_y=flip_y, degrees=degrees, shear_degrees=shear_degrees,
                               shift_x=shift_x, shift_y=shift_y, zoom=zoom, monkeypatch=monkeypatch)
    layer = layers.RandomAffine(rotation_range=30, shear_range=30, width_shift_range=0.2, height_shift_range=0.2,
                                 zoom_range=0.3, horizontal_flip=True, vertical_flip=True, fill_mode="nearest")
    values = {"flip_x": flip_x, "flip_y": flip_y, "angle": np.radians(degrees), "shear": np.radians(shear_degrees),
              "shift_x": shift_x, "shift_y": shift_y, "zoom": zoom}
    fused = np.asarray(layer.transform_images(image[None], {k: np.full((1,), v, np.float32)
                                                            for k, v in values.items()}))[0]
    # The centre, which no step of the five took past the border (there each layer filled
    # from its predecessor's fill, while the fused one fills from the image itself).
    centre = slice(10, 22)
    assert np.allclose(fused[centre, centre], expected[centre, centre], atol=2e-5)
    assert not np.allclose(fused[centre, centre], image[centre, centre], atol=1e-3)


def known_moves(**values):
    """One bright pixel in a dark 9x9 image, transformed by RandomAffine with fixed values."""
    neutral = {"flip_x": 1.0, "flip_y": 1.0, "angle": 0.0, "shear": 0.0, "shift_x": 0.0, "shift_y": 0.0, "zoom": 1.0}
    layer = layers.RandomAffine(rotation_range=90, width_shift_range=0.5, zoom_range=0.5, fill_mode="constant")
    transformation = {k: np.full((1,), v, np.float32) for k, v in {**neutral, **values}.items()}
    return lambda image: np.asarray(layer.transform_images(image[None], transformation))[0]


def test_known_pixels_land_where_each_transform_says():
    image = np.zeros((9, 9, 1), np.float32)
    image[2, 6] = 1.0  # row 2, column 6; the centre is (4, 4)

    def spot(out):
        assert np.isclose(out.max(), 1.0, atol=1e-5) and np.isclose(out.sum(), 1.0, atol=1e-4)
        return tuple(int(v) for v in np.unravel_index(np.argmax(out[..., 0]), (9, 9)))

    assert spot(known_moves(shift_x=2.0, shift_y=-1.0)(image)) == (1, 8)  # right 2, up 1
    assert spot(known_moves(flip_x=-1.0)(image)) == (2, 2)
    assert spot(known_moves(flip_y=-1.0)(image)) == (6, 6)
    # +90 degrees turns the picture counter-clockwise, as keras.layers.RandomRotation does.
    texture_image = texture((9, 9, 3))
    assert np.allclose(known_moves(angle=np.pi / 2)(texture_image), np.rot90(texture_image), atol=1e-5)
    # Zoom 0.5 about the centre doubles every distance from it: (2, 6) is 2 up, 2 right.
    zoomed = known_moves(zoom=0.5)(image)
    assert np.isclose(zoomed[0, 8, 0], 1.0, atol=1e-5) and np.isclose(zoomed[1, 7, 0], 0.25, atol=1e-5)


def test_draws_stay_in_their_ranges_and_switched_off_transforms_stay_neutral():
    images = np.zeros((4000, 8, 10, 1), np.float32)
    layer = layers.RandomAffine(rotation_range=30, height_shift_range=0.25, zoom_range=0.2,
                                 horizontal_flip=True, seed=0)
    drawn = {k: np.asarray(v) for k, v in layer.get_random_transformation(images).items()}
    assert np.abs(drawn["angle"]).max() <= np.radians(30) + 1e-6 and np.abs(drawn["angle"]).max() > np.radians(29)
    assert np.abs(drawn["shift_y"]).max() <= 0.25 * 8 + 1e-6 and np.abs(drawn["shift_y"]).max() > 1.9
    assert 0.8 - 1e-6 <= drawn["zoom"].min() < 0.81 and 1.19 < drawn["zoom"].max() <= 1.2 + 1e-6
    assert set(np.unique(drawn["flip_x"])) == {-1.0, 1.0} and 0.45 < (drawn["flip_x"] < 0).mean() < 0.55
    assert (drawn["flip_y"] == 1).all() and (drawn["shear"] == 0).all() and (drawn["shift_x"] == 0).all()


def test_channel_shift_adds_one_offset_per_channel_within_the_range():
    image = texture((6, 6, 3))  # values in [0.2, 0.8]: a shift of <= 0.15 never clips
    grid = preview_grid(image, C(channel_shift_range=0.15), count=8, seed=0)
    shift = grid - image
    assert np.allclose(shift, shift[:, :1, :1, :], atol=1e-6)
    assert np.abs(shift).max() <= 0.15 + 1e-6
    assert not np.allclose(shift[:, 0, 0, 0], shift[:, 0, 0, 1])


def test_the_same_seed_draws_the_same_grid_and_another_seed_another():
    image = texture((16, 16, 3))
    first = preview_grid(image, EVERYTHING, count=9, seed=11)
    assert first.shape == (9, 16, 16, 3) and first.dtype == np.float32
    assert np.array_equal(first, preview_grid(image, EVERYTHING, count=9, seed=11))
    assert not np.allclose(first, preview_grid(image, EVERYTHING, count=9, seed=12))
    assert not all(np.allclose(first[0], version) for version in first[1:])


@pytest.mark.parametrize("shape, count", [((28, 28, 1), 4), ((8, 8, 3), 9), ((32, 24, 3), 16)])
def test_preview_grid_shape(shape, count):
    grid = preview_grid(texture(shape), C(rotation_range=10, brightness_range=0.1), count=count, seed=0)
    assert grid.shape == (count, *shape)


def _batches(dataset):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(labels)


def test_eval_dataset_is_in_order_one_hot_and_never_augmented():
    x, y = np.random.default_rng(0).random((10, 8, 8, 3), dtype=np.float32), np.arange(10) % 4
    images, labels = _batches(make_eval_dataset(x, y, num_classes=4, batch_size=4))
    assert np.array_equal(images, x)
    assert labels.dtype == np.float32 and np.array_equal(labels, np.eye(4)[y])


def test_training_dataset_augments_mixes_and_reshuffles_from_the_seed():
    x = np.random.default_rng(0).random((12, 8, 8, 3), dtype=np.float32)
    y = np.arange(12) % 3
    plain = make_training_dataset(x, y, num_classes=3, batch_size=5, augmentation=C(), seed=0,
                                  shuffle=False)
    images, labels = _batches(plain)
    assert np.array_equal(images, x) and np.array_equal(labels, np.eye(3)[y])

    augmented = make_training_dataset(x, y, num_classes=3, batch_size=5, seed=0, shuffle=False,
                                      augmentation=C(rotation_range=30, horizontal_flip=True))
    images, labels = _batches(augmented)
    assert not np.allclose(images, x) and np.array_equal(labels, np.eye(3)[y])

    mixed = make_training_dataset(x, y, num_classes=3, batch_size=6, seed=0, augmentation=C(mixup_alpha=1.0))
    _, labels = _batches(mixed)
    assert np.allclose(labels.sum(axis=1), 1.0) and (labels >= 0).all()
    assert ((labels > 0) & (labels < 1)).any(), "MixUp should give soft labels"

    shuffled = make_training_dataset(x, y, num_classes=3, batch_size=12, augmentation=C(), seed=7)
    epoch1, epoch2 = _batches(shuffled)[0], _batches(shuffled)[0]
    again = _batches(make_training_dataset(x, y, num_classes=3, batch_size=12, augmentation=C(), seed=7))[0]
    assert np.array_equal(np.sort(epoch1.ravel()), np.sort(x.ravel()))
    assert not np.array_equal(epoch1, epoch2), "each epoch is reshuffled"
    assert np.array_equal(epoch1, again), "the seed fixes the order"


def test_the_same_seed_repeats_an_augmented_epoch_exactly():
    # 64 small batches: a pipeline whose parallel calls raced for the layers' seed state
    # would hand the draws out in a different order on the second run.
    x, y = np.random.default_rng(0).random((512, 12, 12, 3), dtype=np.float32), np.arange(512) % 4

    def epoch(seed):
        return _batches(make_training_dataset(x, y, num_classes=4, batch_size=8, seed=seed,
                                              augmentation=C(rotation_range=30, mixup_alpha=0.4)))

    first, again, other = epoch(3), epoch(3), epoch(4)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.allclose(first[0], other[0])


def test_mixup_labels_are_convex_and_images_the_matching_blends():
    n = 8
    x = np.random.default_rng(1).random((n, 6, 6, 3), dtype=np.float32)
    images, labels = preview_mix(x, np.arange(n), C(mixup_alpha=0.8), num_classes=n, seed=3)
    assert np.allclose(labels.sum(axis=1), 1.0, atol=1e-6) and (labels >= -1e-7).all()
    blends = 0
    for i in range(n):
        others = [j for j in np.flatnonzero(labels[i] > 1e-6) if j != i]
        assert len(others) <= 1
        if others:
            j, w = others[0], labels[i, i]
            assert np.allclose(images[i], w * x[i] + (1 - w) * x[j], atol=1e-5)
            blends += 1
        else:
            assert np.allclose(images[i], x[i])
    assert blends >= n // 2


def test_cutmix_label_weight_is_the_pasted_area_and_the_patch_is_a_box():
    n, h, w = 8, 10, 12
    values = (np.arange(n, dtype=np.float32) + 1) / 10  # one flat value per image tells the source
    x = np.broadcast_to(values[:, None, None, None], (n, h, w, 3)).copy()
    images, labels = preview_mix(x, np.arange(n), C(cutmix_alpha=1.0), num_classes=n, seed=4)
    assert np.allclose(labels.sum(axis=1), 1.0, atol=1e-6)
    pasted_any = False
    for i in range(n):
        source = np.rint(images[i, :, :, 0] * 10).astype(int) - 1
        assert set(np.unique(source)) <= {i} | set(np.flatnonzero(labels[i] > 0))
        for j in np.flatnonzero(labels[i] > 0):
            if j == i:
                continue
            mask = source == j
            assert labels[i, j] == pytest.approx(mask.mean(), abs=1e-6)
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            assert mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all(), "the patch is a rectangle"
            pasted_any = True
    assert pasted_any


def test_mixup_and_cutmix_together_keep_labels_convex():
    x = np.random.default_rng(2).random((16, 8, 8, 3), dtype=np.float32)
    images, labels = preview_mix(x, np.arange(16) % 5, EVERYTHING, num_classes=5, seed=0)
    assert images.shape == x.shape and labels.shape == (16, 5)
    assert np.allclose(labels.sum(axis=1), 1.0, atol=1e-6) and (labels >= -1e-7).all()
    assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize("seed", [None, 21])
def test_keras_code_builds_the_same_pipeline(seed, keras_registry):
    shape = (12, 12, 3)
    namespace: dict = {}
    exec(to_keras_code(EVERYTHING, shape, seed=seed), namespace)  # noqa: S102 - our own code
    built, reference = namespace["augmentation"], build_augmenter(EVERYTHING, shape, seed=seed or 0)

    def configs(model):
        return [(type(l).__name__, {k: v for k, v in l.get_config().items()
                                    if k != "name" and (seed is not None or k != "seed")})
                for l in model.layers]

    assert configs(built) == configs(reference)
    mixer = build_mixer(EVERYTHING, seed=(seed or 0) + 1)
    assert {k: v for k, v in namespace["mix"].get_config().items() if k != "name" and (seed or k != "seed")} == \
        {k: v for k, v in mixer.get_config().items() if k != "name" and (seed or k != "seed")}
    if seed is not None:  # same layers, same seeds: the same draw
        x = np.repeat(texture(shape)[None], 4, axis=0)
        assert np.allclose(np.asarray(built(x, training=True)), np.asarray(reference(x, training=True)))


# Runs the Augment page's "Keras code" where cnnlab cannot be imported (the editable install
# makes it importable from anywhere, so the name is blocked outright), then transforms images.
KERAS_ALONE = """
import sys
sys.modules["cnnlab"] = None
try:
    import cnnlab  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("cnnlab is importable")
import json
import numpy as np
images = np.load("images.npy")
results = []
for index, path in enumerate(sys.argv[1:]):
    namespace = {}
    exec(open(path).read(), namespace)
    augmented = np.asarray(namespace["augmentation"](images, training=True))
    same = np.asarray(namespace["augmentation"](images, training=False))
    result = {"shape": list(augmented.shape), "inference_unchanged": bool(np.array_equal(same, images)),
              "layers": [type(layer).__name__ for layer in namespace["augmentation"].layers]}
    if "mix" in namespace:
        labels = np.eye(5, dtype="float32")[np.arange(len(images)) % 5]
        mixed = namespace["mix"]({"images": augmented, "labels": labels}, training=True)
        result["label_sums"] = np.asarray(mixed["labels"]).sum(axis=1).tolist()
    np.save(f"augmented{index}.npy", augmented)
    results.append(result)
print(json.dumps(results))
"""
KERAS_CODE_CASES = {"everything": EVERYTHING, "keras layers only": C(brightness_range=0.3, contrast_range=0.3)}


def test_the_keras_code_runs_with_keras_alone_and_transforms_images_as_the_lab_does(tmp_path):
    import json
    import os
    import subprocess
    import sys

    paths = []
    for index, augmentation in enumerate(KERAS_CODE_CASES.values()):
        code = to_keras_code(augmentation, (15, 15, 3), seed=5)
        assert "cnnlab" not in code.replace("cnnlab/augment/layers.py", "").replace('package="cnnlab"', "")
        paths.append(f"augmentation{index}.py")
        (tmp_path / paths[-1]).write_text(code)
    images = np.stack([texture(seed=seed) for seed in range(4)])
    np.save(tmp_path / "images.npy", images)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run([sys.executable, "-I", "-c", KERAS_ALONE, *paths], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for index, (augmentation, result) in enumerate(zip(KERAS_CODE_CASES.values(), results)):
        assert result["shape"] == [4, 15, 15, 3] and result["inference_unchanged"]
        # The very pipeline the lab builds, with the same seeds: the same pixels.
        reference = build_augmenter(augmentation, (15, 15, 3), seed=5)
        assert result["layers"] == [type(layer).__name__ for layer in reference.layers]
        augmented = np.load(tmp_path / f"augmented{index}.npy")
        assert np.abs(augmented - images).max() > 0.01
        np.testing.assert_allclose(augmented, np.asarray(reference(images, training=True)), atol=1e-5)
        if augmentation.mixup_alpha:
            np.testing.assert_allclose(result["label_sums"], 1.0, atol=1e-5)


@pytest.mark.parametrize("height, width, side", [(32, 32, 128), (60, 90, 128), (427, 640, 256),
                                                 (200, 150, 150), (4000, 3000, 256)])
def test_a_photo_is_previewed_at_its_own_size_within_128_to_256(height, width, side):
    assert preview.preview_side(height, width) == side


def test_a_preview_larger_than_training_scales_only_the_crops_padding():
    """Padding 4 of a 32 px image is 32 px of a 256 px preview; the other settings are
    angles, fractions or values, the same at any size."""
    larger = build_augmenter(EVERYTHING, (96, 96, 3), seed=0, training_side=32)
    training = build_augmenter(EVERYTHING, (32, 32, 3), seed=0)
    configs = {type(layer).__name__: layer.get_config() for layer in larger.layers}
    for layer in training.layers:
        expected = {k: v for k, v in layer.get_config().items() if k not in ("name", "padding")}
        assert {k: v for k, v in configs[type(layer).__name__].items()
                if k not in ("name", "padding")} == expected
    assert configs["RandomPadCrop"]["padding"] == 3 * 3
    grid = preview_grid(texture((96, 96, 3)), C(crop_padding=4, fill_mode="constant"), count=6, seed=1,
                        training_side=32)
    # A whole-pixel shift of up to 12 px: some versions show a black band wider than 4 px.
    dark_columns = [(np.abs(version).sum(axis=(0, 2)) == 0).sum() for version in grid]
    assert max(dark_columns) > 4 and max(dark_columns) <= 12


def test_json_round_trip_and_bad_json():
    assert preview.augmentation_from_json(preview.augmentation_to_json(EVERYTHING)) == EVERYTHING
    with pytest.raises(ValueError, match="Could not parse the augmentation config"):
        preview.augmentation_from_json("{rotation_range: 10")
    with pytest.raises(ValueError, match="Unknown field 'rotation'"):
        preview.augmentation_from_json('{"rotation": 10}')
    with pytest.raises(ValueError, match="rotation_range"):
        preview.augmentation_from_json('{"rotation_range": 500}')


def test_pipeline_cost():
    assert preview.pipeline_cost_ms(C(), (8, 8, 3)) == 0.0
    assert preview.pipeline_cost_ms(C(rotation_range=10, mixup_alpha=0.2), (8, 8, 3), repeats=2) > 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: build_augmenter(EVERYTHING, (32, 32), seed=0), "Invalid `input_shape`"),
    (lambda: build_augmenter({"rotation_range": 10}, (8, 8, 3), seed=0), "Invalid `augmentation`"),
    (lambda: make_training_dataset(np.zeros((4, 8, 8, 3), np.float32), np.array([0, 1, 2, 5]),
                                   num_classes=3, batch_size=2, augmentation=C(), seed=0),
     "Labels out of range"),
    (lambda: make_eval_dataset(np.zeros((4, 8, 8, 3), np.float32), np.zeros(3, int), num_classes=3,
                               batch_size=2), "Invalid training arrays"),
])
def test_bad_arguments_raise_keras_style_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("`", ".")):
        call()


def test_mix_caption():
    assert preview.mix_caption(np.array([0.38, 0.0, 0.62]), ["dog", "bird", "cat"]) == "0.62 cat + 0.38 dog"

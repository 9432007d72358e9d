"""The Inspect page's engine, checked against Keras itself and against closed forms.

Feature maps against a Keras sub-model's `predict`; top-5 against `model.predict`;
saliency against the known gradient of a linear model; and every way a model file can be
not the run's own (missing, a run not completed, a file put there by hand) refused.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.inspect import (
    conv_layers,
    feature_maps,
    filters,
    grad_cam,
    inspectable_layers,
    load_inspected_run,
    predict_top_k,
    saliency,
    top_losses,
)
from cnnlab.inspect.cache import ViewCache
from cnnlab.models import build_model
from cnnlab.store import RunStore
from cnnlab.training import JobManager

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1, batch_size=32)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store with one real completed run of the tiny experiment."""
    home = tmp_path_factory.mktemp("lab")
    store = RunStore(home)
    manager = JobManager(store, max_concurrent=1)
    run_id = manager.submit(TINY)
    record = manager.wait(run_id, timeout=300)
    manager.shutdown(timeout=60)
    assert record.status == "completed", record.error
    yield store, run_id
    store.close()


@pytest.fixture(scope="module")
def convnet():
    keras.utils.set_random_seed(1)
    return build_model("small_convnet", (16, 16, 3), 7)


def _images(count, side=16, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (count, side, side, channels)).astype("float32")


def test_feature_maps_equal_a_keras_sub_models_outputs(convnet):
    image = _images(1)[0]
    names = inspectable_layers(convnet)
    assert names[0] == "block1_conv1" and "block4_pool" in names
    maps = feature_maps(convnet, image, names)
    for name in names:
        reference = keras.Model(convnet.inputs[0], convnet.get_layer(name).output)
        expected = np.asarray(reference(image[None], training=False))[0]
        assert maps[name].shape == expected.shape
        np.testing.assert_allclose(maps[name], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("classes", [3, 7])
def test_top_k_equals_model_predict(classes):
    keras.utils.set_random_seed(2)
    model = build_model("small_convnet", (16, 16, 3), classes)
    for image in _images(3, seed=classes):
        top = predict_top_k(model, image)
        assert len(top) == min(5, classes)
        probabilities = model.predict(image[None], verbose=0)[0]
        assert [index for index, _ in top] == list(np.argsort(-probabilities)[:min(5, classes)])
        np.testing.assert_allclose([p for _, p in top],
                                   np.sort(probabilities)[::-1][:min(5, classes)], rtol=1e-5)


@pytest.mark.parametrize("softmax", [False, True])
def test_saliency_is_the_linear_models_weights(softmax):
    """Score_c = w_c . x + b_c, so d score_c / dx = w_c exactly, sign included; with a
    softmax on top, saliency still reads the logit (the score before the softmax)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4, 5, 2))
    dense = keras.layers.Dense(3, activation="softmax" if softmax else None, name="predictions")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.random.default_rng(4).normal(size=(40, 3)).astype("float32")
    dense.set_weights([kernel, np.zeros(3, "float32")])
    image = np.random.default_rng(5).uniform(0, 1, (4, 5, 2)).astype("float32")
    for class_index in range(3):
        gradient, explained = saliency(model, image, class_index=class_index)
        assert explained == class_index and gradient.shape == image.shape
        np.testing.assert_allclose(gradient, kernel[:, class_index].reshape(4, 5, 2), rtol=1e-5, atol=1e-6)
    assert saliency(model, image)[1] == int(np.argmax(model.predict(image[None], verbose=0)))


def test_grad_cam_filters_and_top_losses_have_the_right_shapes(convnet):
    image = _images(1)[0]
    cam, predicted = grad_cam(convnet, image)
    assert cam.shape == (16, 16) and 0 <= cam.min() and cam.max() <= 1
    assert predicted == predict_top_k(convnet, image, 1)[0][0]
    early, chosen = grad_cam(convnet, image, layer_name="block2_act1", class_index=4)
    assert early.shape == (16, 16) and chosen == 4
    with pytest.raises(ValueError, match="Expected an index from 0 to 6"):
        grad_cam(convnet, image, class_index=7)
    with pytest.raises(ValueError, match="Unknown layer"):
        feature_maps(convnet, image, ["nope"])
    first = filters(convnet, conv_layers(convnet)[0])
    assert first.shape == (32, 3, 3, 3) and first.min() >= 0 and first.max() <= 1
    images, labels = _images(12), np.arange(12) % 7
    worst = top_losses(convnet, images, labels, k=4)
    probabilities = convnet.predict(images, verbose=0)
    losses = -np.log(probabilities[np.arange(12), labels])
    assert [row["index"] for row in worst] == list(np.argsort(-losses)[:4])
    np.testing.assert_allclose([row["loss"] for row in worst], np.sort(losses)[::-1][:4], rtol=1e-4)


def test_view_cache_computes_once_per_run_image_and_layer():
    cache, calls = ViewCache(max_items=2), []
    image = _images(1)[0]

    def compute():
        calls.append(1)
        return len(calls)

    assert cache.get("run", image, "maps", compute, layer="a") == 1
    assert cache.get("run", image.copy(), "maps", compute, layer="a") == 1  # same pixels
    assert cache.get("run", image, "maps", compute, layer="b") == 2
    assert cache.get("other", image, "maps", compute, layer="a") == 3
    assert len(cache) == 2 and cache.hits == 1


def test_a_completed_runs_own_model_loads_with_its_class_names(lab):
    store, run_id = lab
    inspected = load_inspected_run(store, run_id)
    assert inspected.class_names == tuple(str(digit) for digit in range(10))
    assert inspected.data.x_val.shape[1:] == (16, 16, 1)
    top = predict_top_k(inspected.model, inspected.data.x_val[0])
    assert len(top) == 5


def test_models_that_are_not_the_runs_own_are_refused(lab, tmp_path):
    store, run_id = lab
    path = store.run_dir(run_id) / "model.keras"
    original = path.read_bytes()
    with pytest.raises(ValueError, match="Unknown run"):
        load_inspected_run(store, "0" * 12 if len(run_id) == 12 else run_id[:-1] + "x")
    try:
        # Planted: a loadable model of the right shapes, put in the run's folder by hand.
        planted = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(),
                                    keras.layers.Dense(10, activation="softmax")])
        planted.save(tmp_path / "model.keras")
        path.write_bytes((tmp_path / "model.keras").read_bytes())
        with pytest.raises(ValueError, match="not the one its training saved"):
            load_inspected_run(store, run_id)
        path.unlink()
        with pytest.raises(ValueError, match="has no saved model"):
            load_inspected_run(store, run_id)
    finally:
        path.write_bytes(original)
    load_inspected_run(store, run_id)  # its own file again: loads

    # A run that has not completed, and one completed without a recorded digest.
    queued = store.create_run(TINY.to_dict())
    with pytest.raises(ValueError, match="cannot be inspected: it is queued"):
        load_inspected_run(store, queued)
    old = store.create_run(TINY.to_dict())
    store.mark_running(old, device="CPU")
    store.finish_run(old, "completed", final_metrics={})
    (store.run_dir(old) / "model.keras").write_bytes(original)
    with pytest.raises(ValueError, match="recorded no digest"):
        load_inspected_run(store, old)


def test_stored_histograms_count_what_numpy_counts_on_the_same_weights(lab):
    """The run recorded epoch 0 (its initial weights) and epoch 1; the last is the saved
    model's weights, so numpy's histogram of those must give the stored counts."""
    from cnnlab.training.distributions import BINS, percentiles, read_distributions
    from cnnlab.training.transfer import load_run_model

    store, run_id = lab
    stored = read_distributions(store, run_id)
    assert stored["epochs"] == [0, 1] and stored["bins"] == BINS
    model = load_run_model(store, run_id)
    kernels = [variable for variable in model.weights if variable.name == "kernel"]
    assert {variable.path for variable in kernels} <= set(stored["weights"])
    for variable in kernels:
        values = np.asarray(variable).ravel()
        last = stored["weights"][variable.path][-1]
        assert last["epoch"] == 1 and last["low"] == pytest.approx(values.min())
        counts, _ = np.histogram(values, bins=BINS, range=(values.min(), values.max()))
        assert last["counts"] == counts.tolist()
        first = stored["weights"][variable.path][0]
        assert first["counts"] != last["counts"]  # training moved the weights
        assert sum(stored["gradients"][variable.path][-1]["counts"]) == values.size
        bands = percentiles(last)
        assert bands[0] == pytest.approx(values.min()) and bands[-1] == pytest.approx(values.max())
        assert abs(bands[4] - np.median(values)) < (values.max() - values.min()) / BINS


def test_grad_cam_puts_all_its_mass_where_the_evidence_is():
    """Closed form: the score of class 0 is the mean brightness (a 1x1 conv summing the
    channels, ReLU, global average pooling), so its Grad-CAM is the brightness map itself,
    all of it inside the bright box on a black background; class 1's weight is negative,
    and the ReLU leaves no map. (A trained model on the shapes set: benchmarks/inspect.py.)"""
    from cnnlab.data.shapes import shape_boxes
    from cnnlab.inspect.localization import area_share, mass_inside

    inputs = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(1, 1, activation="relu", name="conv")
    pooled = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    dense = keras.layers.Dense(2, activation="softmax", name="predictions")
    model = keras.Model(inputs, dense(pooled))
    conv.set_weights([np.ones((1, 1, 3, 1), "float32"), np.zeros(1, "float32")])
    dense.set_weights([np.array([[1.0, -1.0]], "float32"), np.zeros(2, "float32")])
    for top, left, bottom, right in shape_boxes(4, 16, 0):
        image = np.zeros((16, 16, 3), "float32")
        image[top:bottom, left:right] = 0.8
        cam, explained = grad_cam(model, image, layer_name="conv", class_index=0)
        assert explained == 0
        assert mass_inside(cam, (top, left, bottom, right)) == pytest.approx(1.0, abs=1e-6)
        assert area_share(cam.shape, (top, left, bottom, right)) < 0.9
        assert grad_cam(model, image, layer_name="conv", class_index=1)[0].max() == 0


def test_shape_boxes_hold_every_shape_pixel_and_leave_the_images_as_they_were():
    from cnnlab.data.shapes import draw_shapes, shape_boxes

    images, labels = draw_shapes(24, 24, 3)
    boxes = shape_boxes(24, 24, 3)
    again, _ = draw_shapes(24, 24, 3)
    np.testing.assert_array_equal(images, again)
    for image, (top, left, bottom, right) in zip(images.astype(float), boxes):
        assert 0 <= top < bottom <= 24 and 0 <= left < right <= 24
        outside = np.ones((24, 24), bool)
        outside[top:bottom, left:right] = False
        background = np.median(image[outside], axis=0)
        # Outside the box: the background and its noise (sd 0.04 x 255) only.
        assert np.abs(image[outside] - background).max() < 0.04 * 255 * 5
        inside = np.linalg.norm(image[~outside] - background, axis=1)
        assert inside.max() > 0.3 * 255  # and the shape is in it


def test_a_histogram_of_diverged_weights_counts_what_is_not_finite():
    """A diverging run's weights turn NaN or infinite: numpy refuses such a range, which
    once failed the run (the learning-rate lesson's 'too large' run) instead of it ending
    diverged. The finite values are binned, the others counted."""
    from cnnlab.training.distributions import BINS, histogram

    values = np.array([[0.0, 1.0, np.nan], [np.inf, -np.inf, 0.5]])
    entry = histogram(values)
    assert entry["nonfinite"] == 3 and sum(entry["counts"]) == 3
    assert (entry["low"], entry["high"]) == (0.0, 1.0)
    empty = histogram(np.full(4, np.nan))
    assert empty["nonfinite"] == 4 and empty["counts"] == [0] * BINS
    assert histogram(np.arange(5.0))["nonfinite"] == 0

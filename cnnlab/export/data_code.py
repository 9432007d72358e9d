"""`train.py`'s data and input pipelines: the run's images, split and batches, without cnnlab.

The loading, the seeded split and the resize are copied from `cnnlab.data` with `inspect`;
the pipelines are written as `cnnlab.augment.pipeline` builds them, the augmentation from
`cnnlab.augment.code.to_keras_code`.
"""

from __future__ import annotations

import textwrap

from cnnlab.export.source import (
    dataset_info,
    function,
    module_source,
    section,
    source_of,
)


def data_section(config, size) -> str:
    """Loading, the seeded split and the resize, copied from cnnlab.data."""
    from cnnlab.data import digits, keras_datasets, loader, resize, shapes, splits
    from cnnlab.data.image_store import name_of
    from cnnlab.export.folders import folder_parts, imported_load_pool

    parts = []
    if config.dataset == "digits":
        parts.append(f"TEST_FRACTION = {digits.TEST_FRACTION!r}\nTEST_SEED = {digits.TEST_SEED!r}")
    parts += [source_of(splits.validation_count), source_of(splits.stratified_sample),
              source_of(splits.split_pool), source_of(resize.resize_images)]
    if config.dataset == "digits":
        parts += [source_of(digits.load_digits_pool), function("load_pool", """
            \"\"\"scikit-learn's digits: pool and test split at 8x8 (cnnlab.data.digits).\"\"\"
            return load_digits_pool()""")]
    elif config.dataset == "shapes":
        info = dataset_info(config.dataset)
        parts += ["# cnnlab's shapes generator, copied from cnnlab/data/shapes.py.",
                  module_source(shapes), function("load_pool", f"""
            \"\"\"The shapes pool and test split, drawn from fixed seeds at IMAGE_SIZE.\"\"\"
            x_pool, y_pool = draw_shapes({info.pool_size}, IMAGE_SIZE, {loader.SHAPES_POOL_SEED})
            x_test, y_test = draw_shapes({info.test_size}, IMAGE_SIZE, {loader.SHAPES_TEST_SEED})
            return x_pool, y_pool, x_test, y_test""")]
    elif name_of(config.dataset) is not None:
        parts.append(imported_load_pool(config))
    else:
        arguments = 'label_mode="fine"' if config.dataset == "cifar100" else ""
        parts += [source_of(keras_datasets.as_nhwc), function("load_pool", f"""
            \"\"\"keras.datasets.{config.dataset} as uint8 NHWC images and int32 labels.\"\"\"
            (x_pool, y_pool), (x_test, y_test) = keras.datasets.{config.dataset}.load_data({arguments})
            return (*as_nhwc(x_pool, y_pool), *as_nhwc(x_test, y_test))""")]
    parts += [function("to_float_images", """
        \"\"\"Resize while still compact, then float32 in [0, 1] (cnnlab.data.loader).\"\"\"
        images = resize_images(raw, size)
        if images.dtype == np.uint8:
            return images.astype(np.float32) / np.float32(255)
        return np.clip(images, 0.0, 1.0, dtype=np.float32)""", "raw, size"),
        *folder_parts(),
        function("load_data", """
        \"\"\"((x_train, y_train), (x_val, y_val), (x_test, y_test)), as the run had them, or
        from the class folders of `data_folder` (--data), split the same way.\"\"\"
        if data_folder is None:
            x_pool, y_pool, x_test, y_test = load_pool()
        else:
            x_pool, y_pool, x_test, y_test = load_image_folders(data_folder)
        validation, train = split_pool(y_pool, validation_fraction=VALIDATION_FRACTION,
                                       train_size=TRAIN_SIZE, seed=SEED)
        return ((to_float_images(x_pool[train], IMAGE_SIZE), y_pool[train]),
                (to_float_images(x_pool[validation], IMAGE_SIZE), y_pool[validation]),
                (to_float_images(x_test, IMAGE_SIZE), y_test))""", "data_folder=None")]
    return section("data: the same images, split and training subset as the run", parts)


def pipeline_section(config, input_shape) -> str:
    """tf.data pipelines as cnnlab.augment.pipeline builds them; the augmentation from `to_keras_code`."""
    from cnnlab.augment.code import to_keras_code

    parts = []
    augmentation = config.augmentation
    if augmentation.enabled:
        # Keras code with the lab's own layers' source in it; its imports go to the top.
        parts.append(to_keras_code(augmentation, input_shape, seed=config.seed).strip("\n"))
    mixing = augmentation.mixup_alpha or augmentation.cutmix_alpha
    parts.append(function("batches", """
        \"\"\"Batches of (images, one-hot labels), gathered by index; shuffled each epoch if seeded.\"\"\"
        images = tf.convert_to_tensor(np.asarray(x, np.float32))
        labels = tf.convert_to_tensor(np.asarray(y), tf.int32)
        dataset = tf.data.Dataset.range(len(x))
        if shuffle_seed is not None:
            dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).map(
            lambda index: (tf.gather(images, index), tf.one_hot(tf.gather(labels, index), NUM_CLASSES)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )""", "x, y, batch_size, shuffle_seed=None"))
    body = ["\"\"\"Shuffled from SEED, augmented (training=True), prefetched.\"\"\"",
            "dataset = batches(x, y, BATCH_SIZE, shuffle_seed=SEED)"]
    if augmentation.enabled:
        body += [
            "",
            "def transform(images, labels):",
            "    images = augmentation(images, training=True)",
            *(["    mixed = mix({\"images\": images, \"labels\": labels}, training=True)",
               "    images, labels = mixed[\"images\"], mixed[\"labels\"]"] if mixing else []),
            "    return images, labels",
            "",
            "# One call at a time, in order: the layers' seed generators advance with each call,",
            "# so the same seed gives the same augmented epochs.",
            "dataset = dataset.map(transform)",
        ]
    body.append("return dataset.prefetch(tf.data.AUTOTUNE)")
    parts.append("def training_dataset(x, y):\n" + textwrap.indent("\n".join(body), "    "))
    parts.append(function("evaluation_dataset", """
        \"\"\"In order, never augmented.\"\"\"
        return batches(x, y, EVALUATION_BATCH_SIZE).prefetch(tf.data.AUTOTUNE)""", "x, y"))
    return section("input pipelines, as the lab's (cnnlab.augment.pipeline)", parts)

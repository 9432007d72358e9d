"""`train.py`: a run's experiment as a standalone Keras script that needs no cnnlab.

Why generated from the config rather than written by hand per run: every setting the
script uses is read from the objects training itself uses (the learning rate from
`make_learning_rate`, the optimizer's options from `make_optimizer`, the augmentation from
`to_keras_code`), and every helper it needs from cnnlab (the seeded split, the resize, the
shapes generator, the lab's augmentation layers, the per-epoch schedule) is copied into it
from cnnlab's own source with `inspect`, so the copies follow the lab (tests/test_export.py
compares their output with the lab's).

The architecture is not written out as code: the script builds it from the bundle's
`architecture.json` (Keras' own `model.to_json()` of the run's model) with
`keras.models.model_from_json`, which creates every layer with its configured initializer
and so with fresh weights. That is the one route that is faithful for all of the lab's
architectures (and the keras.applications backbones) without a code generator per family.

Limitations, also stated in each script's docstring:
- Close, not always bit for bit. On the development CPU the script's losses and test
  accuracy equalled the run's to 4 decimals for the small convnet (seeds 0-2, with and
  without augmentation), ResNet-8 and the shapes set; an Inception run with auxiliary heads
  came within 0.1% in its first epoch's loss, then drifted. TensorFlow's kernels are not
  deterministic across machines and thread counts, and the fresh weights are drawn in the
  order Keras rebuilds the layers from JSON, which for some architectures is not the order
  the lab built them in.
- Transfer learning (a pretrained backbone with ImageNet weights, `start_from_run`, the
  two-phase mode) is not reproduced: the script trains the same architecture from scratch,
  all layers trainable, in one phase, at the config's learning rate.
- The lab's own recordings (per-batch rows, gradient norms, confusion matrices) are not
  made; the script prints Keras' progress and the test accuracy.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap

from cnnlab.config import ExperimentConfig

ARCHITECTURE_FILE = "architecture.json"
# Every run validates and tests in batches of at least this many images (job.py).
MIN_EVALUATION_BATCH = 256


def training_script(config: ExperimentConfig, *, num_outputs: int = 1, run_id: str = "",
                    status: str = "", test_accuracy: float | None = None) -> str:
    """The source of `train.py` for `config`.

    Args:
        config: the run's experiment.
        num_outputs: outputs of the run's model; more than one means auxiliary heads
            (GoogLeNet's), whose losses are added with the weight the lab uses.
        run_id: the run's id, for the docstring. Defaults to "".
        status: how the run ended, for the docstring. Defaults to "".
        test_accuracy: the run's test accuracy, printed beside the script's own. Defaults
            to None (not known: the run did not complete).
    """
    from cnnlab.data.registry import get_info
    from cnnlab.training.transfer import uses_transfer

    info = get_info(config.dataset)
    size = config.image_size or info.default_size
    transfer = uses_transfer(config)
    body = "\n\n\n".join(section.strip("\n") for section in (
        _constants(config, size, info.num_classes, num_outputs, test_accuracy),
        _data_section(config, size),
        _pipeline_section(config, (size, size, info.channels)),
        _model_section(config, num_outputs, transfer),
        _main_section(config, num_outputs),
    ))
    # The copied modules' imports go to the top, once each, so the script reads as one file.
    lines = body.splitlines()
    imports = [line for line in lines if _is_import(line)]
    body = re.sub(r"\n{4,}", "\n\n\n", "\n".join(line for line in lines if not _is_import(line)))
    header = _docstring(config, run_id, status, test_accuracy, transfer)
    return header + "\n\n" + _imports(imports) + "\n\n\n" + body.strip("\n") + "\n"


# -- sections ----------------------------------------------------------------------------


def _docstring(config, run_id, status, test_accuracy, transfer) -> str:
    from cnnlab.data.image_store import name_of
    from cnnlab.data.registry import get_info

    info = get_info(config.dataset)
    imported = name_of(config.dataset) is not None
    origin = f"Exported by cnnlab from run {run_id}" if run_id else "Exported by cnnlab"
    if status:
        origin += f", which ended {status}"
    if test_accuracy is not None:
        origin += f" with test accuracy {test_accuracy:.4f}"
    needs = ["TensorFlow 2.16 or newer (with Keras 3)", "NumPy", "Pillow"]
    if config.dataset == "digits":
        needs.append("scikit-learn")
    paragraphs = [(
        f"It repeats the run's data set, split and training subset, architecture (built from "
        f"{ARCHITECTURE_FILE} with fresh weights), optimizer, learning-rate schedule, loss, batch "
        "size, epochs, early stopping, augmentation and seed. On the same machine the curves "
        "usually match the run's exactly; not always: TensorFlow's kernels are not "
        "deterministic across machines and thread counts, and Keras may rebuild the layers, "
        "and so draw their fresh weights, in another order than the lab built them.")]
    if info.needs_download:
        paragraphs.append(f"The images come from keras.datasets.{config.dataset}, which downloads "
                          "them into Keras' cache (~/.keras/datasets) the first time.")
    if transfer:
        paragraphs.append(
            f"NOT REPRODUCED: this run used transfer learning ({_transfer_words(config)}). This "
            "script loads no pretrained weights and no other run's, and trains in one phase: it "
            "trains the same architecture FROM SCRATCH, all layers trainable, at the config's "
            "learning rate (a pretrained base's BatchNormalization layers stay in inference "
            "mode, as the transfer model calls them). Expect a different, usually lower, "
            "accuracy than the run's.")
    notes = []
    for paragraph in paragraphs:
        notes += ["", *textwrap.wrap(paragraph, 88)]
    lines = [
        "Train a cnnlab experiment again, with Keras alone.",
        "",
        *textwrap.wrap(f"Experiment: {config.summary()}.", 88),
        *textwrap.wrap(f"{origin}. This script does not use cnnlab; it needs {', '.join(needs)}.", 88),
        "",
        f"Run it in the bundle's folder (it reads {ARCHITECTURE_FILE} there):",
        "",
        *(["    python train.py --data FOLDER   # the folder of class folders it was imported from"]
          if imported else ["    python train.py                 # the run again"]),
        "    python train.py --epochs 20     # longer (a learning-rate schedule keeps the run's plan)",
        "    python train.py --data FOLDER   # your own images, one sub-folder per class",
        *notes,
    ]
    return '"""' + "\n".join(lines).rstrip() + '\n"""'


def _transfer_words(config) -> str:
    transfer = config.transfer
    words = []
    if transfer.start_from_run:
        words.append(f"it started from the weights of run {transfer.start_from_run}")
    elif transfer.weights == "imagenet":
        words.append(f"{config.architecture} with ImageNet weights")
    words.append(f"mode {transfer.mode}")
    return ", ".join(words)


def _is_import(line: str) -> bool:
    return line.startswith(("import ", "from ")) and not line.startswith("from __future__")


def _imports(copied: list[str]) -> str:
    """The script's imports: its own and those of the code copied into it, Keras' last.

    Keras and TensorFlow come after the line that quiets TensorFlow's start-up messages.
    """
    base = ["import argparse", "import math", "import os", "import sys", "from pathlib import Path",
            "import numpy as np", "from PIL import Image, ImageOps", "import keras", "import tensorflow as tf"]
    wanted, names = [], {}
    for line in base + [line.split("  #")[0].strip() for line in copied]:
        if line.startswith("from "):  # `from x import a` and `from x import b` become one line
            module, imported = line[len("from "):].split(" import ")
            if module not in names:
                wanted.append(module)
            names.setdefault(module, set()).update(name.strip() for name in imported.split(","))
        elif line not in wanted:
            wanted.append(line)
    wanted = [f"from {line} import {', '.join(sorted(names[line]))}" if line in names else line
              for line in wanted]

    def group(line):
        module = line.split()[1].split(".")[0]
        if module in ("keras", "tensorflow"):
            return 2
        return 0 if module in sys.stdlib_module_names else 1

    blocks = [sorted((line for line in wanted if group(line) == g), key=_import_key) for g in range(3)]
    lines = ["from __future__ import annotations", "", *blocks[0], "", *blocks[1], "",
             'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")', ""]
    lines += [f"{line}  # noqa: E402" for line in blocks[2]]
    return "\n".join(lines)


def _import_key(line: str) -> tuple:
    """isort's order: `import x` before `from x import y`, then by module."""
    return (line.startswith("from "), line.split()[1])


def _constants(config, size, num_classes, num_outputs, test_accuracy) -> str:
    from cnnlab.export_folders import folder_constants
    from cnnlab.training.train_step import AUX_LOSS_WEIGHT

    constants = {
        "SEED": config.seed,
        "IMAGE_SIZE": size,
        "TRAIN_SIZE": config.train_size,
        "VALIDATION_FRACTION": config.validation_fraction,
        "NUM_CLASSES": num_classes,
        "BATCH_SIZE": config.batch_size,
        "EVALUATION_BATCH_SIZE": max(config.batch_size, MIN_EVALUATION_BATCH),
        "EPOCHS": config.epochs,
        "RUN_TEST_ACCURACY": test_accuracy,
        "CHANNELS": _info(config.dataset).channels,
        **folder_constants(config, size),
    }
    lines = ["HERE = Path(__file__).resolve().parent"]
    lines += [f"{name} = {value!r}" for name, value in constants.items()]
    if num_outputs > 1:
        lines.append(f"# The model's other outputs are auxiliary classifiers; their losses count {AUX_LOSS_WEIGHT}.")
        lines.append(f"AUXILIARY_LOSS_WEIGHT = {AUX_LOSS_WEIGHT!r}")
    return _section("the experiment", ["\n".join(lines)])


def _data_section(config, size) -> str:
    """Loading, the seeded split and the resize, copied from cnnlab.data."""
    from cnnlab.data import digits, keras_datasets, loader, resize, shapes, splits
    from cnnlab.data.image_store import name_of
    from cnnlab.export_folders import folder_parts, imported_load_pool

    parts = []
    if config.dataset == "digits":
        parts.append(f"TEST_FRACTION = {digits.TEST_FRACTION!r}\nTEST_SEED = {digits.TEST_SEED!r}")
    parts += [_source(splits.validation_count), _source(splits.stratified_sample),
              _source(splits.split_pool), _source(resize.resize_images)]
    if config.dataset == "digits":
        parts += [_source(digits.load_digits_pool), _function("load_pool", """
            \"\"\"scikit-learn's digits: pool and test split at 8x8 (cnnlab.data.digits).\"\"\"
            return load_digits_pool()""")]
    elif config.dataset == "shapes":
        info = _info(config.dataset)
        parts += ["# cnnlab's shapes generator, copied from cnnlab/data/shapes.py.",
                  _module_source(shapes), _function("load_pool", f"""
            \"\"\"The shapes pool and test split, drawn from fixed seeds at IMAGE_SIZE.\"\"\"
            x_pool, y_pool = draw_shapes({info.pool_size}, IMAGE_SIZE, {loader.SHAPES_POOL_SEED})
            x_test, y_test = draw_shapes({info.test_size}, IMAGE_SIZE, {loader.SHAPES_TEST_SEED})
            return x_pool, y_pool, x_test, y_test""")]
    elif name_of(config.dataset) is not None:
        parts.append(imported_load_pool(config))
    else:
        arguments = 'label_mode="fine"' if config.dataset == "cifar100" else ""
        parts += [_source(keras_datasets.as_nhwc), _function("load_pool", f"""
            \"\"\"keras.datasets.{config.dataset} as uint8 NHWC images and int32 labels.\"\"\"
            (x_pool, y_pool), (x_test, y_test) = keras.datasets.{config.dataset}.load_data({arguments})
            return (*as_nhwc(x_pool, y_pool), *as_nhwc(x_test, y_test))""")]
    parts += [_function("to_float_images", """
        \"\"\"Resize while still compact, then float32 in [0, 1] (cnnlab.data.loader).\"\"\"
        images = resize_images(raw, size)
        if images.dtype == np.uint8:
            return images.astype(np.float32) / np.float32(255)
        return np.clip(images, 0.0, 1.0, dtype=np.float32)""", "raw, size"),
        *folder_parts(),
        _function("load_data", """
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
    return _section("data: the same images, split and training subset as the run", parts)


def _pipeline_section(config, input_shape) -> str:
    """tf.data pipelines as cnnlab.augment builds them; the augmentation from `to_keras_code`."""
    from cnnlab.augment_code import to_keras_code

    parts = []
    augmentation = config.augmentation
    if augmentation.enabled:
        # Keras code with the lab's own layers' source in it; its imports go to the top.
        parts.append(to_keras_code(augmentation, input_shape, seed=config.seed).strip("\n"))
    mixing = augmentation.mixup_alpha or augmentation.cutmix_alpha
    parts.append(_function("batches", """
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
    parts.append(_function("evaluation_dataset", """
        \"\"\"In order, never augmented.\"\"\"
        return batches(x, y, EVALUATION_BATCH_SIZE).prefetch(tf.data.AUTOTUNE)""", "x, y"))
    return _section("input pipelines, as the lab's (cnnlab.augment)", parts)


def _model_section(config, num_outputs, transfer) -> str:
    from cnnlab.schedules import make_learning_rate, schedule_callbacks

    parts = []
    steps = config.planned_train_count()
    steps_per_epoch = -(-steps // config.batch_size)
    rate, classes = _learning_rate_code(make_learning_rate(config, steps_per_epoch))
    if classes:
        parts.append("from keras import ops\n\nschedules = keras.optimizers.schedules")
    for cls in classes:
        parts.append(_class_source(cls))
    body = ["\"\"\"The run's architecture with fresh weights: every layer starts from its initializer.\"\"\"",
            f'model = keras.models.model_from_json((HERE / "{ARCHITECTURE_FILE}").read_text())']
    if transfer:
        body += ["# The run fine-tuned pretrained weights; from scratch, every layer trains.",
                 "for layer in model.layers:",
                 "    layer.trainable = True"]
    body.append("return model")
    parts.append("def build_model():\n" + textwrap.indent("\n".join(body), "    "))
    parts.append(_function("make_optimizer", f"""
        \"\"\"{config.optimizer} as the run had it; the learning rate follows the schedule.\"\"\"
        learning_rate = {rate}
        return {_optimizer_code(config, "        ")}""", "steps_per_epoch"))
    callbacks = ["keras.callbacks.TerminateOnNaN()"]
    for callback in schedule_callbacks(config):  # ReduceLROnPlateau for "plateau"
        callbacks.append(_call("keras.callbacks.ReduceLROnPlateau", [
            f"monitor={callback.monitor!r}", f"factor={callback.factor!r}",
            f"patience={callback.patience!r}", f"min_lr={callback.min_lr!r}"], "    "))
    early = config.early_stopping
    if early.enabled:
        mode = "max" if early.monitor.endswith("accuracy") else "min"
        callbacks.append(_call("keras.callbacks.EarlyStopping", [
            f"monitor={early.monitor!r}", f"min_delta={early.min_delta!r}",
            f"patience={early.patience!r}", f"restore_best_weights={early.restore_best_weights!r}",
            f"mode={mode!r}"], "    "))
    if num_outputs > 1:
        parts.append(_MAIN_OUTPUT_CALLBACK)
        callbacks.insert(0, "MainOutputLogs(validation)")
    body = ["\"\"\"Stop on a non-finite loss (the run's 'diverged'), then the run's own callbacks.\"\"\"",
            "return ["]
    body += [f"    {code}," for code in callbacks]
    body.append("]")
    parts.append("def make_callbacks(validation):\n" + textwrap.indent("\n".join(body), "    "))
    return _section("model, optimizer, schedule, callbacks", parts)


def _main_section(config, num_outputs) -> str:
    if num_outputs > 1:
        fit = """
            model.compile(
                optimizer=make_optimizer(steps_per_epoch),
                loss=["categorical_crossentropy"] * len(model.outputs),
                loss_weights=[1.0] + [AUXILIARY_LOSS_WEIGHT] * (len(model.outputs) - 1),
                metrics=[[keras.metrics.CategoricalAccuracy(name="accuracy")]]
                + [[] for _ in model.outputs[1:]],
            )
            # Every output learns the same labels; MainOutputLogs validates the first.
            outputs = len(model.outputs)
            train = train.map(lambda images, labels: (images, (labels,) * outputs))
            validation = None if x_val is None else (x_val, y_val)
            history = model.fit(train, epochs=arguments.epochs, shuffle=False, verbose=2,
                                callbacks=make_callbacks(validation))
            probabilities = model.predict(evaluation_dataset(x_test, y_test), verbose=0)[0]
            test_accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
            """
    else:
        fit = """
            model.compile(
                optimizer=make_optimizer(steps_per_epoch),
                loss="categorical_crossentropy",
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            )
            validation = None if x_val is None else evaluation_dataset(x_val, y_val)
            history = model.fit(train, epochs=arguments.epochs, validation_data=validation, shuffle=False,
                                verbose=2, callbacks=make_callbacks(validation))
            _, test_accuracy = model.evaluate(evaluation_dataset(x_test, y_test), verbose=0)
            """
    body = textwrap.dedent("""
        \"\"\"Load the data, build and train the model, print its test accuracy and return it.

        `argv`: the command line's flags (see parse_arguments); none repeats the run.
        \"\"\"
        arguments = parse_arguments(argv)
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data(arguments.data)
        if not len(x_val):
            x_val = y_val = None
        steps_per_epoch = math.ceil(len(x_train) / BATCH_SIZE)
        # One seed for initialization and dropout masks; the pipeline seeds itself from SEED.
        keras.utils.set_random_seed(SEED)
        model = build_model()
        train = training_dataset(x_train, y_train)
        """) + textwrap.dedent(fit) + textwrap.dedent("""
        losses = history.history.get("loss", [])
        if losses and not np.isfinite(losses[-1]):
            print("The loss became NaN or infinite: training diverged, as a run of the lab would.")
        print(f"test_accuracy={test_accuracy:.4f}")
        if RUN_TEST_ACCURACY is not None:
            print(f"The run reached test_accuracy={RUN_TEST_ACCURACY:.4f}.")
        return float(test_accuracy)
        """)
    return _section("training", [_function("main", body, "argv=()"),
                                 'if __name__ == "__main__":\n    main(sys.argv[1:])'])


_MAIN_OUTPUT_CALLBACK = '''
class MainOutputLogs(keras.callbacks.Callback):
    """Epoch logs as the lab has them for a model with auxiliary outputs.

    The first output is the prediction: `accuracy` is its accuracy, and `val_loss` and
    `val_accuracy` are its cross-entropy (plus the weight penalties) and accuracy on the
    validation images; the auxiliary heads only add to the training loss.
    """

    def __init__(self, validation):
        super().__init__()
        self.labels = None if validation is None else validation[1]
        # One data set for every epoch: a new one each time would retrace predict.
        self.dataset = None if validation is None else evaluation_dataset(*validation)

    def on_epoch_end(self, epoch, logs=None):
        key = f"{self.model.output_names[0]}_accuracy"
        if key in logs:
            logs["accuracy"] = logs[key]
        if self.dataset is None:
            return
        labels = self.labels
        probabilities = self.model.predict(self.dataset, verbose=0)[0]
        chosen = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
        penalty = sum(float(loss) for loss in self.model.losses)
        logs["val_loss"] = float(-np.log(chosen.astype("float64")).mean() + penalty)
        logs["val_accuracy"] = float((probabilities.argmax(axis=1) == labels).mean())
'''


# -- code from objects -------------------------------------------------------------------


def _learning_rate_code(rate, indent: str = "        ") -> tuple[str, list[type]]:
    """Python source that builds `rate` (a float or a schedule), and the lab classes it needs.

    `indent` is the indentation of the line the code starts on, in the function template.
    """
    import keras

    from cnnlab.schedules import LinearWarmup, PerEpoch

    if isinstance(rate, (int, float)):
        return repr(float(rate)), []
    if isinstance(rate, PerEpoch):
        inner, classes = _learning_rate_code(rate.schedule, indent + "    ")
        return (_call("PerEpoch", [inner, "steps_per_epoch=steps_per_epoch"], indent),
                [*classes, PerEpoch])
    if isinstance(rate, LinearWarmup):
        return (f"LinearWarmup({rate.learning_rate!r}, warmup_steps={rate.warmup_steps!r})",
                [LinearWarmup])
    cls = type(rate)
    if getattr(keras.optimizers.schedules, cls.__name__, None) is not cls:
        raise ValueError(  # a schedule added to cnnlab.schedules without an export path
            f"Cannot write the learning-rate schedule {cls.__name__} as Keras code. Expected a "
            "float, a keras.optimizers.schedules class, PerEpoch or LinearWarmup. "
            f"Received: {rate!r}. Teach cnnlab.export_script._learning_rate_code about it."
        )
    arguments = [f"{key}={value!r}" for key, value in rate.get_config().items()]
    return _call(f"keras.optimizers.schedules.{cls.__name__}", arguments, indent), []


def _optimizer_code(config, indent: str) -> str:
    """The optimizer's constructor call, its learning rate the variable `learning_rate`."""
    from cnnlab.training.optimizers import make_optimizer, optimizer_parameters

    cls = type(make_optimizer(config))
    options = config.optimizer_options
    arguments = ["learning_rate=learning_rate"]
    arguments += [f"{name}={getattr(options, name)!r}" for name in optimizer_parameters(config.optimizer)]
    arguments += [f"{name}={getattr(options, name)!r}" for name in ("clipnorm", "clipvalue")
                  if getattr(options, name) is not None]
    return _call(f"keras.optimizers.{cls.__name__}", arguments, indent)


# -- source copying ----------------------------------------------------------------------


def _info(name):
    from cnnlab.data.registry import get_info

    return get_info(name)


def _source(function) -> str:
    return textwrap.dedent(inspect.getsource(function))


def _class_source(cls) -> str:
    return f"# Copied from {cls.__module__.replace('.', '/')}.py.\n" + _source(cls)


def _module_source(module) -> str:
    """A module's source without its `from __future__` line (the script has its own)."""
    lines = inspect.getsource(module).splitlines()
    return "\n".join(line for line in lines if line != "from __future__ import annotations")


def _section(title: str, parts: list[str]) -> str:
    """A titled section of the script: its parts two blank lines apart, as PEP 8 has it."""
    header = f"# -- {title} ".ljust(88, "-")
    return header + "\n\n" + "\n\n\n".join(part.strip("\n") for part in parts)


def _call(function: str, arguments: list[str], indent: str = "") -> str:
    """`function(arguments)` on one line if it fits in 88 columns, else one argument a line."""
    line = f"{function}({', '.join(arguments)})"
    if len(indent) + len(line) <= 88:
        return line
    inner = "".join(f"{indent}    {argument},\n" for argument in arguments)
    return f"{function}(\n{inner}{indent})"


def _function(name: str, body: str, arguments: str = "") -> str:
    return f"def {name}({arguments}):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")

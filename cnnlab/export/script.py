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

Here the script's docstring, imports and constants; its sections come from
`cnnlab.export.data_code` (data, input pipelines) and `cnnlab.export.training_code`
(model, optimizer, callbacks, training), `--data FOLDER` from `cnnlab.export.folders`.
"""

from __future__ import annotations

import re
import sys
import textwrap

from cnnlab.config import ExperimentConfig
from cnnlab.export.data_code import data_section, pipeline_section
from cnnlab.export.source import dataset_info, section
from cnnlab.export.training_code import ARCHITECTURE_FILE, main_section, model_section

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
        data_section(config, size),
        pipeline_section(config, (size, size, info.channels)),
        model_section(config, num_outputs, transfer),
        main_section(config, num_outputs),
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
    from cnnlab.export.folders import folder_constants
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
        "CHANNELS": dataset_info(config.dataset).channels,
        **folder_constants(config, size),
    }
    lines = ["HERE = Path(__file__).resolve().parent"]
    lines += [f"{name} = {value!r}" for name, value in constants.items()]
    if num_outputs > 1:
        lines.append(f"# The model's other outputs are auxiliary classifiers; their losses count {AUX_LOSS_WEIGHT}.")
        lines.append(f"AUXILIARY_LOSS_WEIGHT = {AUX_LOSS_WEIGHT!r}")
    return section("the experiment", ["\n".join(lines)])

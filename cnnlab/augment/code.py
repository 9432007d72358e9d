"""The augmentation pipeline as Keras code a student can paste, that needs Keras alone.

Written from the pipeline's own `layer_specs` (cnnlab.augment.pipeline), so the code is the
pipeline training runs; the lab's own layers come with their source, copied from
cnnlab/augment/layers.py with `inspect`, so the copies follow the lab.
"""

from __future__ import annotations

from cnnlab.augment import layers
from cnnlab.augment.layers import CUSTOM_LAYERS, layer_seeds
from cnnlab.augment.pipeline import check_augmentation, check_input_shape, layer_specs
from cnnlab.config import AugmentationConfig


def _python_literal(value) -> str:
    return repr(tuple(value)) if isinstance(value, (tuple, list)) else repr(value)


# What each of the lab's own layers needs from cnnlab/augment/layers.py, in order: the
# code `to_keras_code` writes carries these sources, so it runs with Keras alone.
INLINED_SOURCES = {
    "RandomAffine": ("affine_matrices", "RandomAffine"),
    "RandomPadCrop": ("RandomPadCrop",),
    "RandomAngleShear": ("RandomAngleShear",),
    "ChannelShift": ("VALUE_RANGE", "ChannelShift"),
    "RandomBrightnessScale": ("VALUE_RANGE", "RandomBrightnessScale"),
    "MixBatch": ("layer_seeds", "CutMix", "MixBatch"),
}


def _inlined_source(names: list[str]) -> str:
    """The sources of `names` (functions, classes, constants) of cnnlab.augment.layers, in
    the order the module defines them, each once."""
    import inspect

    wanted = list(dict.fromkeys(part for name in names for part in INLINED_SOURCES[name]))
    order = {name: index for index, name in enumerate(vars(layers))}
    parts = []
    for name in sorted(wanted, key=order.__getitem__):
        value = getattr(layers, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            parts.append(inspect.getsource(value).strip("\n"))
        else:
            parts.append(f"{name} = {value!r}")
    return "\n\n\n".join(parts)


def to_keras_code(augmentation: AugmentationConfig, input_shape, *, seed: int | None = None) -> str:
    """The pipeline as runnable Keras code: the same layers, in order, with the same arguments.

    Why: students can paste it into their own training script. It needs Keras alone: the
    lab's own layers (`RandomAffine`, which fuses flips, rotation, shear, shift and zoom;
    `RandomPadCrop`, `ChannelShift`, `MixBatch`) come with their source, copied from
    cnnlab/augment/layers.py. With `seed`, the layers get the seeds
    `build_augmenter(..., seed=seed)` gives them, so the code reproduces the grid.
    """
    specs = layer_specs(check_augmentation(augmentation))
    input_shape = check_input_shape(input_shape)
    seeds = layer_seeds(seed, len(specs))
    a = augmentation
    mixing = bool(a.mixup_alpha or a.cutmix_alpha)
    custom = [name for name, _ in specs if name in CUSTOM_LAYERS] + (["MixBatch"] if mixing else [])
    lines = ["import keras"]
    if custom:
        lines = ["import math", "", "import keras", "import numpy as np", "from keras import ops", "",
                 "", "# The lab's own layers, copied from cnnlab/augment/layers.py: this code needs "
                 "Keras alone.", _inlined_source(custom), ""]
    lines += ["", "# Active only when called with training=True; at inference they pass images through.",
              "augmentation = keras.Sequential(["]
    lines.append(f"    keras.Input(shape={input_shape!r}),")
    for (name, arguments), layer_seed in zip(specs, seeds):
        prefix = "" if name in CUSTOM_LAYERS else "keras.layers."
        if layer_seed is not None:
            arguments = {**arguments, "seed": layer_seed}
        args = ", ".join(f"{key}={_python_literal(value)}" for key, value in arguments.items())
        lines.append(f"    {prefix}{name}({args}),")
    lines.append('], name="augmentation")')
    if mixing:
        mix_seed = None if seed is None else seed + 1
        lines += ["", "# Mixes whole batches with one-hot labels: {'images': ..., 'labels': ...}.",
                  (f"mix = MixBatch(mixup_alpha={a.mixup_alpha!r}, cutmix_alpha={a.cutmix_alpha!r}, "
                   f"seed={mix_seed!r})")]
    return "\n".join(lines) + "\n"

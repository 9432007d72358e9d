"""The sections of an experiment: tricks, optimizer options, schedule, early stopping,
augmentation and transfer learning, each a frozen dataclass validated when it is built.

The string choices (optimizers, activations, schedules, ...) are tuples here, so forms and
the CLI offer exactly what the config accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.config.fields import spec, validate

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam")
DROPOUT_PLACEMENTS = ("before_dense", "every_dense", "spatial")
NORM_POSITIONS = ("before_activation", "after_activation")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal",
                "standard_normal")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid")
SCHEDULES = ("constant", "time_based", "step", "exponential", "cosine", "warmup", "plateau",
             "one_cycle")
SCHEDULE_UNITS = ("epoch", "iteration")
# The fields each schedule's formula reads, besides `kind` and `unit` (ScheduleConfig's
# docstring gives the formulas); a form shows only these.
SCHEDULE_PARAMETERS = {
    "constant": (), "time_based": ("decay_rate",), "step": ("step_size", "drop_factor"),
    "exponential": ("decay_rate",), "cosine": ("min_learning_rate",), "warmup": ("warmup_epochs",),
    "plateau": ("drop_factor", "patience", "min_learning_rate"), "one_cycle": (),
}
FILL_MODES = ("nearest", "reflect", "wrap", "constant")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
TRANSFER_MODES = ("feature_extraction", "fine_tune", "two_phase")
WEIGHTS = ("imagenet", "random")
# The head and its loss: a softmax over the classes with categorical cross-entropy, or (two
# classes only) one sigmoid unit with binary cross-entropy, the lectures' cats-vs-dogs head.
LOSSES = ("categorical_crossentropy", "binary_crossentropy")



@dataclass(frozen=True)
class Tricks:
    """The training tricks a model builder applies; every architecture takes the same set."""

    # Fraction of units dropped; 0 switches dropout off.
    dropout_rate: float = spec(0.0, "Dropout rate: the fraction of units dropped in training.",
                                minimum=0.0, below=1.0)
    # before_dense: once, before the first dense layer (the lectures' convnet);
    # every_dense: before every dense layer; spatial: whole feature maps after each conv block.
    dropout_placement: str = spec(
        "before_dense", "Where dropout goes: before the first dense layer, before every dense "
        "layer, or spatial dropout after every conv block.", choices=lambda: DROPOUT_PLACEMENTS)
    # Batch normalization after every convolution.
    batch_norm: bool = spec(False, "Batch normalization after each convolution.")
    # Batch normalization after every hidden dense layer (and, in the MLP, of its input, as
    # the lectures' dense network has it); same position and momentum as the conv layers'.
    batch_norm_dense: bool = spec(
        False, "Batch normalization after each hidden dense layer (the MLP also normalizes "
        "its input), in the same position and with the same momentum as after convolutions.")
    batch_norm_position: str = spec(
        "before_activation", "Batch normalization before the activation (as in the paper) or after it "
        "(convolutions and dense layers alike).",
        choices=lambda: NORM_POSITIONS)
    # Training normalizes each batch with its own mean and variance; validation, test and
    # prediction use moving averages of them. Keras' default momentum, 0.99, averages over
    # about 100 steps and starts from mean 0, variance 1: after the default experiment's
    # 216 steps the averages still held the first steps' statistics, and validation stayed
    # at chance (10.9 +- 2.5%, 6 seeds) while training reached 99.6%. Measured with
    # benchmarks/batch_norm.py: 0.5 gave validation 98.3 +- 0.8% there and 80.7 +- 3.0% on
    # shapes (0.9: 98.0 and 74.9; 0.99: 10.9 and 73.6; no batch norm: 97.0 and 63.7).
    batch_norm_momentum: float = spec(
        0.5, "Batch norm trains on each batch's own mean and variance; validation and test "
        "use moving averages of them, updated every step as moving = momentum × moving + "
        "(1 − momentum) × batch. Close to 1 (Keras' 0.99) they average over ~100 steps and "
        "lag behind a short run, whose validation then looks like chance; 0.5 follows the "
        "last few batches.", minimum=0.0, below=1.0)
    # Penalties on every kernel: l1 * sum|w| + l2 * sum(w^2); both non-zero is L1+L2.
    l1: float = spec(0.0, "L1 regularization strength (lambda).", minimum=0.0, maximum=10.0)
    l2: float = spec(0.0, "L2 regularization strength (lambda).", minimum=0.0, maximum=10.0)
    # None keeps Keras' default (Glorot uniform); standard_normal is N(0, 1), which makes
    # gradients vanish in deep sigmoid networks.
    initializer: str | None = spec(None, "Kernel initializer; empty keeps Glorot uniform.",
                                    choices=lambda: INITIALIZERS)
    # None keeps the architecture's own (ReLU; tanh for LeNet-5).
    activation: str | None = spec(None, "Activation of hidden layers; empty keeps the "
                                   "architecture's own.", choices=lambda: ACTIVATIONS)

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class OptimizerOptions:
    """The optimizer's own parameters beyond the learning rate, and gradient clipping.

    Each optimizer reads only the fields it has: momentum and nesterov for SGD, rho for
    RMSprop and Adadelta, beta_1 and beta_2 for the Adam family, weight_decay for AdamW.
    """

    momentum: float = spec(0.0, "SGD momentum (0 is plain SGD; 0.9 is usual).", minimum=0.0, below=1.0)
    nesterov: bool = spec(False, "Nesterov accelerated gradient (SGD with momentum).")
    rho: float = spec(0.9, "Decay of the squared-gradient average (RMSprop, Adadelta).",
                       above=0.0, below=1.0)
    beta_1: float = spec(0.9, "Decay of the gradient average (Adam family).", minimum=0.0, below=1.0)
    beta_2: float = spec(0.999, "Decay of the squared-gradient average (Adam family).",
                          minimum=0.0, below=1.0)
    epsilon: float = spec(1e-7, "Small constant that keeps divisions finite.", above=0.0, maximum=1.0)
    weight_decay: float = spec(0.004, "Decoupled weight decay (AdamW).", minimum=0.0, maximum=1.0)
    # Gradient clipping; None switches it off.
    clipnorm: float | None = spec(None, "Clip each gradient tensor to this L2 norm.", above=0.0)
    clipvalue: float | None = spec(None, "Clip each gradient element to [-v, v].", above=0.0)

    def __post_init__(self):
        validate(self)
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError(
                "Gradient clipping takes one of `clipnorm` and `clipvalue`. Expected at most one "
                f"set. Received: clipnorm={self.clipnorm}, clipvalue={self.clipvalue}. "
                "Clear one of them."
            )


@dataclass(frozen=True)
class ScheduleConfig:
    """The learning-rate schedule: how the rate changes from `learning_rate` (eta0) over time.

    t counts epochs or iterations (`unit`). Formulas, with eta0 the config's learning rate:
    constant: eta0; time_based: eta0 / (1 + decay_rate * t); step: eta0 * drop_factor **
    floor(t / step_size); exponential: eta0 * exp(-decay_rate * t); cosine: from eta0 down
    to min_learning_rate over the run; warmup: eta0 * min(1, (t + 1) / W), W the warm-up
    length (warmup_epochs, in t's unit), then eta0; plateau: eta0, times drop_factor when
    the validation loss has not improved for `patience` epochs; one_cycle: up from
    eta0 / 25 to eta0 for the first 30% of the run, then down to eta0 / 1e4 (cosine).
    """

    kind: str = spec("constant", "Learning-rate schedule.", choices=lambda: SCHEDULES)
    unit: str = spec("epoch", "What t counts: epochs, or iterations (batches).",
                      choices=lambda: SCHEDULE_UNITS)
    decay_rate: float = spec(0.1, "k in the time-based and exponential formulas.", minimum=0.0,
                              maximum=100.0)
    step_size: int = spec(5, "Step decay: t units between drops.", minimum=1)
    drop_factor: float = spec(0.5, "Step decay and plateau: factor applied at each drop.",
                               above=0.0, below=1.0)
    warmup_epochs: float = spec(1.0, "Linear warm-up length in epochs.", above=0.0, maximum=1000.0)
    min_learning_rate: float = spec(0.0, "Floor for cosine decay and plateau.", minimum=0.0)
    patience: int = spec(2, "Plateau: epochs without improvement before a drop.", minimum=1)

    def __post_init__(self):
        validate(self)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The fields this schedule's kind reads, besides `kind` and `unit`."""
        return SCHEDULE_PARAMETERS[self.kind]


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop when the monitored metric stops improving; optionally go back to the best epoch."""

    enabled: bool = spec(False, "Stop early when the monitored metric stops improving.")
    monitor: str = spec("val_loss", "Metric watched by early stopping.", choices=lambda: MONITORS)
    min_delta: float = spec(0.0, "Smallest change that counts as an improvement.", minimum=0.0)
    patience: int = spec(3, "Epochs without improvement before stopping.", minimum=1)
    restore_best_weights: bool = spec(True, "Go back to the best epoch's weights at the end.")

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class AugmentationConfig:
    """Random transforms of training images (never validation or test images).

    The options of the lectures' ImageDataGenerator, plus contrast, random crop and
    MixUp/CutMix. Every default switches its transform off.
    """

    rotation_range: float = spec(0.0, "Random rotation, up to this many degrees either way.",
                                  minimum=0.0, maximum=180.0)
    width_shift_range: float = spec(0.0, "Random horizontal shift, as a fraction of the width.",
                                     minimum=0.0, maximum=1.0)
    height_shift_range: float = spec(0.0, "Random vertical shift, as a fraction of the height.",
                                      minimum=0.0, maximum=1.0)
    shear_range: float = spec(0.0, "Random shear, up to this many degrees.", minimum=0.0,
                               maximum=80.0)
    zoom_range: float = spec(0.0, "Random zoom in or out by up to this fraction.", minimum=0.0,
                              below=1.0)
    horizontal_flip: bool = spec(False, "Flip left-right at random.")
    vertical_flip: bool = spec(False, "Flip upside down at random.")
    brightness_range: float = spec(0.0, "Random brightness change, up to this fraction.",
                                    minimum=0.0, maximum=1.0)
    contrast_range: float = spec(0.0, "Random contrast change, up to this fraction.",
                                  minimum=0.0, maximum=1.0)
    channel_shift_range: float = spec(0.0, "Random shift added to each colour channel (0-1 scale).",
                                       minimum=0.0, maximum=1.0)
    # ImageDataGenerator's brightness_range=[low, high]: every pixel times one factor drawn
    # from [low, high] per image (deck 004 uses [0.2, 1.5]); [1, 1] is off.
    brightness_scale_low: float = spec(1.0, "Brightness scale: lowest factor the pixels are "
                                       "multiplied by (1 with the highest at 1: off).",
                                       minimum=0.0, maximum=5.0)
    brightness_scale_high: float = spec(1.0, "Brightness scale: highest factor the pixels are "
                                        "multiplied by.", minimum=0.0, maximum=5.0)
    # Additive Gaussian noise, N(0, stddev^2) on every pixel (0-1 scale); keras.layers.GaussianNoise.
    noise_stddev: float = spec(0.0, "Gaussian noise: add N(0, stddev²) to every pixel (0-1 scale).",
                               minimum=0.0, maximum=1.0)
    crop_padding: int = spec(0, "Random crop: pad by this many pixels, crop back at random.",
                              minimum=0, maximum=64)
    fill_mode: str = spec("nearest", "How pixels shifted in from outside are filled.",
                           choices=lambda: FILL_MODES)
    mixup_alpha: float = spec(0.0, "MixUp: blend pairs of images and labels (Beta(alpha, alpha)).",
                               minimum=0.0, maximum=10.0)
    cutmix_alpha: float = spec(0.0, "CutMix: paste a patch of another image, labels by area.",
                                minimum=0.0, maximum=10.0)

    def __post_init__(self):
        validate(self)
        if self.brightness_scale_low > self.brightness_scale_high:
            raise ValueError(
                "The brightness scale's lowest factor is above its highest. Expected "
                "`brightness_scale_low` <= `brightness_scale_high`. Received: "
                f"{self.brightness_scale_low:g} > {self.brightness_scale_high:g}. Swap them "
                "(deck 004 uses 0.2 and 1.5).")

    @property
    def brightness_scaled(self) -> bool:
        """Whether the brightness-scale transform is on ([low, high] other than [1, 1])."""
        return (self.brightness_scale_low, self.brightness_scale_high) != (1.0, 1.0)

    @property
    def enabled(self) -> bool:
        """Whether any transform is switched on."""
        return self != AugmentationConfig(fill_mode=self.fill_mode)


@dataclass(frozen=True)
class TransferConfig:
    """How a network that starts from trained weights is trained (transfer learning).

    It applies to the pretrained backbones (keras.applications, ImageNet weights) and to
    runs that start from another run's weights (`start_from_run`). Modes: feature_extraction
    freezes the base and trains a new head; fine_tune also trains the base's top
    `fine_tune_layers` layers at learning_rate * `learning_rate_factor`; two_phase trains the
    head for `head_epochs` epochs, then unfreezes the top layers and fine-tunes, in one run.
    """

    mode: str = spec("feature_extraction", "Transfer mode.", choices=lambda: TRANSFER_MODES)
    weights: str = spec("imagenet", "Backbone weights: ImageNet, or random (no transfer).",
                         choices=lambda: WEIGHTS)
    fine_tune_layers: int = spec(0, "Layers at the top of the base that are trained (0 = none).",
                                  minimum=0, maximum=1000)
    learning_rate_factor: float = spec(0.1, "Fine-tuning learning rate, as a factor of the "
                                        "learning rate.", above=0.0, maximum=1.0)
    head_epochs: int = spec(2, "Two-phase: epochs that train only the head first.", minimum=1)
    # Run id of a finished run whose weights start this one (all but its head).
    start_from_run: str | None = spec(None, "Start from the weights of this finished run.")

    def __post_init__(self):
        validate(self)

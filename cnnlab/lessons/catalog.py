"""The lessons: each lecture claim as runs, a chart and a measured figure.

Every lesson trains on data that works offline (scikit-learn's digits, embedded) at a
scale chosen so that all its runs finish within 3 minutes on 2 CPU cores, two at a time
(the lab's default `CNNLAB_MAX_CONCURRENT`); its `scale` says what was cut. The figure in
`measured` comes from `python benchmarks/lessons.py --only NAME` on this 2-core machine
(mean +- standard deviation over the seeds named); each claim's effect was checked against
the seed-to-seed noise there, and where a first design did not hold, the design was
changed, never the claim.
"""

from __future__ import annotations

from cnnlab.lessons.lesson import Lesson, LessonRun, Measure

# Scikit-learn's digits at 16 px: 480 training and 288 validation images. At 16 px the
# small convnet trains an epoch of 480 images in about a second on two cores.
DIGITS_16 = {"dataset": "digits", "image_size": 16, "train_size": 480, "seed": 0}
DIGITS_SCALE = "digits at 16x16 px, 480 training and 288 validation images"

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        name="learning_rate",
        title="Learning rate: too small, about right, too large",
        claim="Too small a learning rate barely moves the loss in the time given; too large "
              "a one makes it blow up; in between the loss falls fast and steadily.",
        question="Three runs of plain SGD differ only in the learning rate (0.001, 0.05, 20). "
                 "Which ends with the lowest training loss, and what happens to the largest?",
        base={**DIGITS_16, "optimizer": "sgd", "batch_size": 8, "epochs": 6},
        runs=(LessonRun("too small (0.001)", {"learning_rate": 0.001}),
              LessonRun("about right (0.05)", {"learning_rate": 0.05}),
              LessonRun("too large (20)", {"learning_rate": 20.0})),
        varies=("learning_rate",),
        chart="curves",
        look_for="The 0.001 curve stays at its start (2.3, chance); 0.05 leaves it after an "
                 "epoch or two and falls steeply; 20 blows up within its first steps and the "
                 "run is marked diverged.",
        measure=Measure("final_loss", better="about right (0.05)", worse="too small (0.001)"),
        scale=f"{DIGITS_SCALE}, small convnet, batches of 8, 6 epochs, 3 runs",
        measured="final training loss over seeds 0-2: 0.001: 2.299 +- 0.000; 0.05: 0.70 +- 0.08; "
                 "20: diverged in every seed (marked diverged); 14 to 19 s for the three (machine "
                 "under load). The learning-rate finder (Train page, Find learning rate) cannot "
                 "read this setup: plain SGD with batches of 8 hardly moves the loss in its 100 "
                 "batches (the smoothed loss fell 0.02 to 0.2% in seeds 0-2), and it says its "
                 "suggestion is not to be trusted. On the default experiment (Adam, batches of 32) "
                 "it suggests 0.0022 in seeds 0-2, and 3 epochs at that rate reach 95.7 +- 2.9% "
                 "validation accuracy against 24.9% at 1e-5 and 10.0% (chance) at 3 "
                 "(benchmarks/lr_finder.py).",
    ),
    Lesson(
        name="gradient_descent",
        title="Gradient descent: full batch, mini-batch, stochastic",
        claim="Full-batch descent makes one step per epoch, so per epoch it learns least; "
              "stochastic descent makes one step per image, hundreds of noisy steps per "
              "epoch, and learns most per epoch, but each step costs time, so its epochs "
              "take far longer; mini-batches sit in between.",
        question="Same learning rate, same 6 epochs: batches of all 480 images, of 32, of 1. "
                 "Which ends lowest, and which takes longest?",
        base={**DIGITS_16, "optimizer": "sgd", "learning_rate": 0.02, "epochs": 6},
        runs=(LessonRun("full batch (480)", {"batch_size": 480}),
              LessonRun("mini-batch (32)", {"batch_size": 32}),
              LessonRun("stochastic (1)", {"batch_size": 1})),
        varies=("batch_size",),
        chart="time",
        look_for="Against epochs, full batch stays flat, mini-batch begins to move and "
                 "stochastic falls steeply; against seconds, stochastic's curve stretches "
                 "far to the right.",
        measure=Measure("final_loss", better="stochastic (1)", worse="full batch (480)"),
        scale=f"{DIGITS_SCALE}, small convnet, SGD 0.02, 6 epochs, 3 runs",
        measured="final training loss over seeds 0-2: full batch 2.301 +- 0.000, mini-batch 2.293 "
                 "+- 0.001, stochastic 0.30 +- 0.03; 64 to 71 s for the three (machine under "
                 "load).",
    ),
    Lesson(
        name="optimizers",
        title="Optimizers: SGD, momentum, Nesterov, RMSprop, Adam",
        claim="Momentum carries plain SGD through flat stretches; adaptive optimizers "
              "(RMSprop, Adam) scale each weight's step and reach a low loss in far fewer "
              "epochs, each at its usual learning rate.",
        question="Five optimizers on the same network, data and seed. Which ends lowest after "
                 "5 epochs, and where does plain SGD end?",
        base={**DIGITS_16, "optimizer": "sgd", "learning_rate": 0.01, "epochs": 5},
        runs=(LessonRun("SGD (0.01)", {}),
              LessonRun("momentum 0.9 (0.01)", {"optimizer_options.momentum": 0.9}),
              LessonRun("Nesterov (0.01)", {"optimizer_options.momentum": 0.9,
                                            "optimizer_options.nesterov": True}),
              LessonRun("RMSprop (0.001)", {"optimizer": "rmsprop", "learning_rate": 0.001}),
              LessonRun("Adam (0.001)", {"optimizer": "adam", "learning_rate": 0.001})),
        varies=("optimizer", "learning_rate", "optimizer_options.momentum",
                "optimizer_options.nesterov"),
        chart="curves",
        look_for="Plain SGD's loss hardly leaves 2.3; momentum and Nesterov follow a little "
                 "later than RMSprop and Adam, which fall within the first two epochs.",
        measure=Measure("final_loss", better="Adam (0.001)", worse="SGD (0.01)"),
        scale=f"{DIGITS_SCALE}, small convnet, 5 epochs, 5 runs",
        measured="final training loss over seeds 0-2: SGD 2.297 +- 0.001, momentum 2.26, Nesterov "
                 "2.26, RMSprop 0.55 +- 0.02, Adam 0.36 +- 0.06; 51 to 52 s for the five (machine "
                 "under load).",
    ),
    Lesson(
        name="vanishing_gradients",
        title="Vanishing gradients",
        claim="In a deep network of sigmoid units the gradient shrinks layer by layer on its "
              "way back, so the first layers barely learn; ReLU units with He initialization "
              "keep it flowing, and batch norm brings it back to the sigmoid network.",
        question="A 10-layer network with sigmoid units and N(0, 1) weights, with sigmoid "
                 "units and Glorot weights, with ReLU units and He weights, and the first one "
                 "again with batch norm after every layer. In which will the first layers' "
                 "gradients be darkest in the heatmap?",
        base={**DIGITS_16, "architecture": "deep_plain", "optimizer": "adam",
              "learning_rate": 0.001, "epochs": 6},
        runs=(LessonRun("sigmoid, N(0, 1)", {"tricks.activation": "sigmoid",
                                             "tricks.initializer": "standard_normal"}),
              LessonRun("sigmoid, Glorot", {"tricks.activation": "sigmoid",
                                            "tricks.initializer": "glorot_uniform"}),
              LessonRun("ReLU, He", {"tricks.activation": "relu",
                                     "tricks.initializer": "he_normal"}),
              # Batch norm after every layer, dense ones included (tricks.batch_norm_dense):
              # with conv batch norm alone this network's seven dense layers still lost the
              # gradient (log10 ratio -1.74 with it, -1.66 without; seed 0).
              LessonRun("sigmoid, N(0, 1), batch norm", {"tricks.activation": "sigmoid",
                                                         "tricks.initializer": "standard_normal",
                                                         "tricks.batch_norm": True,
                                                         "tricks.batch_norm_dense": True})),
        varies=("tricks.activation", "tricks.initializer", "tricks.batch_norm",
                "tricks.batch_norm_dense"),
        chart="gradients",
        look_for="The sigmoid runs' heatmaps turn dark towards the input (top rows), darkest "
                 "with Glorot's small weights, and the 'vanishing gradients' alert fires; "
                 "ReLU + He stays bright from input to output, and so does the sigmoid "
                 "network once batch norm rescales every layer.",
        measure=Measure("gradient_ratio_log10", better="ReLU, He", worse="sigmoid, N(0, 1)"),
        scale=f"{DIGITS_SCALE}, the deep plain network (10 layers), Adam, 6 epochs, 4 runs",
        measured="log10 of the first-to-last gradient ratio over seeds 0-2 (2026-12-08): sigmoid "
                 "N(0, 1) -2.3 +- 0.6, sigmoid Glorot -5.9 +- 0.2, ReLU He -0.28 +- 0.16, sigmoid "
                 "N(0, 1) with batch norm -0.25 +- 0.11; 17 to 21 s for the four.",
    ),
    Lesson(
        name="batch_norm_learning_rate",
        title="Batch norm allows a larger learning rate",
        claim="Batch normalization keeps each layer's inputs in range, so the same network "
              "trains at a learning rate that throws it off without it.",
        question="The same network and plain SGD at a learning rate of 0.5, ten times the "
                 "'about right' of the learning-rate lesson, without and with batch norm. "
                 "Which one learns?",
        base={**DIGITS_16, "optimizer": "sgd", "learning_rate": 0.5, "batch_size": 8,
              "epochs": 8},
        runs=(LessonRun("without batch norm", {}),
              LessonRun("with batch norm", {"tricks.batch_norm": True})),
        varies=("tricks.batch_norm",),
        chart="curves",
        look_for="Without batch norm the loss never leaves 2.3 and the accuracy stays at "
                 "chance (10%); with it the loss jumps in the first epoch, then falls, and "
                 "the accuracy climbs.",
        measure=Measure("final_accuracy", better="with batch norm", worse="without batch norm"),
        scale=f"{DIGITS_SCALE}, small convnet, SGD 0.5, batches of 8, 8 epochs, 2 runs",
        measured="final training accuracy over seeds 0-2: without batch norm 7.2 +- 1.1%, with "
                 "batch norm 76.8 +- 4.0%; 50 to 74 s for the two (machine under load).",
    ),
    Lesson(
        name="overfitting",
        title="Overfitting, and what dropout, L2, augmentation and early stopping do",
        claim="On a small training set a network learns it by heart: training accuracy "
              "reaches 100% while validation stays behind. Augmentation and dropout close "
              "part of that gap; L2 shrinks the weights; early stopping keeps the best "
              "epoch instead of the last.",
        question="Trained on only 100 images for 24 epochs: how far apart will training and "
                 "validation accuracy end, and which trick closes the gap most?",
        base={**DIGITS_16, "train_size": 100, "epochs": 24, "batch_size": 25},
        runs=(LessonRun("no regularization", {}),
              LessonRun("dropout 0.5", {"tricks.dropout_rate": 0.5}),
              LessonRun("L2 0.001", {"tricks.l2": 0.001}),
              LessonRun("augmentation", {"augmentation.rotation_range": 15.0,
                                         "augmentation.width_shift_range": 0.15,
                                         "augmentation.height_shift_range": 0.15,
                                         "augmentation.zoom_range": 0.15}),
              LessonRun("early stopping", {"early_stopping.enabled": True,
                                           "early_stopping.patience": 3})),
        varies=("tricks.dropout_rate", "tricks.l2", "augmentation.", "early_stopping."),
        chart="gap",
        look_for="The shaded gap between the training and validation curves: widest without "
                 "regularization, narrowest with augmentation; early stopping ends where "
                 "validation loss stopped falling.",
        measure=Measure("accuracy_gap", better="augmentation", worse="no regularization"),
        scale="digits at 16x16 px, 100 training and 288 validation images, small convnet, "
              "Adam, 24 epochs, 5 runs",
        measured="train - validation accuracy over seeds 0-2: no regularization 12.2 +- 1.6 "
                 "points, dropout 5.0 +- 5.2, L2 11.6 +- 3.4, augmentation -8.9 +- 4.7, early "
                 "stopping 10.8 +- 1.8; 43 to 52 s for the five (machine under load).",
    ),
    Lesson(
        name="skip_connections",
        title="Skip connections: plain against residual",
        claim="Stacking more plain layers makes a network harder to train, not just to "
              "generalize: its training loss ends higher (degradation). The same network "
              "with shortcut connections trains easily.",
        question="A 20-layer plain network and its residual twin (ResNet-20), the same in "
                 "every layer but the shortcuts. Which ends with the lower training loss?",
        base={**DIGITS_16, "architecture": "plain20", "epochs": 5},
        runs=(LessonRun("plain 20 layers", {}),
              LessonRun("residual 20 layers", {"architecture": "resnet20"})),
        varies=("architecture",),
        chart="curves",
        look_for="The plain network's training loss (dashed) stays at 2.3, chance, while the "
                 "residual one's falls from the third epoch on; on Compare's Gradients tab the "
                 "plain network's first layers get a millionth of the last one's gradient.",
        measure=Measure("final_loss", better="residual 20 layers", worse="plain 20 layers"),
        scale=f"{DIGITS_SCALE}, ResNet-20 and its plain twin, Adam, 5 epochs, 2 runs",
        measured="final training loss over seeds 0-2: plain 2.303 +- 0.000 (chance), residual 0.92"
                 " +- 0.48; 151 to 258 s for the two on a machine under heavy load (load average "
                 "11), so the 3-minute target waits for a quiet run.",
    ),
    Lesson(
        name="transfer",
        title="Transfer learning: from another data set, against from scratch",
        claim="A network trained on many images of another kind (Fashion-MNIST's clothes) "
              "has learned edges and strokes that serve a new task too: started from its "
              "weights, a network that sees only 50 digits learns them better than one "
              "trained from scratch. Feature extraction trains only a new head; "
              "fine-tuning also adapts the top of the base.",
        question="Only 50 training digits. From scratch, or from a network trained on "
                 "clothes (its head replaced), frozen or fine-tuned: which reaches the "
                 "highest validation accuracy?",
        base={**DIGITS_16, "train_size": 20, "batch_size": 5, "epochs": 12},
        runs=(LessonRun("source: Fashion-MNIST", {"dataset": "fashion_mnist",
                                                  "train_size": 6000, "batch_size": 32,
                                                  "epochs": 3}, source=True),
              LessonRun("from scratch", {}),
              LessonRun("feature extraction", {"transfer.mode": "feature_extraction"},
                        starts_from="source: Fashion-MNIST"),
              LessonRun("fine-tuning", {"transfer.mode": "fine_tune",
                                        "transfer.fine_tune_layers": 20,
                                        "transfer.learning_rate_factor": 1.0},
                        starts_from="source: Fashion-MNIST")),
        varies=("transfer.",),
        chart="curves",
        look_for="The source run trains first, on 3,000 clothes; then the three digit runs. "
                 "The runs that start from its weights climb in validation accuracy from the "
                 "first epochs, above the run from scratch.",
        measure=Measure("final_val_accuracy", better="fine-tuning", worse="from scratch"),
        scale="Fashion-MNIST at 16x16 px, 3,000 images, 3 epochs, as the source; then digits "
              "at 16x16 px, 50 training and 288 validation images, small convnet, Adam, "
              "12 epochs, 3 runs",
        measured="final validation accuracy, seed 0: from scratch 67.0%, feature extraction "
                 "50.0%, fine-tuning 69.4% (all six runs 387 s, machine under heavy load). A "
                 "first design (50 digits, source of 3,000 images, top 4 layers fine-tuned) "
                 "gave 72.6% from scratch against 71.9% fine-tuned.",
        needs="fashion_mnist",
        caveat="On this machine the effect is small (2.4 points, one seed) and not yet "
               "shown to exceed the noise between seeds, and the lesson took longer than 3 "
               "minutes: clothes teach digits little at this scale. Treat it as an open "
               "experiment, not a demonstration.",
    ),
    Lesson(
        name="schedules",
        title="Learning-rate schedules: constant, step, cosine, one-cycle",
        claim="A constant rate large enough to learn fast keeps bouncing at the end; "
              "lowering it over time (step, cosine) settles into a lower loss. One-cycle "
              "first warms up from a 25th of the rate, which in a run this short may leave "
              "it on the starting plateau.",
        question="SGD with momentum at 0.1: constant, halved every 2 epochs, cosine, "
                 "one-cycle. Which ends lowest?",
        base={**DIGITS_16, "optimizer": "sgd", "learning_rate": 0.1,
              "optimizer_options.momentum": 0.9, "epochs": 8},
        runs=(LessonRun("constant", {}),
              LessonRun("step (x0.5 every 2 epochs)", {"schedule.kind": "step",
                                                       "schedule.step_size": 2}),
              LessonRun("cosine", {"schedule.kind": "cosine"}),
              LessonRun("one-cycle", {"schedule.kind": "one_cycle"})),
        varies=("schedule.",),
        chart="curves",
        look_for="The learning-rate panel shows each schedule; the constant run's loss stays "
                 "ragged while step and cosine flatten out lower; one-cycle varies most from "
                 "seed to seed, as its warm-up leaves the plateau early or late.",
        measure=Measure("final_loss", better="cosine", worse="constant"),
        scale=f"{DIGITS_SCALE}, small convnet, 8 epochs, 4 runs",
        measured="final training loss over seeds 0-2: constant 1.07 +- 0.31, step 0.15 +- 0.01, "
                 "cosine 0.29 +- 0.03, one-cycle 0.90 +- 0.86; 32 to 42 s for the four (machine "
                 "under load).",
    ),
    Lesson(
        name="initialization",
        title="Weight initialization: N(0, 1), Glorot, He",
        claim="With ReLU units, weights drawn from N(0, 1) make activations and gradients "
              "explode from layer to layer; Glorot's scale, made for tanh and sigmoid, lets "
              "a ReLU signal shrink; He's, made for ReLU, keeps it in range.",
        question="The same 10-layer ReLU network with N(0, 1), Glorot and He weights. Which "
                 "starts with the highest loss, and which learns?",
        base={**DIGITS_16, "architecture": "deep_plain", "optimizer": "sgd",
              "learning_rate": 0.01, "optimizer_options.momentum": 0.9, "epochs": 6,
              "tricks.activation": "relu"},
        runs=(LessonRun("N(0, 1)", {"tricks.initializer": "standard_normal"}),
              LessonRun("Glorot", {"tricks.initializer": "glorot_uniform"}),
              LessonRun("He", {"tricks.initializer": "he_normal"})),
        varies=("tricks.initializer",),
        chart="curves",
        look_for="N(0, 1) starts with a loss far above 2.3 and never learns; Glorot starts at "
                 "chance (2.3) but its ReLU signal shrinks layer by layer and it is still on "
                 "that plateau after 6 epochs; He, scaled for ReLU, leaves it and falls.",
        measure=Measure("final_loss", better="He", worse="N(0, 1)"),
        scale=f"{DIGITS_SCALE}, the deep plain network, SGD with momentum 0.01, 6 epochs, 3 runs",
        measured="final training loss over seeds 0-2: N(0, 1) 2.303 +- 0.000, Glorot 2.29 +- 0.02,"
                 " He 1.77 +- 0.26; 21 to 28 s for the three (machine under load).",
    ),
)

BY_NAME = {lesson.name: lesson for lesson in LESSONS}


def get_lesson(name: str) -> Lesson:
    """The lesson called `name`."""
    if name not in BY_NAME:
        raise ValueError(f"Unknown lesson. Expected one of {sorted(BY_NAME)}. Received: {name!r}.")
    return BY_NAME[name]

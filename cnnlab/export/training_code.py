"""`train.py`'s model, optimizer, schedule, callbacks and training loop, as the run had them.

The rate comes from `make_learning_rate` and the optimizer from `make_optimizer`, the very
objects a run trains with, written back as Keras code; the lab's own schedule classes are
copied into the script.
"""

from __future__ import annotations

import textwrap

from cnnlab.export.source import call, class_source, function, section

# The bundle's file with the model's `to_json()`, from which the script builds the network.
ARCHITECTURE_FILE = "architecture.json"


def model_section(config, num_outputs, transfer) -> str:
    from cnnlab.schedules import make_learning_rate, schedule_callbacks

    parts = []
    steps = config.planned_train_count()
    steps_per_epoch = -(-steps // config.batch_size)
    rate, classes = _learning_rate_code(make_learning_rate(config, steps_per_epoch))
    if classes:
        parts.append("from keras import ops\n\nschedules = keras.optimizers.schedules")
    for cls in classes:
        parts.append(class_source(cls))
    body = ["\"\"\"The run's architecture with fresh weights: every layer starts from its initializer.\"\"\"",
            f'model = keras.models.model_from_json((HERE / "{ARCHITECTURE_FILE}").read_text())']
    if transfer:
        body += ["# The run fine-tuned pretrained weights; from scratch, every layer trains.",
                 "for layer in model.layers:",
                 "    layer.trainable = True"]
    body.append("return model")
    parts.append("def build_model():\n" + textwrap.indent("\n".join(body), "    "))
    parts.append(function("make_optimizer", f"""
        \"\"\"{config.optimizer} as the run had it; the learning rate follows the schedule.\"\"\"
        learning_rate = {rate}
        return {_optimizer_code(config, "        ")}""", "steps_per_epoch"))
    callbacks = ["keras.callbacks.TerminateOnNaN()"]
    for callback in schedule_callbacks(config):  # ReduceLROnPlateau for "plateau"
        callbacks.append(call("keras.callbacks.ReduceLROnPlateau", [
            f"monitor={callback.monitor!r}", f"factor={callback.factor!r}",
            f"patience={callback.patience!r}", f"min_lr={callback.min_lr!r}"], "    "))
    early = config.early_stopping
    if early.enabled:
        mode = "max" if early.monitor.endswith("accuracy") else "min"
        callbacks.append(call("keras.callbacks.EarlyStopping", [
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
    return section("model, optimizer, schedule, callbacks", parts)


def main_section(config, num_outputs) -> str:
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
                loss=LOSS_CODE,
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            )
            validation = None if x_val is None else evaluation_dataset(x_val, y_val)
            history = model.fit(train, epochs=arguments.epochs, validation_data=validation, shuffle=False,
                                verbose=2, callbacks=make_callbacks(validation))
            _, test_accuracy = model.evaluate(evaluation_dataset(x_test, y_test), verbose=0)
            """
        fit = fit.replace("LOSS_CODE", _loss_code(config))
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
    return section("training", [function("main", body, "argv=()"),
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


def _loss_code(config) -> str:
    """The run's loss (`cnnlab.training.train_step.make_loss`) as a constructor call.

    The sigmoid head's model (architecture.json) already ends in the two columns (1 - p, p),
    so binary cross-entropy on them is binary cross-entropy on p, as in the run.
    """
    from cnnlab.training.train_step import make_loss

    loss = make_loss(config)
    return f"keras.losses.{type(loss).__name__}(label_smoothing={config.label_smoothing!r})"


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
        return (call("PerEpoch", [inner, "steps_per_epoch=steps_per_epoch"], indent),
                [*classes, PerEpoch])
    if isinstance(rate, LinearWarmup):
        return (f"LinearWarmup({rate.learning_rate!r}, warmup_steps={rate.warmup_steps!r})",
                [LinearWarmup])
    cls = type(rate)
    if getattr(keras.optimizers.schedules, cls.__name__, None) is not cls:
        raise ValueError(  # a schedule added to cnnlab.schedules without an export path
            f"Cannot write the learning-rate schedule {cls.__name__} as Keras code. Expected a "
            "float, a keras.optimizers.schedules class, PerEpoch or LinearWarmup. "
            f"Received: {rate!r}. Teach cnnlab.export.script._learning_rate_code about it."
        )
    arguments = [f"{key}={value!r}" for key, value in rate.get_config().items()]
    return call(f"keras.optimizers.schedules.{cls.__name__}", arguments, indent), []


def _optimizer_code(config, indent: str) -> str:
    """The optimizer's constructor call, its learning rate the variable `learning_rate`."""
    from cnnlab.training.optimizers import make_optimizer, optimizer_parameters

    cls = type(make_optimizer(config))
    options = config.optimizer_options
    arguments = ["learning_rate=learning_rate"]
    arguments += [f"{name}={getattr(options, name)!r}" for name in optimizer_parameters(config.optimizer)]
    arguments += [f"{name}={getattr(options, name)!r}" for name in ("clipnorm", "clipvalue")
                  if getattr(options, name) is not None]
    return call(f"keras.optimizers.{cls.__name__}", arguments, indent)

"""The sigmoid head's probability as two class columns, (1 - p, p).

Why: a binary network ends in one sigmoid unit p = P(class 1), trained with binary
cross-entropy (the lectures' cats-vs-dogs model). Every reader of a run (the validation
loss and accuracy, the confusion matrix, top-k, stored predictions, ensembles) works on one
probability column per class. Two parameter-free Keras layers turn p into (1 - p, p), so
the model keeps the sigmoid unit and its parameter count, and its output reads like a
softmax's. Binary cross-entropy on the two columns, averaged over them, equals binary
cross-entropy on p (each column's term is the same -[y log p + (1 - y) log(1 - p)]), and
the argmax of the two columns is p > 0.5.
"""

from __future__ import annotations

import keras


def as_class_probabilities(model: keras.Model) -> keras.Model:
    """`model` with each one-unit output p replaced by the two columns (1 - p, p).

    Outputs with more than one unit (a softmax) pass unchanged. The layers are Keras' own
    (Rescaling with scale -1 and offset 1, then Concatenate), so the model saves, loads and
    exports as JSON with no code of the lab's.

    Args:
        model: a built Functional model whose outputs are probabilities.
    """
    outputs = []
    for index, output in enumerate(model.outputs):
        if output.shape[-1] != 1:
            outputs.append(output)
            continue
        suffix = "" if index == 0 else f"_{index}"
        negative = keras.layers.Rescaling(-1.0, offset=1.0, name=f"class0_probability{suffix}")(output)
        outputs.append(keras.layers.Concatenate(name=f"class_probabilities{suffix}")([negative, output]))
    single = len(outputs) == 1
    return keras.Model(model.inputs, outputs[0] if single else outputs, name=model.name)

"""LeNet-5, the convolutional network that read handwritten digits.

Paper: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
document recognition", Proceedings of the IEEE 86(11):2278-2324, 1998.

This is the variant taught today, not a literal copy: the paper's subsampling layers had a
trainable coefficient and bias, C3 connected to only some of S2's maps, and the output was
a layer of Euclidean RBF units. Here S2 and S4 are plain 2x2 average pools, C3 sees every
map and the output is a softmax. C5 is a dense layer over the flattened S4 maps, which for a
5x5 map is the same as the paper's 5x5 convolution. For 32x32x1 inputs and 10 classes it
has 61,706 parameters.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# The paper's input size; smaller images (28x28 MNIST) get "same" padding in C1, which
# gives the paper's 28x28 C1 maps for MNIST digits.
PAPER_INPUT_SIZE = 32
# C3 keeps the paper's "valid" 5x5 convolution only while S2's maps are at least this
# large, so that S4 still has a 3x3 map or more; smaller maps get "same" padding.
MIN_VALID_C3_SIZE = 10


def build_lenet5(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
) -> keras.Model:
    """Build LeNet-5: C1 6@5x5 -> S2 -> C3 16@5x5 -> S4 -> C5 120 -> F6 84 -> output.

    Activations are tanh, as in the paper (LeCun used a scaled tanh). The tricks enter
    through the shared blocks: batch normalization after C1 and C3, dropout in front of
    C5 and F6, L2 on every kernel.

    Padding rule: C1 is "valid" for images of at least 32 pixels (the paper) and "same"
    below (the usual 28x28 MNIST variant); C3 is "valid" while its input is at least 10
    pixels and "same" below, so the network still builds for 8x8 images.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit for a binary problem.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    tricks = blocks.resolve_tricks(tricks)
    side = min(input_shape[:2])
    c1_padding = "valid" if side >= PAPER_INPUT_SIZE else "same"
    c1_side = side - 4 if c1_padding == "valid" else side
    c3_padding = "valid" if c1_side // 2 >= MIN_VALID_C3_SIZE else "same"

    inputs = keras.Input(shape=input_shape, name="input")
    # C1 and S2.
    x = blocks.conv_block(
        inputs, 6, 5, name="block1_conv1", tricks=tricks, padding=c1_padding, activation="tanh"
    )
    x = blocks.pool(x, name="block1_pool", tricks=tricks, kind="average")
    # C3 and S4.
    x = blocks.conv_block(
        x, 16, 5, name="block2_conv1", tricks=tricks, padding=c3_padding, activation="tanh"
    )
    x = blocks.pool(x, name="block2_pool", tricks=tricks, kind="average")
    # C5 and F6.
    x = blocks.flatten(x)
    x = blocks.dense_block(x, 120, name="fc1", tricks=tricks, activation="tanh")
    x = blocks.dense_block(x, 84, name="fc2", tricks=tricks, activation="tanh")
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="lenet5")

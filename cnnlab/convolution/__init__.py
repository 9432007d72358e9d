"""The convolution explorer's engine: kernels, their application, and the arithmetic of a layer.

`arithmetic` holds the formulas (output size, parameters, multiply-adds, receptive field)
that `cnnlab.models.summary` uses too; `kernels` the named kernels of lecture 004; `apply`
runs one kernel and one pooling window over a grey image in numpy, as Keras' Conv2D and
pooling layers do.
"""

from cnnlab.convolution.apply import apply_kernel, pool, to_grey
from cnnlab.convolution.arithmetic import (
    PADDINGS,
    POOLINGS,
    LayerStep,
    OutputSize,
    conv_macs,
    conv_params,
    output_size,
    receptive_field,
)
from cnnlab.convolution.kernels import KERNELS, kernel_named, validate_kernel

__all__ = ["KERNELS", "PADDINGS", "POOLINGS", "LayerStep", "OutputSize", "apply_kernel", "conv_macs",
           "conv_params", "kernel_named", "output_size", "pool", "receptive_field", "to_grey",
           "validate_kernel"]

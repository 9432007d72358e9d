"""Model architectures: a lazy registry, shared building blocks, one module per family.

Importing this package does not import Keras or TensorFlow, so listing architectures stays
cheap; `build_model` imports the chosen builder when it is called.
"""

from cnnlab.models.build import build_model
from cnnlab.models.info import ArchitectureInfo
from cnnlab.models.registry import ARCHITECTURES, architecture_names, get_architecture

__all__ = [
    "ARCHITECTURES",
    "ArchitectureInfo",
    "architecture_names",
    "build_model",
    "get_architecture",
]

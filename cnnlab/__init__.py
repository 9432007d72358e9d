"""cnnlab: an interactive lab for the training tricks of convolutional networks."""

__version__ = "0.1.0"

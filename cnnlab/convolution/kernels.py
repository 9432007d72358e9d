"""The classic hand-made kernels of lecture 004, and the check a user's own kernel must pass.

These are the filters image processing used before learned ones; a CNN's first layer
learns kernels that look much like them (edges, blobs), which is what the explorer shows.
"""

from __future__ import annotations

import numpy as np

KERNELS: dict[str, np.ndarray] = {
    "Identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32),
    "Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
    "Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
    "Blur (box 3x3)": np.full((3, 3), 1 / 9, np.float32),
    "Gaussian blur 5x5": (np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256).astype(np.float32),
    "Sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
    "Emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32),
    "Outline": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
}
CUSTOM_SIDES = (3, 5)
# A cap that keeps a typo (1e30) from turning the feature map into infinities.
MAX_WEIGHT = 1000.0


def kernel_named(name: str) -> np.ndarray:
    """A copy of the named kernel."""
    if name not in KERNELS:
        raise ValueError(f"Unknown kernel. Expected one of {list(KERNELS)}. Received: {name!r}.")
    return KERNELS[name].copy()


def validate_kernel(values) -> np.ndarray:
    """A user's kernel as a float32 square array of side 3 or 5, or a ValueError saying why not.

    Empty cells (None, NaN) are refused rather than taken as 0: the user should see what
    the explorer computes with.
    """
    try:
        kernel = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("Invalid kernel. Expected numbers in every cell. Received: "
                         f"{values!r}. Type a number (0 for none) in each cell.") from None
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] not in CUSTOM_SIDES:
        raise ValueError(f"Invalid kernel shape. Expected 3x3 or 5x5. Received: {kernel.shape}.")
    if not np.isfinite(kernel).all():
        raise ValueError("Invalid kernel. Expected a number in every cell. Received an empty or "
                         "non-finite cell. Type a number (0 for none) in each cell.")
    if np.abs(kernel).max() > MAX_WEIGHT:
        raise ValueError(f"Invalid kernel weight. Expected values between -{MAX_WEIGHT:g} and "
                         f"{MAX_WEIGHT:g}. Received: {np.abs(kernel).max():g}.")
    return kernel.astype(np.float32)

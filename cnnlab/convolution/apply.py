"""One kernel and one pooling window run over a grey image in numpy, exactly as Keras would.

Why numpy and not a Conv2D: the explorer must answer instantly, and importing TensorFlow
takes seconds. Keras' Conv2D computes a cross-correlation (the kernel is not flipped) and
pads "same" with zeros, fewer before than after; tests/test_convolution.py checks this
module against keras.layers.Conv2D, MaxPooling2D and AveragePooling2D.
"""

from __future__ import annotations

import numpy as np

from cnnlab.convolution.arithmetic import (
    POOLINGS,
    check_padding,
    check_stride_dilation,
    output_size,
)

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def to_grey(image: np.ndarray) -> np.ndarray:
    """An (H, W), (H, W, 1) or (H, W, 3) image as an (H, W) float32 grey image (ITU-R 601 luma)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[2] == 3:
        return image @ LUMA_WEIGHTS
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 2:
        return image
    raise ValueError(f"Invalid `image`. Expected shape (H, W), (H, W, 1) or (H, W, 3). Received: {image.shape}.")


def _windows(padded: np.ndarray, k: int, stride: int, dilation: int, out_h: int, out_w: int) -> np.ndarray:
    """(out_h, out_w, k, k) views of the windows each output reads."""
    rows = np.arange(out_h)[:, None] * stride + np.arange(k)[None, :] * dilation  # (out_h, k)
    cols = np.arange(out_w)[:, None] * stride + np.arange(k)[None, :] * dilation
    return padded[rows[:, None, :, None], cols[None, :, None, :]]


def apply_kernel(image: np.ndarray, kernel: np.ndarray, *, padding: str = "valid", stride: int = 1,
                 dilation: int = 1) -> np.ndarray:
    """The feature map of one square kernel over a grey (H, W) image, as Conv2D computes it.

    Args:
        image: (H, W) float array.
        kernel: (k, k) float array; not flipped (cross-correlation, as in every CNN library).
        padding: "valid" or "same"; defaults to "valid".
        stride: defaults to 1.
        dilation: defaults to 1; cannot exceed 1 together with a stride above 1.
    """
    image, kernel = np.asarray(image, np.float32), np.asarray(kernel, np.float32)
    if image.ndim != 2:
        raise ValueError(f"Invalid `image`. Expected a grey (H, W) array. Received shape {image.shape}.")
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"Invalid `kernel`. Expected a square (k, k) array. Received shape {kernel.shape}.")
    check_padding(padding)
    check_stride_dilation(stride, dilation)
    k = kernel.shape[0]
    height = output_size(image.shape[0], k, padding=padding, stride=stride, dilation=dilation)
    width = output_size(image.shape[1], k, padding=padding, stride=stride, dilation=dilation)
    if height.size == 0 or width.size == 0:
        return np.zeros((height.size, width.size), np.float32)
    padded = np.pad(image, ((height.pad_before, height.pad_after), (width.pad_before, width.pad_after)))
    windows = _windows(padded, k, stride, dilation, height.size, width.size)
    return np.einsum("hwij,ij->hw", windows, kernel, dtype=np.float64).astype(np.float32)


def pool(feature_map: np.ndarray, *, kind: str = "max", pool_size: int = 2, stride: int | None = None,
         padding: str = "valid") -> np.ndarray:
    """Max or average pooling of an (H, W) map, as MaxPooling2D / AveragePooling2D compute it.

    With "same" padding the padded cells are left out (TensorFlow's rule): a border
    average divides by the cells inside the image only.

    Args:
        kind: "max" or "average"; defaults to "max".
        pool_size: the window's side; defaults to 2.
        stride: defaults to the window's side (Keras' default).
        padding: "valid" or "same"; defaults to "valid".
    """
    if kind not in POOLINGS:
        raise ValueError(f"Unknown pooling `kind`. Expected one of {list(POOLINGS)}. Received: {kind!r}.")
    feature_map = np.asarray(feature_map, np.float32)
    stride = pool_size if stride is None else stride
    height = output_size(feature_map.shape[0], pool_size, padding=padding, stride=stride)
    width = output_size(feature_map.shape[1], pool_size, padding=padding, stride=stride)
    if height.size == 0 or width.size == 0:
        return np.zeros((height.size, width.size), np.float32)
    padded = np.pad(feature_map, ((height.pad_before, height.pad_after), (width.pad_before, width.pad_after)),
                    constant_values=np.nan)
    windows = _windows(padded, pool_size, stride, 1, height.size, width.size)
    reduce = np.nanmax if kind == "max" else np.nanmean
    return reduce(windows, axis=(2, 3)).astype(np.float32)

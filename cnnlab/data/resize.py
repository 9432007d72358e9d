"""Resizing batches of images with Pillow's bilinear filter."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize NHWC images to `size`×`size`, keeping their dtype.

    Why Pillow rather than `tf.image.resize`: it needs no TensorFlow import (so the
    embedded data sets load in a fraction of a second), it antialiases when shrinking,
    and going one image at a time bounds the extra memory to a single image whatever
    the batch size. uint8 images are resized as uint8 (L or RGB), float32 images channel
    by channel in Pillow's 32-bit float mode, so [0, 1] values are not quantized.

    Args:
        images: an array of shape `(N, H, W, C)`, uint8 or float32.
        size: the new side length in pixels.
    """
    count, height, width, channels = images.shape
    if (height, width) == (size, size):
        return images
    resized = np.empty((count, size, size, channels), dtype=images.dtype)
    if images.dtype == np.uint8 and channels in (1, 3):
        for i in range(count):
            picture = Image.fromarray(images[i, :, :, 0] if channels == 1 else images[i])
            picture = picture.resize((size, size), Image.Resampling.BILINEAR)
            resized[i] = np.asarray(picture).reshape(size, size, channels)
        return resized
    for i in range(count):
        for channel in range(channels):
            plane = Image.fromarray(np.ascontiguousarray(images[i, :, :, channel], np.float32))
            plane = plane.resize((size, size), Image.Resampling.BILINEAR)
            resized[i, :, :, channel] = np.asarray(plane)
    return resized

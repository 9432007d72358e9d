"""How well a heatmap points at the object: the share of its mass inside a box.

Why: a Grad-CAM that looks at the background tells a student the network learned the
wrong thing, and it is the one claim about Grad-CAM the lab can check on its own data: the
shapes data set knows where each shape is (`cnnlab.data.shapes.shape_boxes`). A heatmap
spread evenly would put the box's share of the area inside it: that is the baseline.
"""

from __future__ import annotations

import numpy as np


def mass_inside(heatmap: np.ndarray, box) -> float:
    """The share of the heatmap's sum inside `box` (top, left, bottom, right; the bottom
    and right exclusive); the box's area share when the heatmap is all zero."""
    top, left, bottom, right = (int(value) for value in box)
    total = float(np.sum(heatmap))
    if total <= 0:
        return area_share(heatmap.shape, box)
    return float(np.sum(heatmap[top:bottom, left:right])) / total


def area_share(shape, box) -> float:
    """The box's share of an image of `shape` (height, width, ...): a uniform map's mass."""
    top, left, bottom, right = (int(value) for value in box)
    return (bottom - top) * (right - left) / float(shape[0] * shape[1])


def grad_cam_localization(model, images: np.ndarray, boxes: np.ndarray, *,
                          layer_name: str | None = None) -> tuple[float, float]:
    """(mean Grad-CAM mass inside each image's box, mean box area share: the uniform
    baseline), Grad-CAM for the predicted class at `layer_name` (default: the default)."""
    from cnnlab.inspect.views import grad_cam

    inside = [mass_inside(grad_cam(model, image, layer_name=layer_name)[0], box)
              for image, box in zip(images, boxes)]
    uniform = [area_share(image.shape, box) for image, box in zip(images, boxes)]
    return float(np.mean(inside)), float(np.mean(uniform))

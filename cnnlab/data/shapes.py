"""A synthetic RGB data set of geometric shapes, drawn by the lab itself.

Why: it needs no download, comes in any size and count, and its difficulty is easy to
reason about in a classroom (position, scale, rotation and colour vary; the class is the
outline alone), which makes it a good bench for augmentation and architecture tricks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SHAPE_NAMES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "hexagon",
    "heart",
)

# Shapes are drawn this many times larger, then box-filtered down: cheap antialiasing.
_SUPERSAMPLE = 4
# Above this drawing side the supersampling factor shrinks, to keep large images fast.
_MAX_DRAW_SIDE = 512
# Shape radius as a fraction of the image side: small enough to move around, large
# enough to stay recognisable at 8 px.
_RADIUS_RANGE = (0.2, 0.42)
# Minimum Euclidean distance in RGB ([0, 1] per channel) between shape and background,
# so that no shape is invisible.
_MIN_CONTRAST = 0.45
_NOISE_STD = 0.04
_RING_INNER = 0.55
_CHUNK_FLOATS = 2**22
_STAR_INNER = 0.45
_CROSS_HALF_WIDTH = 0.3


def _regular_polygon(corners: int, phase: float = 0.0) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(corners) / corners
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(points: int = 5) -> np.ndarray:
    angles = -np.pi / 2 + np.pi * np.arange(2 * points) / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, _STAR_INNER)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _cross() -> np.ndarray:
    w = _CROSS_HALF_WIDTH
    outline = [(w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1)]
    outline += [(-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w), (-w, -1)]
    return np.array(outline, dtype=np.float64) / np.hypot(1, w)


def _heart(points: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    outline = np.stack([x, y], axis=1)
    outline -= (outline.max(axis=0) + outline.min(axis=0)) / 2
    return outline / np.hypot(outline[:, 0], outline[:, 1]).max()


# Outlines inside the unit circle, centred on the origin; None marks shapes drawn as
# ellipses (rotation does not change them).
_OUTLINES: dict[str, np.ndarray | None] = {
    "circle": None,
    "square": _regular_polygon(4, np.pi / 4),
    "triangle": _regular_polygon(3, -np.pi / 2),
    "star": _star(),
    "cross": _cross(),
    "ring": None,
    "hexagon": _regular_polygon(6),
    "heart": _heart(),
}
assert tuple(_OUTLINES) == SHAPE_NAMES


def _check(count, image_size) -> None:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(
            f"Invalid `count` for make_shapes. Expected an integer >= 0. Received: {count!r}."
        )
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, (int, np.integer))
        or not 8 <= image_size <= 512
    ):
        raise ValueError(
            "Invalid `image_size` for make_shapes. Expected an integer side length in "
            f"pixels from 8 to 512. Received: {image_size!r}."
        )


def _contrasting_colours(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    background = rng.uniform(0, 1, (count, 3))
    foreground = rng.uniform(0, 1, (count, 3))
    # Redraw the too-similar foregrounds; each pass keeps most, so this ends quickly.
    while True:
        dull = np.linalg.norm(foreground - background, axis=1) < _MIN_CONTRAST
        if not dull.any():
            return foreground, background
        foreground[dull] = rng.uniform(0, 1, (int(dull.sum()), 3))


def _draw_mask(shape: str, centre, radius: float, angle: float, side: int) -> Image.Image:
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = centre
    if shape in ("circle", "ring"):
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
        if shape == "ring":
            inner = radius * _RING_INNER
            draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
        return mask
    cos, sin = np.cos(angle), np.sin(angle)
    outline = _OUTLINES[shape] @ np.array([[cos, sin], [-sin, cos]]) * radius + (cx, cy)
    draw.polygon([tuple(point) for point in outline], fill=255)
    return mask


def draw_shapes(count: int, image_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Like `make_shapes`, but the images are uint8 in [0, 255]: a quarter of the memory.

    Why: the data cache keeps the shapes pool in this form, converting only the images
    a run actually uses to float32.
    """
    images, labels, _ = _draw(count, image_size, seed)
    return images, labels


def shape_boxes(count: int, image_size: int = 32, seed: int = 0) -> np.ndarray:
    """Where each shape of `draw_shapes(count, image_size, seed)` lies: its bounding box.

    Why: Grad-CAM is checked against where the shape is (cnnlab.inspect). The images are
    drawn again with the same random draws, so the boxes belong to exactly those images.

    Returns:
        int32 array (count, 4) of (top, left, bottom, right) pixel rows and columns, the
        bottom and right exclusive: every pixel the shape covers, even partly.
    """
    return _draw(count, image_size, seed)[2]


def _draw(count: int, image_size: int, seed: int):
    _check(count, image_size)
    rng = np.random.default_rng(seed)
    # Balanced classes: equal counts (within one), in shuffled order.
    labels = rng.permutation(np.arange(count) % len(SHAPE_NAMES)).astype(np.int32)
    factor = max(1, min(_SUPERSAMPLE, _MAX_DRAW_SIDE // image_size))
    side = image_size * factor
    radii = rng.uniform(*_RADIUS_RANGE, count) * side
    centres = rng.uniform(radii[:, None], side - radii[:, None], (count, 2))
    angles = rng.uniform(0, 2 * np.pi, count)
    foreground, background = _contrasting_colours(rng, count)

    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    boxes = np.zeros((count, 4), dtype=np.int32)
    # Blending in chunks bounds the float32 scratch memory to about 16 MB at any size.
    chunk = max(1, _CHUNK_FLOATS // (image_size * image_size * 3))
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        masks = np.empty((stop - start, image_size, image_size), dtype=np.uint8)
        for i in range(start, stop):
            mask = _draw_mask(SHAPE_NAMES[labels[i]], centres[i], radii[i], angles[i], side)
            # reduce() averages factor×factor blocks: exact box-filter antialiasing.
            masks[i - start] = np.asarray(mask.reduce(factor) if factor > 1 else mask)
            rows, columns = np.flatnonzero(masks[i - start].any(axis=1)), \
                np.flatnonzero(masks[i - start].any(axis=0))
            if len(rows):
                boxes[i] = (rows[0], columns[0], rows[-1] + 1, columns[-1] + 1)
        images[start:stop] = _blend(masks, foreground[start:stop], background[start:stop], rng)
    return images, labels, boxes


def _blend(masks, foreground, background, rng: np.random.Generator) -> np.ndarray:
    """Shape colour where the mask is set, background elsewhere, plus noise; as uint8."""
    # float32 throughout and in place: this blend, not the drawing, dominates the time.
    images = rng.standard_normal((*masks.shape, 3), dtype=np.float32)
    images *= _NOISE_STD
    alpha = masks[..., None].astype(np.float32) / 255
    images += background[:, None, None, :].astype(np.float32)
    images += alpha * (foreground - background)[:, None, None, :].astype(np.float32)
    np.clip(images, 0, 1, out=images)
    images *= 255
    return np.rint(images, out=images).astype(np.uint8)


def make_shapes(count: int, image_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw `count` shape images, the same ones for the same arguments.

    Each image shows one of `SHAPE_NAMES` at a random position, scale and rotation, in a
    random colour on a random, noisy background. The shape is drawn at up to 4× the
    requested side and box-filtered down, so its edges are antialiased at any size.

    Args:
        count: how many images; the classes are balanced (counts differ by at most one).
        image_size: the side length in pixels (8 to 512), drawn directly at that size.
        seed: seeds every random choice.

    Returns:
        `(x, y)`: float32 images of shape `(count, image_size, image_size, 3)` in [0, 1],
        and int32 labels indexing `SHAPE_NAMES`.
    """
    images, labels = draw_shapes(count, image_size, seed)
    return images.astype(np.float32) / 255, labels

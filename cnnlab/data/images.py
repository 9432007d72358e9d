"""Decoding photos users upload, with Pillow, treating every byte as hostile.

Why so careful: an upload can be anything, e.g. a zero-byte file, a text file renamed .jpg,
a truncated JPEG, or a 40-byte PNG whose header claims 100,000 x 100,000 pixels and would
take 30 GB to decode. `decode_image` reads only the header before checking the size,
accepts only the common photo formats (Pillow also opens formats such as EPS, which calls
Ghostscript), and turns every failure into one ValueError the page can show as it is.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnlab.data.resize import resize_images

# Pillow's names for the formats the uploader accepts. Pillow's JPEG opener also reads
# MPO, the multi-picture JPEG many phone cameras write.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
UPLOAD_TYPES = ("png", "jpg", "jpeg", "gif", "bmp", "tiff", "tif", "webp")
DEFAULT_MAX_PIXELS = 20_000_000
_EXPECTED = "Expected a PNG, JPEG, GIF, BMP, TIFF or WebP file"
# ITU-R 601-2 luma, the weights Pillow's own "L" conversion uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def _unreadable(received: str, expected: str = _EXPECTED, fix: str = "Upload another file.") -> ValueError:
    return ValueError(f"Could not read the uploaded file as an image. {expected}. "
                      f"Received: {received}. {fix}")


# Leading bytes of each accepted format, to tell a damaged photo from a file of another kind.
SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
              (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _describe(data: bytes) -> str:
    head = data[:16]
    kind = next((name for magic, name in SIGNATURES if data.startswith(magic)), None)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WebP"
    if kind:
        return f"{len(data):,} bytes that start like a {kind} file but are truncated or corrupt"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"{len(data):,} bytes of text starting {head.decode('ascii')!r}"
    return f"{len(data):,} bytes that are not an image (starting {head!r})"


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an uploaded image into an (H, W, 3) float32 RGB array in [0, 1].

    The size is checked from the header before any pixel is decoded; EXIF orientation is
    applied, so a phone photo stands the way it was taken; transparency is composited on
    white (how a viewer shows it); grey, palette, 16-bit, float and CMYK images become RGB.
    Only the first frame of an animation or multi-page file is read.

    Args:
        data: the file's bytes.
        max_pixels: the largest width x height accepted. Defaults to 20,000,000.

    Raises:
        ValueError: for empty, non-image, unsupported, truncated, corrupt or oversized
            data, with a message that says what was received and what to do.
    """
    if not data:
        raise _unreadable("an empty file (0 bytes)")
    try:
        # `formats` stops Pillow from trying any other plugin; opening reads the header only.
        # Pillow raises DecompressionBombError itself for headers over twice its own limit.
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, Image.DecompressionBombError):
            # Only the lab's words and limit: Pillow's own text ("could be decompression
            # bomb DOS attack") quotes its own limit (178,956,970), not the one that applies.
            claimed = re.search(r"\((\d+) pixels\)", str(error))
            count = f"{int(claimed.group(1)):,} pixels" if claimed else f"more than {max_pixels:,} pixels"
            raise _unreadable(f"an image whose header claims {count}, too many pixels",
                              f"{_EXPECTED} of at most {max_pixels:,} pixels",
                              "Upload a smaller image.") from None
        raise _unreadable(_describe(data)) from None
    width, height = image.size
    if width * height > max_pixels:
        raise _unreadable(f"a {image.format} of {width}x{height} pixels ({width * height:,})",
                          f"{_EXPECTED} of at most {max_pixels:,} pixels", "Upload a smaller image.")
    if width < 1 or height < 1:
        raise _unreadable(f"a {image.format} of {width}x{height} pixels")
    try:
        image.load()
    except Exception as error:  # noqa: BLE001 - Pillow signals corrupt data with many types
        raise _unreadable(f"a truncated or corrupt {image.format} file ({error})") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001, S110 - a broken EXIF block must not cost a good picture
        pass
    try:
        return to_rgb(image)
    except Exception as error:  # noqa: BLE001 - an exotic mode must end in the one message
        raise _unreadable(f"a {image.format} in the unsupported mode {image.mode!r} ({error})") from None


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode as (H, W, 3) float32 RGB in [0, 1]."""
    mode = image.mode
    if mode.startswith("I;16"):
        grey = np.asarray(image, dtype=np.float32) / 65535.0
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("I", "F"):
        return np.repeat(scale_grey(np.asarray(image, dtype=np.float64))[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.mode == "RGBA":
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb)


def scale_grey(values: np.ndarray) -> np.ndarray:
    """32-bit integer or float grey values to [0, 1].

    These modes carry no range of their own, so the usual conventions decide: values
    already in [0, 1] are kept, 8- and 16-bit ranges are divided by 255 or 65535, and
    anything else (negative, or beyond 16 bits) is stretched from its minimum to maximum.
    """
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        scaled = values
    elif low >= 0.0 and high <= 255.0:
        scaled = values / 255.0
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 65535.0
    else:
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return scaled.astype(np.float32)


def fit_image(image: np.ndarray, size: int, *, channels: int = 3) -> np.ndarray:
    """Fit an (H, W, C) image in [0, 1] to a data set's square input: (size, size, channels).

    Why crop: the lab's data sets are square, so the centre square is cut out before
    resizing rather than squashing the photo. One channel means grey, as Pillow's "L" mode
    computes it, so a photo previewed for MNIST looks as MNIST's network would see it.

    Args:
        image: float array (H, W, 1 or 3) in [0, 1].
        size: side length of the result in pixels.
        channels: 1 (grey) or 3 (RGB). Defaults to 3.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"Invalid `image`. Expected shape (H, W, 1) or (H, W, 3). Received: {image.shape}.")
    if channels not in (1, 3):
        raise ValueError(f"Invalid `channels`. Expected 1 or 3. Received: {channels!r}.")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"Invalid `size`. Expected an integer >= 1. Received: {size!r}.")
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    if channels == 1 and square.shape[2] == 3:
        square = (square @ LUMA_WEIGHTS)[:, :, None]
    elif channels == 3 and square.shape[2] == 1:
        square = np.repeat(square, 3, axis=2)
    resized = resize_images(np.ascontiguousarray(square, np.float32)[None], int(size))[0]
    return np.clip(resized, 0.0, 1.0)


def for_display(image: np.ndarray, min_side: int = 192) -> np.ndarray:
    """An image in [0, 1] as uint8, enlarged by a whole factor, pixel for pixel, for a projector.

    Why nearest: an 8 or 32 px training image smoothed by the browser looks like a blur;
    repeated pixels show exactly what the network gets. Grey images become (H, W).
    """
    image = np.asarray(image, np.float32)
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    big = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
    big = np.round(np.clip(big, 0.0, 1.0) * 255.0).astype(np.uint8)
    return big[:, :, 0] if big.ndim == 3 and big.shape[2] == 1 else big


SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"


def sample_photos() -> dict[str, Path]:
    """The bundled sample photos (licences in assets/samples/SOURCES.md), by display name."""
    return {path.stem.replace("_", " ").capitalize(): path for path in sorted(SAMPLES_DIR.glob("*.jpg"))}

"""Image files built for tests: encoded photos of random pixels, and a PNG that lies.

One place for them: the hostile-upload corpus, the decoder's tests and the page tests all
need a real JPEG or PNG, and the pixel-bomb PNG must be the same crafted file everywhere.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    """`image` as a file of `fmt` ("PNG", "JPEG", ...), with Pillow's save `options`."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png(array: np.ndarray) -> bytes:
    """An image array (uint8, H x W or H x W x 3) as a PNG file."""
    return encode(Image.fromarray(array), "PNG")


def photo(seed: int = 0, size: int = 24) -> bytes:
    """A PNG of `size` x `size` random RGB pixels."""
    return png(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def jpeg(seed: int = 3) -> bytes:
    """A 64 x 64 JPEG of random RGB pixels, quality 90."""
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "JPEG", quality=90)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming width x height, with a few bytes of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))

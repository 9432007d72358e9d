"""Decoding uploads: every Pillow mode to RGB by formula, EXIF rotation, and hostile files refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFile

from cnnlab.data.images import decode_image, fit_image, for_display, sample_photos
from tests.images import encode, jpeg, png_header_only

MESSAGE = "Could not read the uploaded file as an image"
H, W = 6, 5  # not square, so a transposed result shows


def ramp(low: int, high: int, dtype) -> np.ndarray:
    return np.linspace(low, high, H * W).reshape(H, W).astype(dtype)


def grey3(values) -> np.ndarray:
    return np.repeat(np.asarray(values, np.float64)[:, :, None], 3, axis=2)


def on_white(rgb, alpha) -> np.ndarray:
    """Alpha compositing over white, the reference: a * colour + (1 - a) * 1."""
    a = np.asarray(alpha, np.float64)[:, :, None] / 255
    return a * np.asarray(rgb, np.float64) / 255 + (1 - a)


RGB = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
ALPHA = ramp(0, 255, np.uint8)
PALETTE = np.array([[255, 0, 0], [0, 128, 255], [20, 200, 40], [250, 250, 250]], np.uint8)
INDICES = (np.arange(H * W) % 4).reshape(H, W).astype(np.uint8)
CMYK = np.random.default_rng(1).integers(0, 256, (H, W, 4), dtype=np.uint8)


def palette_image() -> Image.Image:
    image = Image.fromarray(INDICES, mode="P")
    image.putpalette(PALETTE.ravel().tolist())
    return image


# (id, encoded file, expected RGB in [0, 1], tolerance)
MODES = [
    ("RGBA-png", lambda: encode(Image.fromarray(np.dstack([RGB, ALPHA]), "RGBA"), "PNG"),
     on_white(RGB, ALPHA), 1 / 255),
    ("P-gif", lambda: encode(palette_image(), "GIF"), PALETTE[INDICES] / 255, 1e-6),
    ("P-png-transparent", lambda: encode(palette_image(), "PNG", transparency=1),
     np.where((INDICES == 1)[:, :, None], 1.0, PALETTE[INDICES] / 255), 1e-6),
    ("L-png", lambda: encode(Image.fromarray(ramp(0, 255, np.uint8), "L"), "PNG"),
     grey3(ramp(0, 255, np.uint8) / 255), 1e-6),
    ("LA-png", lambda: encode(Image.fromarray(np.dstack([ramp(0, 255, np.uint8), ALPHA[::-1]]), "LA"), "PNG"),
     on_white(np.repeat(ramp(0, 255, np.uint8)[:, :, None], 3, 2), ALPHA[::-1]), 1 / 255),
    ("I;16-png", lambda: encode(Image.fromarray(ramp(0, 65535, np.uint16)), "PNG"),  # mode I;16
     grey3(ramp(0, 65535, np.uint16) / 65535), 1e-6),
    ("I-tiff", lambda: encode(Image.fromarray(ramp(0, 60000, np.int32), "I"), "TIFF"),
     grey3(ramp(0, 60000, np.int32) / 65535), 1e-6),
    ("F-tiff", lambda: encode(Image.fromarray(ramp(0, 1, np.float32), "F"), "TIFF"),
     grey3(ramp(0, 1, np.float32)), 1e-6),
    ("CMYK-tiff", lambda: encode(Image.fromarray(CMYK, "CMYK"), "TIFF"),
     (1 - CMYK[:, :, :3] / 255) * (1 - CMYK[:, :, 3:] / 255), 1.5 / 255),
    ("1-bmp", lambda: encode(Image.fromarray(ramp(0, 255, np.uint8) > 127).convert("1"), "BMP"),
     grey3(ramp(0, 255, np.uint8) > 127), 1e-6),
    ("RGB-bmp", lambda: encode(Image.fromarray(RGB), "BMP"), RGB / 255, 1e-6),
    ("RGB-tiff", lambda: encode(Image.fromarray(RGB), "TIFF"), RGB / 255, 1e-6),
    ("RGB-webp-lossless", lambda: encode(Image.fromarray(RGB), "WEBP", lossless=True), RGB / 255, 1e-6),
    ("RGB-jpeg", lambda: encode(Image.fromarray(np.full((H, W, 3), (200, 60, 30), np.uint8)), "JPEG",
                                quality=95), np.full((H, W, 3), (200, 60, 30)) / 255, 4 / 255),
]


@pytest.mark.parametrize("make, expected, tolerance", [m[1:] for m in MODES], ids=[m[0] for m in MODES])
def test_every_mode_and_format_decodes_to_rgb(make, expected, tolerance):
    image = decode_image(make())
    assert image.shape == (H, W, 3) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_allclose(image, expected, atol=tolerance)


def test_a_transparent_png_lands_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # black, fully transparent...
    rgba[1:3, 1:3] = (0, 0, 255, 255)  # ...around an opaque blue square
    image = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.array_equal(image[0, 0], [1, 1, 1]) and np.array_equal(image[1, 1], [0, 0, 1])


def test_exif_orientation_6_is_turned_upright():
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide: red left half, blue right half
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image = decode_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    upright = np.rot90(stored, k=-1) / 255  # numpy's clockwise quarter turn: red on top
    assert image.shape == upright.shape == (40, 20, 3)
    assert np.abs(image - upright)[2:18].max() < 0.1 and np.abs(image - upright)[22:38].max() < 0.1


HOSTILE = [
    ("empty", b"", {}, "empty file"),
    ("text", b"name,score\nada,3\n", {}, "bytes of text"),
    ("random-bytes", np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes(), {},
     "not an image"),
    ("truncated-jpeg", jpeg()[:3000], {}, "truncated or corrupt JPEG"),
    ("cut-in-the-header-jpeg", jpeg()[:300], {}, "start like a JPEG file but are truncated"),
    ("pixel-bomb-100000x100000", png_header_only(100_000, 100_000), {}, "too many pixels"),
    # 25 megapixels: under Pillow's own limit, over ours; the message proves the header
    # check refused it, since decoding these 100 bytes would report a truncated file instead.
    ("header-5000x5000", png_header_only(5000, 5000), {}, "5000x5000 pixels"),
    ("over-max_pixels", jpeg(), {"max_pixels": 1000}, "at most 1,000 pixels"),
    ("unsupported-ppm", encode(Image.fromarray(RGB), "PPM"), {}, "not an image"),
]


@pytest.mark.parametrize("data, options, detail", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_files_raise_one_clear_error(data, options, detail, monkeypatch):
    # Nothing large may be decoded: every decode Pillow starts is recorded with its size
    # (a check of what happened, not of how long it took, which a busy machine stretches).
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        decoded.append(self.size[0] * self.size[1])
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(ValueError) as caught:
        decode_image(data, **options)
    message = str(caught.value)
    assert message.startswith(MESSAGE) and "Expected a PNG, JPEG, GIF, BMP, TIFF or WebP file" in message
    assert detail in message and "Received:" in message and "Upload" in message
    assert max(decoded, default=0) <= 64 * 64, f"decoded images of {decoded} pixels"
    # Only the lab's words and its limit, never Pillow's (its limit is 178,956,970 pixels).
    assert "178,956,970" not in message and "178956970" not in message and "DOS" not in message
    assert "decompression bomb" not in message


def test_a_pixel_bomb_says_what_its_header_claims_and_the_labs_limit():
    with pytest.raises(ValueError) as caught:
        decode_image(png_header_only(100_000, 100_000))
    message = str(caught.value)
    assert "claims 10,000,000,000 pixels" in message and "at most 20,000,000 pixels" in message


def test_fit_image_crops_the_centre_square_and_converts_to_luminance():
    image = np.zeros((30, 50, 3), np.float32)
    image[:, 10:40] = (0.2, 0.6, 1.0)  # the centre 30x30 square, flanked by black
    rgb = fit_image(image, 12)
    assert rgb.shape == (12, 12, 3) and np.allclose(rgb, (0.2, 0.6, 1.0), atol=1e-5)
    grey = fit_image(image, 8, channels=1)
    assert grey.shape == (8, 8, 1)
    assert np.allclose(grey, 0.299 * 0.2 + 0.587 * 0.6 + 0.114 * 1.0, atol=1e-5)
    assert fit_image(grey, 4, channels=3).shape == (4, 4, 3)
    with pytest.raises(ValueError, match="Invalid .channels."):
        fit_image(image, 8, channels=2)


def test_for_display_repeats_pixels():
    image = np.array([[[0.0], [1.0]], [[0.5], [0.25]]], np.float32)
    big = for_display(image, 8)
    assert big.shape == (8, 8) and big.dtype == np.uint8
    assert (big[:4, :4] == 0).all() and (big[:4, 4:] == 255).all() and (big[4:, :4] == 128).all()


def test_bundled_sample_photos_decode():
    photos = sample_photos()
    assert len(photos) >= 2
    for path in photos.values():
        image = decode_image(path.read_bytes())
        assert image.shape[1] <= 480 and image.shape[2] == 3

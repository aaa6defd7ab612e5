"""Photos in: read a PNG or JPEG safely and bring it to the generator's size and colour model.

The rule for any size and mode, so that a photo always means the same picture:

- PNG and JPEG only, at most ``MAX_PHOTO_BYTES`` on disk and ``MAX_PHOTO_PIXELS`` decoded; the
  header's size is checked before any pixel is decoded (a decompression bomb never expands).
- Palette, grayscale and 16-bit images become RGB; transparent pixels are composited onto white.
- A non-square photo is centre-cropped to its largest centred square (the extra columns or rows
  are dropped equally from both sides, the odd one from the right or bottom), then resized to the
  generator's resolution with a Lanczos filter (box-filtered first when shrinking, so no aliasing).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganscope.errors import GanscopeError

MAX_PHOTO_BYTES = 20 << 20
MAX_PHOTO_PIXELS = 40_000_000  # decoded width x height (a 40-megapixel camera)
FORMATS = ("PNG", "JPEG")


def read_photo(source: str | Path | bytes, size: int, argument: str = "photo") -> torch.Tensor:
    """The photo at ``source`` (a path or the file's bytes) as (3, size, size) in [-1, 1], by the module's rule."""
    data = _read_bytes(source, argument)
    return to_tensor(square(decode(data, argument), size))


def photo_digest(photo: torch.Tensor) -> str:
    """A short hash of a prepared photo's pixels: an inversion resumes only on the same picture."""
    return hashlib.sha256(photo.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def decode(data: bytes, argument: str = "photo") -> Image.Image:
    """Decode PNG or JPEG bytes into an RGB image, refusing other formats and oversized pictures."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise GanscopeError(f"{argument} declares more than {MAX_PHOTO_PIXELS:,} pixels", argument=argument) from None
    except ValueError as err:
        if "too large" in str(err).lower():  # PIL's cap on a text or colour-profile chunk (zTXt, iCCP)
            raise GanscopeError(f"{argument} is a PNG with an oversized text or colour-profile chunk",
                                argument=argument) from None
        raise GanscopeError(f"{argument} is not a PNG or JPEG image", argument=argument) from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise GanscopeError(f"{argument} is not a PNG or JPEG image", argument=argument) from None
    width, height = image.size
    if width * height > MAX_PHOTO_PIXELS:
        raise GanscopeError(f"{argument} is {width}x{height} pixels; at most {MAX_PHOTO_PIXELS:,} pixels are "
                            "accepted", argument=argument)
    if width < 1 or height < 1:
        raise GanscopeError(f"{argument} has no pixels", argument=argument)
    try:
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise GanscopeError(f"{argument} cannot be decoded: {err}", argument=argument) from None
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparency composited onto white and high bit depths scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(array / (65535 if array.max() > 255 else 255) * 255, 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def square(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to the largest centred square, then resize to ``size`` x ``size``."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side == size:
        return image
    return image.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0 if side > size else None)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB image as (3, H, W) in [-1, 1]."""
    array = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())
    return array.permute(2, 0, 1) / 127.5 - 1


def _read_bytes(source: str | Path | bytes, argument: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise GanscopeError(f"{argument} not found: {path}", argument=argument)
        if path.stat().st_size > MAX_PHOTO_BYTES:
            raise GanscopeError(f"{argument} {path} is larger than {MAX_PHOTO_BYTES >> 20} MB", argument=argument)
        data = path.read_bytes()
    if len(data) > MAX_PHOTO_BYTES:
        raise GanscopeError(f"{argument} is larger than {MAX_PHOTO_BYTES >> 20} MB", argument=argument)
    if not data:
        raise GanscopeError(f"{argument} is empty", argument=argument)
    return data

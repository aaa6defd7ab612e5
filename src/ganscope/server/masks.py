"""The original tool's masks sent by clients (bitstring or PNG data URL) as boolean arrays.

Brush strokes and pooling onto a layer's grid are the library's (``ganscope.painting``).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ganscope.errors import GanscopeError
from ganscope.server.limits import MAX_MASK_SIDE

DATA_URL = re.compile(r"^(?:data:)?image/\w+;base64,")


def decode_mask(bitstring: str, shape: Sequence[int] | None = None, bitbounds: Sequence[int] | None = None,
                default_shape: Sequence[int] = (256, 256)) -> np.ndarray:
    """The original server's ``mask`` record as a boolean array.

    ``bitstring`` is '0'/'1' characters filling the ``bitbounds`` box [y0, x0, y1, x1] row by
    row, or a PNG data URL for that box (painted = non-transparent alpha, or non-white red
    without alpha). ``shape`` defaults to the PNG's size, else ``default_shape``.
    """
    png = _png(bitstring) if DATA_URL.match(bitstring) else None
    shape = list(shape or (png.shape[:2] if png is not None else default_shape))
    if len(shape) != 2 or not all(1 <= int(s) <= MAX_MASK_SIDE for s in shape):
        raise GanscopeError(f"mask shape must be [height, width] with sides 1..{MAX_MASK_SIDE}, got {shape}")
    bounds = list(bitbounds or [0, 0, *shape])
    if len(bounds) != 4 or not (0 <= bounds[0] < bounds[2] <= shape[0] and 0 <= bounds[1] < bounds[3] <= shape[1]):
        raise GanscopeError(f"mask bitbounds must be [y0, x0, y1, x1] inside the shape {shape}, got {bounds}")
    y0, x0, y1, x1 = bounds
    result = np.zeros(shape, bool)
    if png is not None:
        painted = png[..., 3] > 0 if png.shape[2] == 4 else png[..., 0] < 255
        if painted.shape != (y1 - y0, x1 - x0):
            raise GanscopeError(f"mask PNG is {painted.shape[1]}x{painted.shape[0]} but its bitbounds span "
                                f"{x1 - x0}x{y1 - y0}")
        result[y0:y1, x0:x1] = painted
        return result
    if len(bitstring) != (y1 - y0) * (x1 - x0):
        raise GanscopeError(f"mask bitstring has {len(bitstring)} bits but its bitbounds span "
                            f"{x1 - x0}x{y1 - y0} = {(x1 - x0) * (y1 - y0)} pixels")
    if not set(bitstring) <= {"0", "1"}:
        raise GanscopeError("mask bitstring must contain only '0' and '1' (or be a PNG data URL)")
    bits = np.frombuffer(bitstring.encode("ascii"), np.uint8) != ord("0")
    result[y0:y1, x0:x1] = bits.reshape(y1 - y0, x1 - x0)
    return result


def mask_pixels(bitstring: str, shape: Sequence[int] | None, default_shape: Sequence[int]) -> int:
    """The pixels ``decode_mask`` would build, read from the declared shape or the PNG header (nothing decoded)."""
    if shape:
        return int(np.prod([max(0, int(s)) for s in shape]))
    if DATA_URL.match(bitstring):
        try:
            data = base64.b64decode(DATA_URL.sub("", bitstring), validate=True)
            with Image.open(io.BytesIO(data)) as image:
                return image.size[0] * image.size[1]
        except (binascii.Error, OSError, ValueError, Image.DecompressionBombError):
            return 0  # decode_mask says what is wrong with it
    return int(np.prod(default_shape))


def _png(url: str) -> np.ndarray:
    """RGB or RGBA array of a base64 PNG data URL, refusing images over the size cap before decoding."""
    try:
        data = base64.b64decode(DATA_URL.sub("", url), validate=True)
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > MAX_MASK_SIDE:
                raise GanscopeError(f"mask image is {image.size[0]}x{image.size[1]}; the limit is "
                                    f"{MAX_MASK_SIDE} pixels per side")
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except (binascii.Error, OSError, ValueError, Image.DecompressionBombError) as err:
        raise GanscopeError(f"mask is not a readable PNG data URL: {err}") from err

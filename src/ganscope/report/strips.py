"""Strip images: a unit's top-k samples side by side, with its thresholded region drawn on each.

Rendering is vectorised over all units of a layer (numpy), because the report must stay
fast for thousands of units; only the PNG encoding runs once per unit. The region is
the unit's activation map, bilinearly upsampled (as in dissection) straight to the tile
size, above the unit's threshold: outside it the sample fades to dark grey, and its
boundary is outlined.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganscope.errors import GanscopeError
from ganscope.io import write_bytes
from ganscope.results import Results
from ganscope.stats import upsample

TILE_MAX = 128  # longest tile side in pixels; larger samples are shrunk
GUTTER = 2
OUTLINE = np.array([255, 208, 0], np.uint8)
FADE = 0.45  # outside the region: FADE * image + (1 - FADE) * BACKDROP
BACKDROP = 24.0
MISSING = 128  # grey tile when a sample image is not on disk
CHUNK_VALUES = 1 << 22  # tile values composed at once, bounds memory


def tile_size(image_size: list[int]) -> tuple[int, int]:
    h, w = image_size
    scale = min(1.0, TILE_MAX / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


class SampleImages:
    """The dissection's ``samples/{index}.png``, each read once and resized to the tile size."""

    def __init__(self, directory: Path, tile: tuple[int, int]):
        self.directory, self.tile = directory, tile
        self.cache: dict[int, np.ndarray] = {}

    def read(self, index: int) -> np.ndarray:
        path = self.directory / f"{index}.png"
        if not path.is_file():
            return np.full((*self.tile, 3), MISSING, np.uint8)
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if image.size != self.tile[::-1]:
                    image = image.resize(self.tile[::-1], Image.Resampling.BILINEAR)
                return np.asarray(image)
        except OSError as err:
            raise GanscopeError(f"cannot read sample image {path}: {err}") from err

    def stack(self, indices: np.ndarray) -> np.ndarray:
        """Images (*indices.shape, h, w, 3) for an integer array of sample indices."""
        unique, inverse = np.unique(indices, return_inverse=True)
        for index in unique.tolist():
            if index not in self.cache:
                self.cache[index] = self.read(index)
        table = np.stack([self.cache[i] for i in unique.tolist()])
        return table[inverse.reshape(indices.shape)]


def regions(maps: torch.Tensor, thresholds: torch.Tensor, tile: tuple[int, int]) -> np.ndarray:
    """Boolean regions (units, k, *tile): upsampled maps (units, k, h, w) above each unit's threshold."""
    units, k = maps.shape[:2]
    up = upsample(maps.reshape(units * k, *maps.shape[2:]), tile).reshape(units, k, *tile)
    return (up > thresholds.float()[:, None, None, None]).numpy()


def outline(mask: np.ndarray) -> np.ndarray:
    """The region's boundary pixels: in the mask, with a 4-neighbour outside it (edges padded)."""
    padded = np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    inner = padded[..., :-2, 1:-1] & padded[..., 2:, 1:-1] & padded[..., 1:-1, :-2] & padded[..., 1:-1, 2:]
    return mask & ~inner


def compose(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Strips (units, h, k * (w + GUTTER) - GUTTER, 3) from images (units, k, h, w, 3) and regions."""
    faded = (images * np.float32(FADE) + np.float32(BACKDROP * (1 - FADE))).astype(np.uint8)
    drawn = np.where(mask[..., None], images, faded)
    drawn[outline(mask)] = OUTLINE
    units, k, h, w, _ = drawn.shape
    strips = np.full((units, h, k * (w + GUTTER) - GUTTER, 3), 255, np.uint8)
    for j in range(k):
        strips[:, :, j * (w + GUTTER) : j * (w + GUTTER) + w] = drawn[:, j]
    return strips


def encode(strip: np.ndarray) -> bytes:
    """PNG bytes at a fast zlib level: strips are many and small."""
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_png(path: Path, strip: np.ndarray) -> None:
    write_bytes(path, encode(strip))


def render_layer(results: Results, layer: str, samples: SampleImages, out: Path) -> None:
    """Write ``out/{unit}.png`` for every unit of ``layer``."""
    maps, indices = results.tables[f"{layer}/topk_maps"], results.tables[f"{layer}/topk_indices"]
    units = results.layers[layer].units
    if maps.shape[0] != len(units) or indices.shape != maps.shape[:2]:
        raise GanscopeError(f"tables for layer {layer!r} do not match results.json ({maps.shape[0]} maps for "
                            f"{len(units)} units); re-run the dissection")
    thresholds = torch.tensor([u.threshold for u in units])
    h, w = samples.tile
    step = max(1, CHUNK_VALUES // max(1, maps.shape[1] * h * w * 3))
    # PNG encoding dominates and releases the GIL: encode each chunk's strips on all cores
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for start in range(0, len(units), step):
            stop = min(start + step, len(units))
            mask = regions(maps[start:stop], thresholds[start:stop], samples.tile)
            strips = compose(samples.stack(indices[start:stop].numpy()), mask)
            list(pool.map(write_png, [out / f"{unit}.png" for unit in range(start, stop)], strips))


def has_maps(results: Results, layer: str) -> bool:
    return f"{layer}/topk_maps" in results.tables and f"{layer}/topk_indices" in results.tables

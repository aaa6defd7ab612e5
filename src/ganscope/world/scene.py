"""A procedural "village with churches" world with exact per-pixel labels.

Every scene is drawn back to front with boolean masks over a coordinate grid, for a
whole batch at once: no per-sample Python loop beyond drawing the random numbers.
The label map is exact because each pixel's label is whatever was painted last.

For speed (``benchmarks/world_speed.py``; the output is bitwise that of the first, slower version,
which the shipped models were trained on, and ``tests/test_demo.py`` pins it), a paint only stamps
its number into a uint8 map that keeps the highest (latest) number per pixel; colours depend on the
row alone, so the image is one look-up into per-row palettes at the end. Masks are combined as
uint8 because torch's bool, ``where`` and ``masked_fill`` ops are many times slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ganscope.sampling import uniforms

CONCEPTS: list[str] = [
    "-", "sky", "cloud", "grass", "road", "tree", "building",
    "brick", "roof", "dome", "door", "window",
]
CATEGORIES: list[str] = [
    "", "object", "object", "object", "object", "object", "object",
    "material", "part", "part", "part", "part",
]
LABEL = {name: index for index, name in enumerate(CONCEPTS)}

_MAX_CLOUDS = 3
_MAX_TREES = 3
_NUM_UNIFORMS = 96
_CHUNK_PIXELS = 2**19


@dataclass
class Scenes:
    """A batch of renders: images in [-1, 1] (B, 3, H, W) and labels (B, H, W)."""

    images: torch.Tensor
    labels: torch.Tensor


class _Canvas:
    """Records paints; a pixel shows the last paint whose mask covers it.

    Paint k stamps k into ``owner`` where its mask holds and ``owner`` keeps the maximum, so the
    latest paint wins as if painted over. Colours vary by row only, so each paint keeps a (B, 3, H)
    colour and ``finish`` looks the whole image up once instead of blending per paint.
    """

    def __init__(self, batch: int, size: int):
        self.shape = (batch, 3, size)
        self.owner = torch.zeros(batch, size, size, dtype=torch.uint8)
        self.colours = [torch.zeros(self.shape)]  # paint 0: nothing painted yet, black and unlabelled
        self.labels = [0]

    def paint(self, colour: torch.Tensor, concept: str, *masks: torch.Tensor) -> None:
        """Paint ``colour`` (B, 3) or (B, 3, H, 1) where all ``masks`` (bool, broadcast to (B, H, W)) hold."""
        stamp = torch.tensor(len(self.colours), dtype=torch.uint8)  # a few dozen paints at most
        for mask in sorted(masks, key=torch.Tensor.numel):  # small factors first: fewer full-size passes
            stamp = stamp * mask.view(torch.uint8)
        torch.maximum(self.owner, stamp, out=self.owner)
        colour = colour[:, :, None, None] if colour.dim() == 2 else colour
        self.colours.append(colour[..., 0].expand(self.shape))
        self.labels.append(LABEL[concept])

    def finish(self, light: torch.Tensor, rgb: torch.Tensor, labels: torch.Tensor) -> None:
        """Write the colours times ``light`` (B, 3, 1, 1) to ``rgb`` (B, 3, H, W), the labels to ``labels``."""
        palette = torch.stack(self.colours).mul_(light[..., 0])  # (paints, B, 3, H): light the palette, not the image
        index = self.owner.long()[:, None].expand(-1, 3, -1, -1)
        torch.gather(palette.permute(1, 2, 3, 0), 3, index, out=rgb)
        concepts = np.array(self.labels)
        np.take(concepts, self.owner.numpy(), out=labels.numpy(), mode="clip")  # numpy: 5x torch's indexing


def _lerp(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * u


def _colour(u: torch.Tensor, base: Sequence[float], spread: float) -> torch.Tensor:
    """Jitter an RGB ``base`` by +-``spread`` using three uniforms u (B, 3)."""
    return (torch.tensor(base) + (u * 2 - 1) * spread).clamp(0, 1)


def _between(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return (x >= lo[:, None, None]) & (x < hi[:, None, None])


def render(indices: Sequence[int], seed: int = 0, size: int = 64) -> Scenes:
    """Render scenes for sample ``indices``; scene i depends only on (seed, i).

    Large batches are drawn in chunks of about ``_CHUNK_PIXELS`` (128 scenes at 64 x 64), straight
    into the output: a chunk's masks stay in the CPU caches, about 1.3x faster than full-size passes
    over 1024 scenes.
    """
    indices = list(indices)
    images = torch.empty(len(indices), 3, size, size)
    labels = torch.empty(len(indices), size, size, dtype=torch.long)
    step = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, len(indices), step):
        chunk = slice(start, start + step)
        _draw(indices[chunk], seed, images[chunk], labels[chunk])
    return Scenes(images=images, labels=labels)


def _draw(indices: Sequence[int], seed: int, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Render scenes ``indices`` into ``images`` (B, 3, H, W) and ``labels`` (B, H, W)."""
    pen = _Pen(uniforms(seed, indices, _NUM_UNIFORMS), images.shape[-1])
    horizon = _sky(pen)
    _ground(pen, horizon)
    _building(pen, horizon)
    _trees(pen, horizon)
    _light(pen, images, labels)


def _col(t: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1), to broadcast per-scene numbers over pixels."""
    return t[:, None, None]


class _Pen:
    """A batch of scenes being drawn: the uniforms, taken in a fixed order (so scene i depends only on
    (seed, i)), the pixel coordinates and the canvas."""

    def __init__(self, u: torch.Tensor, size: int):
        self.u, self.size, self.batch = u, size, u.shape[0]
        self.take = iter(range(_NUM_UNIFORMS))
        coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        self.y = coords[None, :, None]  # (1, H, 1): masks broadcast to (B, H, W) only when combined
        self.x = coords[None, None, :]
        self.canvas = _Canvas(self.batch, size)

    def nxt(self, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return _lerp(self.u[:, next(self.take)], lo, hi)

    def nxt3(self) -> torch.Tensor:
        return torch.stack([self.u[:, next(self.take)] for _ in range(3)], 1)


def _sky(p: _Pen) -> torch.Tensor:
    """A vertical gradient from a deep top colour to a pale horizon, and clouds; returns the horizon."""
    x, y = p.x, p.y
    horizon = p.nxt(0.5, 0.66)
    top = _colour(p.nxt3(), (0.25, 0.45, 0.85), 0.12)
    low = _colour(p.nxt3(), (0.75, 0.85, 0.95), 0.06)
    t = (y / _col(horizon)).clamp(0, 1)[:, None]
    p.canvas.paint(top[:, :, None, None] * (1 - t) + low[:, :, None, None] * t, "sky", y < _col(horizon))
    for _ in range(_MAX_CLOUDS):
        present = p.nxt() < 0.55
        cx, cy = p.nxt(-0.1, 1.1), p.nxt(0.06, 1.0) * (horizon - 0.2) + 0.04
        rx = p.nxt(0.1, 0.22)
        ry = rx * p.nxt(0.3, 0.5)
        grey = p.nxt(0.85, 1.0)
        inside = ((x - _col(cx)) / _col(rx)) ** 2 + ((y - _col(cy)) / _col(ry)) ** 2 < 1
        p.canvas.paint(grey[:, None].expand(-1, 3), "cloud", inside, (y < _col(horizon)) & _col(present))
    return horizon


def _ground(p: _Pen, horizon: torch.Tensor) -> None:
    """Grass with a slight gradient; a road narrowing towards the horizon."""
    x, y = p.x, p.y
    grass = _colour(p.nxt3(), (0.3, 0.6, 0.22), 0.08)
    shade = (0.85 + 0.25 * (y - _col(horizon)).clamp(0, 1))[:, None]
    p.canvas.paint(grass[:, :, None, None] * shade, "grass", y >= _col(horizon))
    road_present = p.nxt() < 0.7
    road_x, road_w = p.nxt(0.25, 0.75), p.nxt(0.12, 0.28)
    depth = ((y - _col(horizon)) / (1 - _col(horizon))).clamp(0, 1)
    road_half = 0.015 + (_col(road_w) - 0.015) * depth
    on_road = (x - _col(road_x)).abs() < road_half
    grey = p.nxt(0.42, 0.62)[:, None] * torch.tensor([1.0, 0.97, 0.92])
    p.canvas.paint(grey, "road", on_road, (y >= _col(horizon)) & _col(road_present))


def _building(p: _Pen, horizon: torch.Tensor) -> None:
    """A wall of brick or plaster, a gable roof or a dome, a door, windows."""
    x, y, size = p.x, p.y, p.size
    present = p.nxt() < 0.92
    bx, bw = p.nxt(0.3, 0.7), p.nxt(0.36, 0.6)
    wall_top = horizon - p.nxt(0.18, 0.32)
    base = horizon + p.nxt(0.05, 0.12)
    left, right = bx - bw / 2, bx + bw / 2
    wall_cols, wall_rows = _between(x, left, right), _between(y, wall_top, base) & _col(present)  # wall: both
    is_brick = p.nxt() < 0.5
    brick = _colour(p.nxt3(), (0.62, 0.28, 0.2), 0.08)
    plaster = _colour(p.nxt3(), (0.88, 0.84, 0.74), 0.07)
    mortar = ((y * size).floor() % 3 == 0)[:, None].expand(p.batch, 1, size, 1)
    brick_texture = torch.where(mortar, brick[:, :, None, None] * 0.7, brick[:, :, None, None])
    p.canvas.paint(brick_texture, "brick", wall_cols, wall_rows & _col(is_brick))
    p.canvas.paint(plaster, "building", wall_cols, wall_rows & ~_col(is_brick))
    _top(p, present, bx, bw, wall_top)

    door_w = p.nxt(0.09, 0.13)
    door_h = (base - wall_top) * p.nxt(0.4, 0.55)
    door_x = bx + (p.nxt() - 0.5) * (bw - door_w) * 0.5
    door_cols, door_rows = _between(x, door_x - door_w / 2, door_x + door_w / 2), _between(y, base - door_h, base)
    door_colour = _colour(p.nxt3(), (0.3, 0.17, 0.08), 0.06)

    windows = p.nxt() < 0.85
    win_w, win_h = p.nxt(0.08, 0.11), (base - wall_top) * p.nxt(0.22, 0.32)
    win_y = wall_top + (base - wall_top) * p.nxt(0.12, 0.22)
    win_dx = bw * p.nxt(0.27, 0.34)
    glass = _colour(p.nxt3(), (0.12, 0.16, 0.3), 0.06)
    for side in (-1.0, 1.0):
        wx = bx + side * win_dx
        pane_cols, pane_rows = _between(x, wx - win_w / 2, wx + win_w / 2), _between(y, win_y, win_y + win_h)
        p.canvas.paint(glass, "window", pane_cols & wall_cols, pane_rows & wall_rows & _col(windows))
    # Windows skip the door: painting the door after them gives the same as painting them around it.
    p.canvas.paint(door_colour, "door", door_cols & wall_cols, door_rows & wall_rows)


def _top(p: _Pen, present: torch.Tensor, bx: torch.Tensor, bw: torch.Tensor, wall_top: torch.Tensor) -> None:
    """The building's gable roof or dome."""
    x, y = p.x, p.y
    is_dome = p.nxt() < 0.45
    apex = p.nxt(0.1, 0.2)
    overhang = 0.03
    frac = ((_col(wall_top) - y) / _col(apex)).clamp(0, 1)
    half = (_col(bw) / 2 + overhang) * (1 - frac)
    gable_rows = _between(y, wall_top - apex, wall_top) & _col(present & ~is_dome)
    p.canvas.paint(_colour(p.nxt3(), (0.45, 0.2, 0.16), 0.1), "roof", (x - _col(bx)).abs() < half, gable_rows)
    drx = bw * p.nxt(0.22, 0.38)
    dry = drx * p.nxt(0.8, 1.3)
    dome = ((x - _col(bx)) / _col(drx)) ** 2 + ((y - _col(wall_top)) / _col(dry)) ** 2 < 1
    palette = torch.tensor([[0.35, 0.6, 0.55], [0.55, 0.55, 0.6], [0.8, 0.65, 0.25]])
    dome_colour = palette[(p.nxt() * 3).long().clamp(max=2)] * p.nxt(0.85, 1.1)[:, None]
    p.canvas.paint(dome_colour.clamp(0, 1), "dome", dome, (y < _col(wall_top)) & _col(present & is_dome))


def _trees(p: _Pen, horizon: torch.Tensor) -> None:
    """Trees, far to near so that nearer trees cover farther ones."""
    x, y = p.x, p.y
    bases = horizon[:, None] + torch.stack([p.nxt(0.02, 1.0) for _ in range(_MAX_TREES)], 1) * (
        0.98 - horizon[:, None]
    )
    bases, _ = bases.sort(dim=1)
    for k in range(_MAX_TREES):
        present = p.nxt() < 0.6
        tx = p.nxt(-0.05, 1.05)
        scale = 0.6 + 0.8 * (bases[:, k] - horizon) / (1 - horizon)
        r = p.nxt(0.07, 0.12) * scale
        trunk_h = r * 0.8
        cy = bases[:, k] - trunk_h - r * 0.9
        crown = ((x - _col(tx)) / _col(r)) ** 2 + ((y - _col(cy)) / _col(r * 1.15)) ** 2 < 1
        trunk_cols, trunk_rows = (x - _col(tx)).abs() < _col(r * 0.22), _between(y, cy, bases[:, k])
        leaf = _colour(p.nxt3(), (0.13, 0.35, 0.12), 0.05)
        dark = (1.0 - 0.35 * ((y - _col(cy)) / _col(r)).clamp(0, 1))[:, None]
        p.canvas.paint(torch.tensor([0.35, 0.22, 0.12]).expand(p.batch, 3), "tree", trunk_cols,
                       trunk_rows & _col(present))
        p.canvas.paint(leaf[:, :, None, None] * dark, "tree", crown, _col(present))


def _light(p: _Pen, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Overall brightness and tint, then a little sensor noise (one generator per scene)."""
    light = p.nxt(0.75, 1.15)[:, None, None, None] * (1 + (p.nxt3() - 0.5) * 0.1)[:, :, None, None]
    noise_keys = (p.u[:, next(p.take)] * 2**31).long().tolist()
    p.canvas.finish(light, images, labels)
    noise = torch.empty_like(images)
    generator = torch.Generator()
    for i, key in enumerate(noise_keys):
        noise[i].normal_(generator=generator.manual_seed(key))
    images.add_(noise.mul_(0.015)).clamp_(0, 1).mul_(2).sub_(1)

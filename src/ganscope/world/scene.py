"""A procedural "village with churches" world with exact per-pixel labels.

Every scene is drawn back to front with boolean masks over a coordinate grid, for a
whole batch at once: no per-sample Python loop beyond drawing the random numbers.
The label map is exact because each pixel's label is whatever was painted last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass
class Scenes:
    """A batch of renders: images in [-1, 1] (B, 3, H, W) and labels (B, H, W)."""

    images: torch.Tensor
    labels: torch.Tensor


class _Canvas:
    """Paints colours and labels through masks, keeping the two in step."""

    def __init__(self, batch: int, size: int):
        self.rgb = torch.zeros(batch, 3, size, size)
        self.labels = torch.zeros(batch, size, size, dtype=torch.long)

    def paint(self, mask: torch.Tensor, colour: torch.Tensor, concept: str) -> None:
        """Paint ``colour`` (B, 3) or (B, 3, H, W) where ``mask`` (B, H, W) holds."""
        if colour.dim() == 2:
            colour = colour[:, :, None, None]
        mask = mask.expand_as(self.labels)
        self.rgb = torch.where(mask[:, None], colour, self.rgb)
        self.labels.masked_fill_(mask, LABEL[concept])


def _lerp(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * u


def _colour(u: torch.Tensor, base: Sequence[float], spread: float) -> torch.Tensor:
    """Jitter an RGB ``base`` by +-``spread`` using three uniforms u (B, 3)."""
    return (torch.tensor(base) + (u * 2 - 1) * spread).clamp(0, 1)


def _between(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return (x >= lo[:, None, None]) & (x < hi[:, None, None])


def render(indices: Sequence[int], seed: int = 0, size: int = 64) -> Scenes:
    """Render scenes for sample ``indices``; scene i depends only on (seed, i)."""
    u = uniforms(seed, indices, _NUM_UNIFORMS)
    batch = u.shape[0]
    take = iter(range(_NUM_UNIFORMS))

    def nxt(lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return _lerp(u[:, next(take)], lo, hi)

    def nxt3() -> torch.Tensor:
        return torch.stack([u[:, next(take)] for _ in range(3)], 1)

    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y = coords[None, :, None]  # (1, H, 1): masks broadcast to (B, H, W) only when combined
    x = coords[None, None, :]
    canvas = _Canvas(batch, size)
    col = lambda t: t[:, None, None]  # noqa: E731  (B,) -> (B, 1, 1) for broadcasting

    # Sky: a vertical gradient from a deep top colour to a pale horizon.
    horizon = nxt(0.5, 0.66)
    top = _colour(nxt3(), (0.25, 0.45, 0.85), 0.12)
    low = _colour(nxt3(), (0.75, 0.85, 0.95), 0.06)
    t = (y / col(horizon)).clamp(0, 1)[:, None]
    canvas.paint(y < col(horizon), top[:, :, None, None] * (1 - t) + low[:, :, None, None] * t, "sky")

    for _ in range(_MAX_CLOUDS):
        present = nxt() < 0.55
        cx, cy = nxt(-0.1, 1.1), nxt(0.06, 1.0) * (horizon - 0.2) + 0.04
        rx = nxt(0.1, 0.22)
        ry = rx * nxt(0.3, 0.5)
        grey = nxt(0.85, 1.0)
        inside = ((x - col(cx)) / col(rx)) ** 2 + ((y - col(cy)) / col(ry)) ** 2 < 1
        canvas.paint(inside & col(present) & (y < col(horizon)), grey[:, None].expand(-1, 3), "cloud")

    # Ground: grass with a slight gradient; a road narrowing towards the horizon.
    grass = _colour(nxt3(), (0.3, 0.6, 0.22), 0.08)
    shade = (0.85 + 0.25 * (y - col(horizon)).clamp(0, 1))[:, None]
    canvas.paint(y >= col(horizon), grass[:, :, None, None] * shade, "grass")
    road_present = nxt() < 0.7
    road_x, road_w = nxt(0.25, 0.75), nxt(0.12, 0.28)
    depth = ((y - col(horizon)) / (1 - col(horizon))).clamp(0, 1)
    road_half = 0.015 + (col(road_w) - 0.015) * depth
    on_road = ((x - col(road_x)).abs() < road_half) & (y >= col(horizon)) & col(road_present)
    grey = nxt(0.42, 0.62)[:, None] * torch.tensor([1.0, 0.97, 0.92])
    canvas.paint(on_road, grey, "road")

    # The building: a wall of brick or plaster, a gable roof or a dome, a door, windows.
    present = nxt() < 0.92
    bx, bw = nxt(0.3, 0.7), nxt(0.36, 0.6)
    wall_top = horizon - nxt(0.18, 0.32)
    base = horizon + nxt(0.05, 0.12)
    left, right = bx - bw / 2, bx + bw / 2
    wall = _between(x, left, right) & _between(y, wall_top, base) & col(present)
    is_brick = nxt() < 0.5
    brick = _colour(nxt3(), (0.62, 0.28, 0.2), 0.08)
    plaster = _colour(nxt3(), (0.88, 0.84, 0.74), 0.07)
    mortar = ((y * size).floor() % 3 == 0)[:, None].expand(batch, 1, size, 1)
    brick_texture = torch.where(mortar, brick[:, :, None, None] * 0.7, brick[:, :, None, None])
    canvas.paint(wall & col(is_brick), brick_texture, "brick")
    canvas.paint(wall & ~col(is_brick), plaster, "building")

    is_dome = nxt() < 0.45
    apex = nxt(0.1, 0.2)
    overhang = 0.03
    frac = ((col(wall_top) - y) / col(apex)).clamp(0, 1)
    half = (col(bw) / 2 + overhang) * (1 - frac)
    gable = ((x - col(bx)).abs() < half) & _between(y, wall_top - apex, wall_top) & col(present & ~is_dome)
    canvas.paint(gable, _colour(nxt3(), (0.45, 0.2, 0.16), 0.1), "roof")
    drx = bw * nxt(0.22, 0.38)
    dry = drx * nxt(0.8, 1.3)
    dome = (((x - col(bx)) / col(drx)) ** 2 + ((y - col(wall_top)) / col(dry)) ** 2 < 1) & (y < col(wall_top))
    palette = torch.tensor([[0.35, 0.6, 0.55], [0.55, 0.55, 0.6], [0.8, 0.65, 0.25]])
    dome_colour = palette[(nxt() * 3).long().clamp(max=2)] * nxt(0.85, 1.1)[:, None]
    canvas.paint(dome & col(present & is_dome), dome_colour.clamp(0, 1), "dome")

    door_w = nxt(0.09, 0.13)
    door_h = (base - wall_top) * nxt(0.4, 0.55)
    door_x = bx + (nxt() - 0.5) * (bw - door_w) * 0.5
    door = _between(x, door_x - door_w / 2, door_x + door_w / 2) & _between(y, base - door_h, base)
    canvas.paint(door & wall, _colour(nxt3(), (0.3, 0.17, 0.08), 0.06), "door")

    windows = nxt() < 0.85
    win_w, win_h = nxt(0.08, 0.11), (base - wall_top) * nxt(0.22, 0.32)
    win_y = wall_top + (base - wall_top) * nxt(0.12, 0.22)
    win_dx = bw * nxt(0.27, 0.34)
    glass = _colour(nxt3(), (0.12, 0.16, 0.3), 0.06)
    for side in (-1.0, 1.0):
        wx = bx + side * win_dx
        pane = _between(x, wx - win_w / 2, wx + win_w / 2) & _between(y, win_y, win_y + win_h)
        canvas.paint(pane & wall & ~door & col(windows), glass, "window")

    # Trees, far to near so that nearer trees cover farther ones.
    bases = horizon[:, None] + torch.stack([nxt(0.02, 1.0) for _ in range(_MAX_TREES)], 1) * (
        0.98 - horizon[:, None]
    )
    bases, _ = bases.sort(dim=1)
    for k in range(_MAX_TREES):
        present = nxt() < 0.6
        tx = nxt(-0.05, 1.05)
        scale = 0.6 + 0.8 * (bases[:, k] - horizon) / (1 - horizon)
        r = nxt(0.07, 0.12) * scale
        trunk_h = r * 0.8
        cy = bases[:, k] - trunk_h - r * 0.9
        crown = ((x - col(tx)) / col(r)) ** 2 + ((y - col(cy)) / col(r * 1.15)) ** 2 < 1
        trunk = ((x - col(tx)).abs() < col(r * 0.22)) & _between(y, cy, bases[:, k])
        leaf = _colour(nxt3(), (0.13, 0.35, 0.12), 0.05)
        dark = (1.0 - 0.35 * ((y - col(cy)) / col(r)).clamp(0, 1))[:, None]
        canvas.paint(trunk & col(present), torch.tensor([0.35, 0.22, 0.12]).expand(batch, 3), "tree")
        canvas.paint(crown & col(present), leaf[:, :, None, None] * dark, "tree")

    # Lighting: overall brightness and tint, then a little sensor noise.
    light = nxt(0.75, 1.15)[:, None, None, None] * (1 + (nxt3() - 0.5) * 0.1)[:, :, None, None]
    noise_keys = (u[:, next(take)] * 2**31).long().tolist()
    noise = torch.stack(
        [torch.randn(canvas.rgb.shape[1:], generator=torch.Generator().manual_seed(k)) for k in noise_keys]
    ) if batch else torch.zeros_like(canvas.rgb)
    rgb = (canvas.rgb * light + 0.015 * noise).clamp(0, 1)
    return Scenes(images=rgb * 2 - 1, labels=canvas.labels)

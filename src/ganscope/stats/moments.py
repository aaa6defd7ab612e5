"""Streaming per-unit count, mean, variance, min and max (Chan et al. parallel merge)."""

from __future__ import annotations

import torch


class Moments:
    """Per-unit moments over all values seen; ``update`` takes (units, values)."""

    def __init__(self, units: int):
        self.count = torch.zeros(units, dtype=torch.float64)
        self.mean = torch.zeros(units, dtype=torch.float64)
        self.m2 = torch.zeros(units, dtype=torch.float64)
        self.min = torch.full((units,), float("inf"), dtype=torch.float64)
        self.max = torch.full((units,), float("-inf"), dtype=torch.float64)

    def update(self, values: torch.Tensor) -> None:
        """Reduce on the values' device; only the per-unit results move to the host."""
        values = values.detach().double()
        mean = values.mean(1)
        other = Moments(values.shape[0])
        other.count[:] = values.shape[1]
        other.mean = mean.cpu()
        other.m2 = ((values - mean[:, None]) ** 2).sum(1).cpu()
        other.min, other.max = values.min(1).values.cpu(), values.max(1).values.cpu()
        self.merge(other)

    def merge(self, other: Moments) -> None:
        n = self.count + other.count
        delta = other.mean - self.mean
        safe = n.clamp(min=1)
        self.mean = self.mean + delta * other.count / safe
        self.m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / safe
        self.count = n
        self.min = torch.minimum(self.min, other.min)
        self.max = torch.maximum(self.max, other.max)

    @property
    def std(self) -> torch.Tensor:
        return (self.m2 / self.count.clamp(min=1)).sqrt()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2, "min": self.min, "max": self.max}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            setattr(self, key, value.clone())

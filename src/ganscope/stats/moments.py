"""Streaming per-unit count, mean, variance, min and max (Chan et al. parallel merge)."""

from __future__ import annotations

import torch

from ganscope.stats.kernels import unit_moments


class Moments:
    """Per-unit moments over all values seen; ``update`` takes (units, values)."""

    def __init__(self, units: int):
        self.count = torch.zeros(units, dtype=torch.float64)
        self.mean = torch.zeros(units, dtype=torch.float64)
        self.m2 = torch.zeros(units, dtype=torch.float64)
        self.min = torch.full((units,), float("inf"), dtype=torch.float64)
        self.max = torch.full((units,), float("-inf"), dtype=torch.float64)

    def update(self, values: torch.Tensor, unit_dim: int = 0) -> None:
        """Add ``values`` (units along ``unit_dim``, e.g. (B, units, h, w) with unit_dim=1).

        Reduces on the values' device without a transposed copy, in double precision (so that
        results do not depend on how samples are batched), and only per-unit results move to the host.
        """
        values = values.detach()
        other = Moments(values.shape[unit_dim])
        other.count[:] = values.numel() // max(values.shape[unit_dim], 1)
        if values.device.type == "cpu" and unit_dim == 1 and values.dtype != torch.float64 and values.numel():
            other.mean, other.m2, other.min, other.max = unit_moments(values)  # one compiled pass, two sweeps
        else:
            dims = [d for d in range(values.dim()) if d != unit_dim]
            var, mean = torch.var_mean(values.double(), dim=dims, correction=0)
            other.mean = mean.double().cpu()
            other.m2 = var.double().cpu() * other.count
            other.min, other.max = values.amin(dims).double().cpu(), values.amax(dims).double().cpu()
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

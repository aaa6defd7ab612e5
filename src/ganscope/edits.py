"""Unit edits: ablation (set to 0), insertion (set to k_u) or a continuous blend, everywhere or in a region.

All three are one formula, h' = h + w * (k - h), with w = alpha_u (1 for a plain edit)
times the region's cell map; ablation is k = 0. Edits are checked against the layer's
unit count when they meet its activations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ganscope.errors import GanscopeError
from ganscope.regions import Region


def check_units(units: Sequence[int], count: int, layer: str) -> list[int]:
    """Distinct units in [0, count), in the given order; empty or out-of-range sets are errors."""
    units = list(dict.fromkeys(int(u) for u in units))
    if not units:
        raise GanscopeError("the unit set is empty: give at least one unit")
    bad = [u for u in units if not 0 <= u < count]
    if bad:
        raise GanscopeError(f"unit {bad[0]} is out of range: layer {layer!r} has {count} units (0..{count - 1})")
    return units


@dataclass
class Intervention:
    """Set ``units`` of ``layer`` to ``values`` (None: ablate to 0), blended by ``alpha``, inside ``region``."""

    layer: str
    units: list[int]
    values: torch.Tensor | float | None = None
    region: Region | None = None
    alpha: torch.Tensor | float = 1.0

    def __call__(self, acts: torch.Tensor) -> torch.Tensor:
        units = check_units(self.units, acts.shape[1], self.layer)
        index = torch.tensor(units, device=acts.device)
        target = torch.as_tensor(0.0 if self.values is None else self.values, dtype=acts.dtype, device=acts.device)
        if target.numel() not in (1, len(units)):
            raise GanscopeError(f"{target.numel()} insertion values for {len(units)} units of layer {self.layer!r}")
        target = target.expand(len(units))[:, None, None]
        weight = torch.as_tensor(self.alpha, dtype=acts.dtype, device=acts.device).expand(len(units))[:, None, None]
        if not (target.isfinite().all() and weight.isfinite().all()):
            raise GanscopeError(f"insertion values and alphas for layer {self.layer!r} must be finite "
                                f"{str(acts.dtype).removeprefix('torch.')} numbers")
        if self.region is not None:
            weight = weight * self.region.cells(*acts.shape[2:]).to(acts)
        chosen = acts.index_select(1, index)
        return acts.index_copy(1, index, chosen + weight * (target - chosen))


def ablation(layer: str, units: Sequence[int], region: Region | None = None) -> Intervention:
    return Intervention(layer, list(units), None, region)


def insertion(layer: str, units: Sequence[int], values: torch.Tensor | float,
              region: Region | None = None) -> Intervention:
    return Intervention(layer, list(units), values, region)

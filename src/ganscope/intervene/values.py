"""Insertion values k_u from a dissection's statistics (default: the unit's 99.5th percentile; docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.edits import check_units
from ganscope.errors import GanscopeError
from ganscope.results import Results

VALUE_RULES = ("p99.5", "mean+3std")  # insertion value per unit: 99.5th percentile (default), mean + 3 std


def insertion_values(results: Results, layer: str, units: Sequence[int], rule: str = "p99.5") -> torch.Tensor:
    """k_u for each unit from the dissection statistics: its 99.5th-percentile activation, or mean + 3 std."""
    if rule not in VALUE_RULES:
        raise GanscopeError(f"unknown insertion value rule {rule!r}; use {' or '.join(VALUE_RULES)}")
    stats = results.layer(layer).units
    units = check_units(units, len(stats), layer)
    if rule == "p99.5":
        return torch.tensor([stats[u].insertion_value for u in units])
    return torch.tensor([stats[u].mean + 3 * stats[u].std for u in units])

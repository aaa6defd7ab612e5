"""Edited images of samples: ``generate`` applies one edit; ``ablate`` and ``insert`` build it from units."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.budget import check_memory, check_span
from ganscope.edits import Intervention, ablation, insertion
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult
from ganscope.progress import ProgressCallback
from ganscope.regions import Region
from ganscope.session import Cut


class EditResult(ExperimentResult):
    """Samples [start, start + samples) of ``seed`` before and after the edit of ``units`` of ``layer``."""

    FILE = "edit.json"
    layer: str
    units: list[int]
    values: list[float] | None  # per unit; None: ablated (set to 0)
    alpha: list[float]  # per unit: how far each moved towards its value (1: all the way)
    region: bool
    seed: int
    start: int
    samples: int
    original: torch.Tensor  # (samples, 3, H, W) in [-1, 1]
    edited: torch.Tensor


@torch.no_grad()
def generate(cut: Cut, edit: Intervention, *, samples: int, start: int = 0,
             progress: bool | ProgressCallback = False) -> EditResult:
    """Samples before and after ``edit`` (at the cut's layer); the edited pass resumes from that layer.

    NaN or Inf in the edited images (e.g. from a huge insertion value) is an error naming the sample.
    """
    if edit.layer != cut.layer:
        raise GanscopeError(f"the edit is at layer {edit.layer!r}, the cut at {cut.layer!r}", argument="edit")
    check_span("samples", start, samples)
    pairs = []
    for _, prefix in cut.prefixes(range(start, start + samples), progress, "edit"):
        pairs.append((cut.finish(prefix), cut.edited(prefix, edit)))
        if len(pairs) == 1:  # priced from the first batch, before the others are made
            check_memory("samples", samples, 8 * pairs[0][0][0].numel(), "original and edited images")
    return EditResult(layer=cut.layer, units=list(edit.units), values=_per_unit(edit.values, edit.units),
                      alpha=_per_unit(edit.alpha, edit.units), region=edit.region is not None,
                      seed=cut.seed, start=start, samples=samples, original=torch.cat([p[0] for p in pairs]).cpu(),
                      edited=torch.cat([p[1] for p in pairs]).cpu())


def _per_unit(value: torch.Tensor | float | None, units: Sequence[int]) -> list[float] | None:
    return None if value is None else torch.as_tensor(value, dtype=torch.float32).expand(len(units)).tolist()


def ablate(cut: Cut, units: Sequence[int], *, region: Region | None = None, samples: int, start: int = 0,
           progress: bool | ProgressCallback = False) -> EditResult:
    """Samples with ``units`` of the cut's layer set to 0 (inside ``region`` when given)."""
    return generate(cut, ablation(cut.layer, units, region), samples=samples, start=start, progress=progress)


def insert(cut: Cut, units: Sequence[int], values: torch.Tensor | float, *, region: Region | None = None,
           samples: int, start: int = 0, progress: bool | ProgressCallback = False) -> EditResult:
    """Samples with ``units`` of the cut's layer set to ``values`` (per unit or one number)."""
    return generate(cut, insertion(cut.layer, units, values, region), samples=samples, start=start,
                    progress=progress)

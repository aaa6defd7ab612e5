"""Edited images of samples: the one-call API (``ablate``, ``insert``) for scripts and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.edits import Intervention, ablation, insertion
from ganscope.regions import Region
from ganscope.session import Session


@torch.no_grad()
def generate(session: Session, edit: Intervention, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(original, edited) images of samples ``indices``; the edited pass resumes from the edited layer.

    NaN or Inf in the edited images (e.g. from a huge insertion value) is an error naming the sample.
    """
    cut = session.at(edit.layer)
    pairs = [(cut.finish(prefix), cut.edited(prefix, edit)) for _, prefix in cut.prefixes(indices)]
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


def ablate(session: Session, layer: str, units: Sequence[int], indices: Sequence[int],
           region: Region | None = None) -> torch.Tensor:
    """Images of samples ``indices`` with ``units`` of ``layer`` set to 0 (inside ``region`` when given)."""
    return generate(session, ablation(layer, units, region), indices)[1]


def insert(session: Session, layer: str, units: Sequence[int], indices: Sequence[int],
           values: torch.Tensor | float, region: Region | None = None) -> torch.Tensor:
    """Images of samples ``indices`` with ``units`` of ``layer`` set to ``values`` (per unit or one number)."""
    return generate(session, insertion(layer, units, values, region), indices)[1]

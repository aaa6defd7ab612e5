"""Client edits -> ``ganscope.edits`` Interventions (the session applies them, in order).

Each edit is one Intervention (h' = h + w (k - h)); edits are applied in order, so a later
stroke paints over an earlier one exactly like the original tool's alpha compositing.
What a paint edit does is the library's ``ganscope.painting.paint``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.intervene import Intervention
from ganscope.painting import Palette, rasterise
from ganscope.regions import pooled
from ganscope.server.masks import decode_mask
from ganscope.server.schemas import Edit, LegacyIntervention
from ganscope.trace import get_module


def paint_edit(edit: Edit, palette: Palette) -> Intervention | None:
    """One client paint edit as an Intervention (what the palette's button edits); None when its mask is empty."""
    if edit.layer is not None:
        palette.results.layer(edit.layer)
    size = palette.results.image_size
    if edit.strokes is not None:
        region = pooled(rasterise([(s.points, s.radius) for s in edit.strokes], size))
        if region is None:
            raise GanscopeError(f"the strokes lie outside the {size[1]}x{size[0]} image")
    elif edit.mask is not None:
        region = pooled(decode_mask(edit.mask.bitstring, edit.mask.shape, edit.mask.bitbounds, size))
        if region is None:
            return None
    else:
        region = None
    return palette.edit(edit.mode, region, concept=edit.concept, units=edit.units, values=edit.values,
                        layer=edit.layer, top=edit.top, strength=edit.strength)


def paint_edits(edits: Sequence[Edit], palette: Palette) -> list[Intervention]:
    """The client's paint edits in order, without the empty ones."""
    return [e for e in (paint_edit(edit, palette) for edit in edits) if e is not None]


def legacy_edits(interventions: Sequence[LegacyIntervention], generator: nn.Module) -> list[Intervention]:
    """The original server's interventions: per layer, one Intervention of its ablation records.

    A later record for the same unit replaces an earlier one; records with alpha 0 do nothing.
    """
    edits = []
    for record in interventions:
        region = None
        if record.mask is not None:
            region = pooled(decode_mask(record.mask.bitstring, record.mask.shape, record.mask.bitbounds),
                            record.maskpooling)
            if region is None:
                continue
        by_layer: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
        for a in record.ablations:
            alpha = 1.0 if a.alpha is None else a.alpha
            by_layer[a.layer][a.unit] = (alpha, 0.0 if a.value is None else a.value)
        for layer, units in by_layer.items():
            get_module(generator, layer)
            units = {u: av for u, av in units.items() if av[0] != 0}
            if units:
                alpha, value = torch.tensor(list(units.values())).T
                edits.append(Intervention(layer, list(units), value, region, alpha))
    return edits

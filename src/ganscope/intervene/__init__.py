"""Interventions: ablate or insert units (everywhere or in a region), causal effects, optimised unit sets,
mask-driven ranking and context. Definitions: docs/interventions.md and docs/architecture.md#definitions.

Typical use::

    session = Session.from_specs("demo", "demo")
    values = insertion_values(Results.load(d), "layer4", units)     # 99.5th-percentile activations
    result = ace(session.at("layer4"), units, "tree", samples=100, values=values)
"""

from ganscope.edits import Intervention, ablation, check_units, insertion
from ganscope.intervene.context import ContextResult, context
from ganscope.intervene.effect import AceResult, Curve, ace, removal_curve
from ganscope.intervene.generate import ablate, generate, insert
from ganscope.intervene.optimize import Comparison, Optimised, compare_rankings, optimise_alpha
from ganscope.intervene.rankmask import MaskRanking, mask_iou, rank_by_mask
from ganscope.intervene.values import VALUE_RULES, insertion_values
from ganscope.regions import Region

__all__ = [
    "VALUE_RULES", "AceResult", "Comparison", "ContextResult", "Curve", "Intervention", "MaskRanking", "Optimised",
    "Region", "ablate", "ablation", "ace", "check_units", "compare_rankings", "context", "generate", "insert",
    "insertion", "insertion_values", "mask_iou", "optimise_alpha", "rank_by_mask", "removal_curve",
]

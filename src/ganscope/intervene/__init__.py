"""Interventions: ablate or insert units (everywhere or in a region), causal effects, optimised unit sets,
mask-driven ranking and context. Definitions: docs/interventions.md and docs/architecture.md#definitions.

Typical use::

    cut = Session.from_specs("demo", "demo").at("layer4")
    values = insertion_values(Results.load(d), "layer4", units)     # 99.5th-percentile activations
    result = ace(cut, units, "tree", values=values, samples=100)    # f(cut, ..., *, samples, start=0, progress)
    result.save("out/ace")                                          # AceResult.load("out/ace") reads it back
"""

from ganscope.edits import Intervention, ablation, check_units, insertion
from ganscope.intervene.context import ContextResult, context
from ganscope.intervene.effect import AceResult, CurveResult, ace, removal_curve
from ganscope.intervene.generate import EditResult, ablate, generate, insert
from ganscope.intervene.optimize import ComparisonResult, OptimiseResult, compare_rankings, optimise_alpha
from ganscope.intervene.rankmask import MaskRankingResult, mask_iou, rank_by_mask
from ganscope.intervene.values import VALUE_RULES, insertion_values
from ganscope.regions import Region

__all__ = [
    "VALUE_RULES", "AceResult", "ComparisonResult", "ContextResult", "CurveResult", "EditResult", "Intervention",
    "MaskRankingResult", "OptimiseResult", "Region", "ablate", "ablation", "ace", "check_units", "compare_rankings",
    "context", "generate", "insert", "insertion", "insertion_values", "mask_iou", "optimise_alpha", "rank_by_mask",
    "removal_curve"
]

"""Interventions: ablate or insert units (everywhere or in a region), causal effects, optimised unit sets,
mask-driven ranking and context. See DESIGN.md for the definitions.

Typical use::

    lab = Lab(generator, segmenter, "layer4")
    values = insertion_values(Results.load(d), "layer4", units)     # 99.5th-percentile activations
    result = ace(lab, units, "tree", samples=100, values=values)
"""

from ganscope.intervene.context import ContextResult, context
from ganscope.intervene.edit import Intervention, ablation, check_units, insertion, insertion_values
from ganscope.intervene.effect import AceResult, Curve, ace, removal_curve
from ganscope.intervene.engine import Lab
from ganscope.intervene.generate import ablate, generate, insert
from ganscope.intervene.optimize import Comparison, Optimised, compare_rankings, optimise_alpha
from ganscope.intervene.rankmask import MaskRanking, mask_iou, rank_by_mask
from ganscope.intervene.regions import Region
from ganscope.intervene.resume import resumer

__all__ = [
    "AceResult", "Comparison", "ContextResult", "Curve", "Intervention", "Lab", "MaskRanking", "Optimised", "Region",
    "ablate", "ablation", "ace", "check_units", "compare_rankings", "context", "generate", "insert", "insertion",
    "insertion_values", "mask_iou", "optimise_alpha", "rank_by_mask", "removal_curve", "resumer",
]

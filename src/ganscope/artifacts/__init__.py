"""Artifact units: rank a layer's units by the quality of the samples they fire on, ablate them, measure.

Typical use::

    scorer = Scorer(load_features("auto"), demo_reference, "demo", 500, seed=1, size=64,
                    discriminator=load_discriminator("demo"))
    cut = Session.from_specs("demo", None, seed=results.seed, batch_size=32).at("layer4")
    ranking = rank_units(cut, results, scorer)
    quality = ablation_quality(cut, {"top 20": ranking.ranked(20)}, scorer, samples=500, start=results.samples)
"""

from ganscope.artifacts.quality import Estimate, QualityResult, SetQuality, ablation_quality
from ganscope.artifacts.rank import RankingResult, UnitScore, rank_units
from ganscope.artifacts.scoring import Scored, Scorer
from ganscope.artifacts.sources import (
    demo_reference,
    discriminator_scores,
    load_discriminator,
    load_reference,
)

__all__ = [
    "Estimate", "QualityResult", "RankingResult", "Scored", "Scorer", "SetQuality", "UnitScore", "ablation_quality",
    "demo_reference", "discriminator_scores", "load_discriminator", "load_reference", "rank_units",
]

"""The artifact figure (unit scores, quality before/after ablation) and the grid of top candidates' samples."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from ganscope.artifacts.quality import QualityResult
from ganscope.artifacts.rank import RankingResult
from ganscope.images import grid, save_png
from ganscope.plotting import error_bars, save_figure
from ganscope.session import Session


def plot_artifacts(ranking: RankingResult, quality: QualityResult | None, features: str, top: int, path: Path) -> Path:
    """Left: KID of each unit's top samples, worst first; right: KID of fresh samples before/after ablation."""
    fig = Figure(figsize=(10 if quality else 5, 3.8))
    ax = fig.add_subplot(1, 2 if quality else 1, 1)
    shown = ranking.units[:top]
    ax.plot(range(len(shown)), [u.kid for u in shown], "o")
    mean, p95 = ranking.random_kid
    ax.axhline(mean, color="grey", linestyle="--", label=f"random {ranking.top_samples}-sample sets: mean")
    ax.axhline(p95, color="grey", linestyle=":", label="... 95th percentile")
    ax.set_xticks(range(len(shown)), [str(u.unit) for u in shown], rotation=90, fontsize=7)
    ax.set_xlabel(f"{ranking.layer} unit (ranked by {ranking.score})")
    ax.set_ylabel(f"KID of its top {ranking.top_samples} samples")
    ax.legend(fontsize=7)
    if quality:
        bx = fig.add_subplot(1, 2, 2)
        names = ["none", *(s.name for s in quality.sets)]
        values = [quality.kid.value, *(s.kid.value for s in quality.sets)]
        cis = [quality.kid.ci, *(s.kid.ci for s in quality.sets)]
        bx.errorbar(range(len(names)), values, yerr=error_bars(values, cis), fmt="o", capsize=3)
        bx.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        bx.set_xlabel("units ablated")
        bx.set_ylabel("KID of fresh samples (95 % CI)")
        bx.set_title(f"{quality.samples} samples, {quality.blocks} blocks", fontsize=9)
    fig.subplots_adjust(wspace=0.35)
    fig.suptitle(f"features: {features}", fontsize=8)
    return save_figure(fig, path)


@torch.no_grad()
def candidate_grid(session: Session, ranking: RankingResult, top: int, path: Path) -> Path:
    """One row per top candidate (worst first), its top-activating samples left to right."""
    rows = ranking.units[:top]
    indices = [i for u in rows for i in u.samples]
    images = torch.cat([images for _, images in session.with_options(seed=ranking.seed).iter_images(indices)])
    return save_png(path, grid(images, columns=ranking.top_samples))

"""Matplotlib figures of intervention results, written as PNGs atomically (no pyplot, no display)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ganscope.intervene.context import ContextResult
from ganscope.intervene.effect import CurveResult
from ganscope.intervene.optimize import ComparisonResult
from ganscope.plotting import error_bars, save_figure


def plot_curve(curve: CurveResult, path: Path) -> Path:
    """Concept pixels removed (% of baseline) against the number of top units ablated."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ns = [p.n for p in curve.points]
    scale = 100 / curve.baseline if curve.baseline else 0.0
    drops = [p.effect for p in curve.points]
    ax.errorbar(ns, [d * scale for d in drops], yerr=error_bars(drops, [p.effect_ci for p in curve.points], scale),
                marker="o", capsize=3)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel(f"top-n {curve.layer} units ablated (by {curve.ranking})")
    ax.set_ylabel(f"{curve.concept} pixels removed (%)")
    ax.set_title(f"{curve.concept}: baseline {curve.baseline:.1%} of pixels, {curve.samples} samples")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_comparison(comparison: ComparisonResult, concept: str, path: Path) -> Path:
    """ACE (insertion) or pixels removed (% of baseline, ablation) of the top-n units by alpha and by IoU."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    removed = comparison.measure == "removed"
    scale = (100 / comparison.baseline if comparison.baseline else 0.0) if removed else 1.0
    for label, values, cis in (("optimised alpha", comparison.alpha_effect, comparison.alpha_ci),
                               ("IoU", comparison.iou_effect, comparison.iou_ci)):
        ax.errorbar(comparison.sizes, [v * scale for v in values], yerr=error_bars(values, cis, scale), marker="o",
                    capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(comparison.sizes, [str(n) for n in comparison.sizes])
    ax.set_xlabel("top-n units" + (" ablated" if removed else ""))
    ax.set_ylabel(f"{concept} pixels removed (%)" if removed else f"ACE on {concept}")
    ax.set_title(f"held-out samples {comparison.held_out[0]}..{comparison.held_out[1] - 1}")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_context(result: ContextResult, path: Path) -> Path:
    """Insertion success rate by the concept that was under the tile."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    rows = result.rows
    ax.bar([r.before for r in rows], [100 * r.rate for r in rows])
    for k, row in enumerate(rows):
        ax.annotate(f"n={row.trials}", (k, 100 * row.rate), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel(f"{result.concept} appears (%)")
    ax.set_xlabel("concept under the region before insertion")
    ax.tick_params(axis="x", rotation=45)
    return save_figure(fig, path)

"""Matplotlib (Agg) charts for the report, saved as SVG files with text left to the page's fonts."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ganscope.io import write_bytes  # noqa: E402

CATEGORY_COLORS = {"object": "#4e79a7", "part": "#f28e2b", "material": "#59a14f", "color": "#b07aa1"}
OTHER_COLOR = "#999999"


def color(category: str) -> str:
    return CATEGORY_COLORS.get(category, OTHER_COLOR)


def save(fig: Figure, path: Path) -> Path:
    """Write the figure as SVG atomically and free it."""
    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ganscope"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return write_bytes(path, buffer.getvalue())


def _empty(ax: plt.Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def concept_bars(by_concept: dict[str, int], concept_category: dict[str, str], categories: list[str],
                 path: Path) -> Path:
    """Interpretable units per concept, grouped by category and coloured by it (the paper's summary)."""
    order = sorted(by_concept, key=lambda c: (categories.index(concept_category[c]), -by_concept[c], c))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * len(order) + 1.2), 2.6))
    if order:
        ax.bar(range(len(order)), [by_concept[c] for c in order],
               color=[color(concept_category[c]) for c in order])
        ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(order) - 0.4)
        handles = [plt.Rectangle((0, 0), 1, 1, color=color(c)) for c in categories]
        ax.legend(handles, categories, fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=len(categories))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _empty(ax, "no interpretable units")
    ax.set_ylabel("units")
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def iou_histogram(ious: list[float], cutoff: float, path: Path) -> Path:
    """Distribution of each unit's best IoU, with the interpretability cutoff marked."""
    fig, ax = plt.subplots(figsize=(4.0, 2.6))
    top = max([cutoff * 2, *ious])
    ax.hist(ious, bins=40, range=(0.0, top), color="#4e79a7")
    ax.axvline(cutoff, color="#e15759", linestyle="--", linewidth=1, label=f"cutoff {cutoff:g}")
    ax.set_xlabel("best IoU")
    ax.set_ylabel("units")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def category_bars(rows: list[tuple[str, dict[str, int]]], categories: list[str], path: Path) -> Path:
    """Grouped bars: interpretable units per category for each row (a layer, or a dissection's layer)."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(rows) * len(categories) + 1.5), 2.8))
    width = 0.8 / max(1, len(categories))
    for j, category in enumerate(categories):
        xs = [i + (j - (len(categories) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(xs, [counts.get(category, 0) for _, counts in rows], width, color=color(category), label=category)
    ax.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=30 if len(rows) > 4 else 0,
                  ha="right" if len(rows) > 4 else "center", fontsize=8)
    ax.set_ylabel("interpretable units")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(categories))
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)

"""Small helpers every plotting module shares: atomic PNG figures and error bars from intervals."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ganscope.io import write_bytes


def save_figure(fig: Figure, path: Path) -> Path:
    """Write the figure as a PNG, atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())


def error_bars(values: Sequence[float], cis: Sequence[Sequence[float]], scale: float = 1.0) -> list[list[float]]:
    """Error bar lengths (below, above) from intervals."""
    below = [(v - lo) * scale for v, (lo, _) in zip(values, cis)]
    return [below, [(hi - v) * scale for v, (_, hi) in zip(values, cis)]]

"""Means with 95 % Student-t confidence intervals (exact t quantiles, no SciPy at run time)."""

from __future__ import annotations

import math

import torch


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4, finite sums)."""
    theta = math.atan(t / math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 c2 + 2*4/(3*5) c2^2 + ...))
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        tail = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
        return 2 / math.pi * (theta + tail)
    for k in range(1, df // 2):  # even: sin (1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...)
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


def t_quantile(level: float, df: int) -> float:
    """The two-sided critical value t with P(|T| < t) = ``level`` (bisection; df capped where t is normal)."""
    df = min(df, 100_000)
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < level:
        hi *= 2
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_central(mid, df) < level else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: torch.Tensor, level: float = 0.95) -> tuple[float, list[float]]:
    """Sample mean and its ``level`` t-interval; one value gives a zero-width interval."""
    values = values.double().flatten()
    mean = float(values.mean())
    if values.numel() < 2:
        return mean, [mean, mean]
    half = t_quantile(level, values.numel() - 1) * float(values.std(unbiased=True)) / math.sqrt(values.numel())
    return mean, [mean - half, mean + half]


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a success rate; no trials give [0, 1]."""
    if trials == 0:
        return 0.0, 1.0
    z = t_quantile(level, 100_000)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_ci(parts: torch.Tensor, wholes: torch.Tensor, level: float = 0.95, resamples: int = 2000,
             seed: int = 0) -> tuple[float, list[float]]:
    """sum(parts) / sum(wholes) over items, with a percentile bootstrap interval over items (fixed seed)."""
    parts, wholes = parts.double().flatten(), wholes.double().flatten()
    ratio = float(parts.sum() / wholes.sum().clamp(min=1e-12))
    if parts.numel() < 2:
        return ratio, [ratio, ratio]
    pick = torch.randint(parts.numel(), (resamples, parts.numel()), generator=torch.Generator().manual_seed(seed))
    draws = parts[pick].sum(1) / wholes[pick].sum(1).clamp(min=1e-12)
    lo, hi = torch.quantile(draws, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return ratio, [lo, hi]

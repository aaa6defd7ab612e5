"""KID against a direct NumPy evaluation of the unbiased estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganscope.metrics import kid


def kid_reference(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_kid_matches_reference():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(1.0, 1.0, size=(9, 5))
    assert kid(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(kid_reference(x, y), rel=1e-10)


def test_kid_is_near_zero_for_one_distribution():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    assert abs(kid(a, b)) < 0.05 < kid(a, b + 1)


def test_kid_needs_two_samples():
    with pytest.raises(ValueError):
        kid(torch.zeros(1, 3), torch.zeros(4, 3))

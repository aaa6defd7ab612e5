"""Sample-quality metrics on feature sets: KID (unbiased MMD^2, cubic polynomial kernel)."""

from __future__ import annotations

import torch


def kid(x: torch.Tensor, y: torch.Tensor) -> float:
    """Kernel Inception Distance between feature sets x (n, d) and y (m, d), n, m >= 2.

    The unbiased MMD^2 estimator with k(a, b) = (a . b / d + 1) ** 3 (Binkowski et al. 2018).
    Which features are used is up to the caller and must be reported beside the value.
    """
    if len(x) < 2 or len(y) < 2:
        raise ValueError("KID needs at least two samples in each set")
    x, y = x.double(), y.double()
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    off = lambda k, s: (k.sum() - k.diagonal().sum()) / (s * (s - 1))  # noqa: E731
    return float(off(kxx, n) + off(kyy, m) - 2 * kxy.mean())

"""Sample-quality metrics on feature sets: KID (unbiased MMD^2, cubic polynomial kernel) and FID."""

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


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)) for Gaussians fitted to two feature sets.

    tr (C1 C2)^(1/2) is the sum of square roots of the eigenvalues of C1^(1/2) C2 C1^(1/2), a
    symmetric PSD matrix: two symmetric eigendecompositions, no SciPy and no complex parts.
    """
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    values, vectors = torch.linalg.eigh(cov1)
    root1 = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    middle = root1 @ cov2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root)


def fid(x: torch.Tensor, y: torch.Tensor) -> float:
    """Fréchet distance between feature sets x (n, d) and y (m, d), n, m >= 2 (FID with Inception features).

    Biased upwards for small sets (it shrinks as n grows), so compare values only at equal n.
    """
    if len(x) < 2 or len(y) < 2:
        raise ValueError("FID needs at least two samples in each set")
    x, y = x.double(), y.double()
    return frechet_distance(x.mean(0), torch.cov(x.T).reshape(x.shape[1], -1), y.mean(0),
                            torch.cov(y.T).reshape(y.shape[1], -1))


def kid_blocks(x: torch.Tensor, y: torch.Tensor, blocks: int) -> torch.Tensor:
    """KID on ``blocks`` disjoint, equal blocks of x and of y (in order): independent unbiased estimates.

    Their mean and its t-interval give a confidence interval that overlapping random
    subsets cannot (subsets share samples, so their spread understates the error).
    """
    n, m = len(x) // blocks, len(y) // blocks
    if blocks < 2 or n < 2 or m < 2:
        raise ValueError(f"{blocks} KID blocks need at least 2 blocks of 2 samples (got {len(x)} and {len(y)})")
    return torch.tensor([kid(x[b * n : (b + 1) * n], y[b * m : (b + 1) * m]) for b in range(blocks)])

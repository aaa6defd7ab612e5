"""How close a reconstruction is to its photo: PSNR and the segmenter's agreement (mean IoU)."""

from __future__ import annotations

import math

import torch


def psnr(photo: torch.Tensor, image: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = float((photo.float() - image.float().clamp(-1, 1)).pow(2).mean())
    return math.inf if mse == 0 else 10 * math.log10(4 / mse)


def mean_iou(labels: torch.Tensor, other: torch.Tensor) -> float:
    """Mean over the concepts present in either label map (H, W) of |A & B| / |A | B|."""
    concepts = torch.unique(torch.cat([labels.flatten(), other.flatten()]))
    ious = [float(((labels == c) & (other == c)).sum()) / float(((labels == c) | (other == c)).sum())
            for c in concepts.tolist()]
    return sum(ious) / len(ious)

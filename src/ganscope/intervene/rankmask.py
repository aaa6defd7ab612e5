"""Mask-driven ranking (the step-by-step walk-through): which units draw the painted thing?

On one sample, each unit's activation is upsampled to the image size and thresholded
at its top ``quantile`` level on this sample (a >= level, as in the walk-through; or
a > t_u at the dissection's thresholds when given); its score is the IoU of that binary
map with the user's mask. Zeroing the best units everywhere should erase the painted object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ganscope.edits import ablation
from ganscope.errors import GanscopeError
from ganscope.session import Cut
from ganscope.stats import upsample

ABLATION_SIZES = (4, 16, 128)


@dataclass
class MaskRanking:
    layer: str
    seed: int
    index: int
    ranking: list[int]  # units by score, best first
    scores: list[float]  # IoU with the mask, per unit (indexed by unit)

    def to_json(self) -> dict:
        return asdict(self)


def mask_iou(acts: torch.Tensor, mask: torch.Tensor, quantile: float = 0.01,
             thresholds: torch.Tensor | None = None) -> torch.Tensor:
    """IoU per unit of [upsampled acts (U, h, w) > threshold] with ``mask`` (H, W)."""
    up = upsample(acts, tuple(mask.shape)).flatten(1)  # (U, H*W)
    if thresholds is None:  # the walk-through's rule: a >= the sample's top-quantile level; constant units score 0
        if not 0 < quantile < 1:
            raise GanscopeError(f"quantile must be in (0, 1), got {quantile}", argument="quantile")
        active = (up >= up.quantile(1 - quantile, dim=1, keepdim=True)) & (up.amax(1) > up.amin(1))[:, None]
    else:  # the dissection's rule: a > t_u
        active = up > thresholds.to(up)[:, None]
    m = mask.flatten().to(up.device)[None]
    union = (active | m).sum(1).float()
    return (active & m).sum(1).float() / union.clamp(min=1)


@torch.no_grad()
def rank_by_mask(cut: Cut, index: int, mask: torch.Tensor, quantile: float = 0.01,
                 thresholds: torch.Tensor | None = None,
                 sizes: Sequence[int] = ABLATION_SIZES) -> tuple[MaskRanking, torch.Tensor]:
    """The ranking for sample (cut.seed, index) and images (1 + len(sizes), 3, H, W): original, then top-n zeroed."""
    (_, prefix), = cut.prefixes([index])
    original = cut.finish(prefix)
    if tuple(mask.shape) != tuple(original.shape[2:]):
        raise GanscopeError(f"mask is {tuple(mask.shape)}, the image is {tuple(original.shape[2:])}")
    scores = mask_iou(prefix.acts[0], mask.bool(), quantile, thresholds)
    ranking = scores.argsort(descending=True, stable=True).tolist()
    images = [original]
    for n in sizes:
        images.append(cut.finish(prefix, ablation(cut.layer, ranking[:n])(prefix.acts)))
    result = MaskRanking(cut.layer, cut.seed, index, ranking, scores.cpu().tolist())
    return result, torch.cat(images)

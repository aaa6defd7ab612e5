"""Mask-driven ranking (the step-by-step walk-through): which units draw the painted thing?

On one sample, each unit's activation is upsampled to the image size and thresholded
at its top ``quantile`` level on this sample (a >= level, as in the walk-through; or
a > t_u at the dissection's thresholds when given); its score is the IoU of that binary
map with the user's mask. Zeroing the best units everywhere should erase the painted object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import model_validator

from ganscope.budget import check_span
from ganscope.edits import ablation
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.session import Cut, held_prefixes
from ganscope.stats import upsample

ABLATION_SIZES = (4, 16, 128)


class MaskRankingResult(ExperimentResult):
    """The ranking, and per sample the original image and the top-n units zeroed for each of ``sizes``."""

    FILE = "ranking.json"
    layer: str
    seed: int
    start: int
    samples: int = 1
    ranking: list[int]  # units by score, best first
    scores: list[float]  # IoU with the mask, per unit (indexed by unit), averaged over the samples
    sizes: list[int] = list(ABLATION_SIZES)
    images: torch.Tensor | None = None  # (samples * (1 + len(sizes)), 3, H, W), sample by sample

    @model_validator(mode="before")
    @classmethod
    def _index_was_start(cls, data: Any) -> Any:
        """Files written before the one experiment shape name the sample ``index``."""
        if isinstance(data, dict) and "index" in data and "start" not in data:
            data = {**data, "start": data["index"]}
            del data["index"]
        return data


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
def rank_by_mask(cut: Cut, mask: torch.Tensor, *, quantile: float = 0.01, thresholds: torch.Tensor | None = None,
                 sizes: Sequence[int] = ABLATION_SIZES, samples: int = 1, start: int = 0,
                 progress: bool | ProgressCallback = False) -> MaskRankingResult:
    """Rank units by IoU with ``mask`` ((H, W) for every sample, or (samples, H, W)) over samples
    [start, start + samples), then zero the top n of the ranking for each n in ``sizes``."""
    check_span("samples", start, samples)
    masks = mask.bool().expand(samples, *mask.shape[-2:]) if mask.dim() == 2 else mask.bool()
    if masks.shape[0] != samples:
        raise GanscopeError(f"mask has {masks.shape[0]} sample masks for {samples} samples", argument="mask")
    held = held_prefixes(cut, range(start, start + samples))  # priced before they are all kept
    originals = [cut.finish(prefix) for prefix in held]
    if tuple(masks.shape[1:]) != tuple(originals[0].shape[2:]):
        raise GanscopeError(f"mask is {tuple(masks.shape[1:])}, the image is {tuple(originals[0].shape[2:])}",
                            argument="mask")
    acts = torch.cat([prefix.acts for prefix in held])
    scores = torch.stack([mask_iou(acts[k], masks[k], quantile, thresholds) for k in range(samples)]).mean(0)
    ranking = scores.argsort(descending=True, stable=True).tolist()
    rows = []
    with progress_bar(progress, "rank by mask", len(held)) as update:
        for b, (prefix, original) in enumerate(zip(held, originals)):
            edited = [cut.finish(prefix, ablation(cut.layer, ranking[:n])(prefix.acts)) for n in sizes]
            rows += [torch.stack([image, *(e[k] for e in edited)]) for k, image in enumerate(original)]
            update(b + 1)
    return MaskRankingResult(layer=cut.layer, seed=cut.seed, start=start, samples=samples, ranking=ranking,
                             scores=scores.cpu().tolist(), sizes=list(sizes), images=torch.cat(rows).cpu())

"""Put an edit back into the photo: generated pixels only where the edit changed the output.

The mask is where the edited image differs from the unedited reconstruction by more than
``threshold`` (in [-1, 1] units, any channel), grown by ``grow`` pixels and softened by a box blur of
radius ``soften``; when the edits have regions, it is also cut to those regions grown by ``margin``
pixels. Every pixel outside the mask is the photo's own, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ganscope.edits import Intervention

THRESHOLD = 0.1
GROW = 1
SOFTEN = 2
MARGIN = 6


def change_mask(reconstruction: torch.Tensor, edited: torch.Tensor, limit: torch.Tensor | None = None, *,
                threshold: float = THRESHOLD, grow: int = GROW, soften: int = SOFTEN) -> torch.Tensor:
    """Soft mask (H, W) in [0, 1] of where ``edited`` (3, H, W) departs from ``reconstruction``."""
    changed = ((edited - reconstruction).abs().amax(0) > threshold).float()[None, None]
    if grow:
        changed = F.max_pool2d(changed, 2 * grow + 1, stride=1, padding=grow)
    if soften:
        changed = F.avg_pool2d(changed, 2 * soften + 1, stride=1, padding=soften, count_include_pad=False)
    mask = changed[0, 0]
    return mask if limit is None else mask * limit.to(mask)


def edit_limit(edits: Sequence[Intervention], size: tuple[int, int], margin: int = MARGIN) -> torch.Tensor | None:
    """The union of the edits' regions (pixel masks) grown by ``margin``; None when an edit has no region."""
    if not edits or any(edit.region is None for edit in edits):
        return None
    union = torch.zeros(size)
    for edit in edits:
        mask = edit.region.mask.float()
        if tuple(mask.shape) != tuple(size):
            mask = F.interpolate(mask[None, None], size=size, mode="nearest")[0, 0]
        union = torch.maximum(union, mask)
    return F.max_pool2d(union[None, None], 2 * margin + 1, stride=1, padding=margin)[0, 0] if margin else union


def composite(photo: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``edited`` blended into ``photo`` by ``mask``; pixels where the mask is 0 are exactly the photo's."""
    mask = mask.to(photo)[None]
    return torch.where(mask > 0, photo + mask * (edited.to(photo) - photo), photo)

"""Per-unit top-k samples by peak activation, with each sample's activation map."""

from __future__ import annotations

import torch


class TopK:
    """Keeps, per unit, the k samples with the highest score and their maps (h, w).

    Ties are broken by the lower sample index, so merging shards in any order gives the
    same result as one pass.
    """

    def __init__(self, units: int, k: int, map_shape: tuple[int, int]):
        self.k = k
        self.scores = torch.full((units, 0), float("-inf"))
        self.indices = torch.zeros((units, 0), dtype=torch.long)
        self.maps = torch.zeros((units, 0, *map_shape), dtype=torch.float16)

    def update(self, activations: torch.Tensor, indices: torch.Tensor) -> None:
        """activations (B, units, h, w) of samples ``indices`` (B,)."""
        acts = activations.detach()
        scores = acts.flatten(2).amax(2).T.float().cpu()  # (units, B); scores and float16 maps leave the device
        self._keep(scores, indices.cpu().expand(acts.shape[1], -1), acts.transpose(0, 1))

    def merge(self, other: TopK) -> None:
        self._keep(other.scores, other.indices, other.maps)

    def _keep(self, scores: torch.Tensor, indices: torch.Tensor, maps: torch.Tensor) -> None:
        """Merge candidates (units, m) with their maps (units, m, h, w), which may be a strided view:
        only the maps that make the cut are read (and converted), never all of them."""
        kept = self.scores.shape[1]
        scores = torch.cat([self.scores, scores], 1)
        indices = torch.cat([self.indices, indices], 1)
        # sort by index first, then stably by descending score: equal scores keep index order
        by_index = indices.argsort(dim=1, stable=True)
        order = by_index.gather(1, scores.gather(1, by_index).argsort(dim=1, descending=True, stable=True))
        order = order[:, : self.k]
        rows = torch.arange(len(order))[:, None].expand_as(order)
        old = order < kept
        out = torch.empty((*order.shape, *self.maps.shape[2:]), dtype=torch.float16)
        out[old] = self.maps[rows[old], order[old]]
        new_rows, new_cols = rows[~old], order[~old] - kept
        out[~old] = maps[new_rows.to(maps.device), new_cols.to(maps.device)].to(torch.float16).cpu()
        self.scores, self.indices, self.maps = scores.gather(1, order), indices.gather(1, order), out

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"scores": self.scores, "indices": self.indices, "maps": self.maps}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.scores, self.indices, self.maps = state["scores"].clone(), state["indices"].clone(), state["maps"].clone()

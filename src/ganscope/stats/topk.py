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
        idx = indices.cpu().expand(acts.shape[1], -1)
        if self.scores.shape[1] < self.k or not self.k:  # still filling up: every unit merges
            self._keep(scores, idx, acts.transpose(0, 1).to(torch.float16).cpu())
            return
        # Once full, only units where a new sample reaches the k-th kept score can change.
        units = (scores >= self.scores[:, -1:]).any(1).nonzero()[:, 0]
        if len(units):
            part = TopK(len(units), self.k, tuple(self.maps.shape[2:]))
            part.scores, part.indices, part.maps = self.scores[units], self.indices[units], self.maps[units]
            maps = acts[:, units.to(acts.device)].transpose(0, 1).to(torch.float16).cpu()
            part._keep(scores[units], idx[units], maps)
            self.scores[units], self.indices[units], self.maps[units] = part.scores, part.indices, part.maps

    def merge(self, other: TopK) -> None:
        self._keep(other.scores, other.indices, other.maps)

    def _keep(self, scores: torch.Tensor, indices: torch.Tensor, maps: torch.Tensor) -> None:
        scores = torch.cat([self.scores, scores], 1)
        indices = torch.cat([self.indices, indices], 1)
        maps = torch.cat([self.maps, maps], 1)
        # sort by index first, then stably by descending score: equal scores keep index order
        by_index = indices.argsort(dim=1, stable=True)
        order = by_index.gather(1, scores.gather(1, by_index).argsort(dim=1, descending=True, stable=True))
        order = order[:, : self.k]
        self.scores = scores.gather(1, order)
        self.indices = indices.gather(1, order)
        self.maps = maps[torch.arange(maps.shape[0])[:, None], order]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"scores": self.scores, "indices": self.indices, "maps": self.maps}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.scores, self.indices, self.maps = state["scores"].clone(), state["indices"].clone(), state["maps"].clone()

"""The dissection engine: one pass of tallies -> thresholds -> IoU -> labels -> Results.

A short pilot over the first ``pilot`` samples fixes each unit's histogram range
(for the quantile rule, from its top ``tail_factor * quantile`` level up; for the IQR
rule, its whole range). The pilot's samples are then tallied like all others, so the
generator and segmenter see every sample once. The remaining samples are cut into
shards of ``checkpoint_every`` batches; an executor tallies each shard from empty
tallies (in this process, or on Ray workers: ``ganscope.distributed``) and the shards'
tallies merge as they arrive. The merged tallies and the tallied sample ranges are
checkpointed after each shard; a re-run with the same arguments resumes and ends with
the same result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ganscope.budget import check_span
from ganscope.checkpoint import changed, resume, save_state
from ganscope.errors import GanscopeError
from ganscope.images import PngWriter, save_png
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.results import LayerResult, Results, UnitResult, Upsampling
from ganscope.segmenters import CATEGORY_NAMES
from ganscope.session import Session
from ganscope.shards import Span, add_span, covered, gaps, split
from ganscope.stats import JointHistogram, Moments, TopK, upsample
from ganscope.trace import get_module

INSERTION_QUANTILE = 0.005  # insertion value k_u: the unit's 99.5th-percentile activation
PILOT_GROUPS = 4  # lo is the lowest of the groups' estimates (see pilot_ranges)
MAX_SEG_SIZE = 4096  # a larger segmentation side is a typo: its label maps alone would fill memory


@dataclass
class DissectConfig:
    """What a dissection computes; the session says which models, seed, device and batch size."""

    layers: list[str]
    samples: int
    threshold: str = "quantile"
    quantile: float = 0.01
    iou_cutoff: float = 0.04
    seg_size: int | None = None
    bins: int = 256
    pilot: int = 64
    tail_factor: float = 2.0
    topk: int = 8
    checkpoint: Path | None = None
    checkpoint_every: int = 8  # batches per shard; the merged tallies are checkpointed after each shard
    progress: bool | ProgressCallback = False

    def __post_init__(self) -> None:
        """Checked once, here: error messages name the Python argument (the CLI names its flag)."""
        check_span("samples", 0, self.samples)
        checks = [
            ("threshold", self.threshold in ("quantile", "iqr"), f"must be quantile or iqr, got {self.threshold!r}"),
            ("quantile", 0 < self.quantile < 1, f"must be in (0, 1), got {self.quantile}"),
            ("layers", bool(self.layers), "must name at least one layer"),
            ("seg_size", self.seg_size is None or 1 <= self.seg_size <= MAX_SEG_SIZE,
             f"must be in 1..{MAX_SEG_SIZE}, got {self.seg_size}"),
            ("tail_factor", self.tail_factor >= 1, f"must be >= 1, got {self.tail_factor}"),
            ("bins", self.bins >= 1, f"must be >= 1, got {self.bins}"),
            ("topk", self.topk >= 1, f"must be >= 1, got {self.topk}"),
            ("iou_cutoff", 0 <= self.iou_cutoff < 1, f"must be in [0, 1), got {self.iou_cutoff}"),
            ("checkpoint_every", self.checkpoint_every >= 1, f"must be >= 1, got {self.checkpoint_every}"),
        ]
        for argument, ok, problem in checks:
            if not ok:
                raise GanscopeError(f"{argument} {problem}", argument=argument)
        self.layers = list(self.layers)

    def fingerprint(self, session: Session) -> dict[str, str]:
        """What determines the result, in parts (not batch size, device or progress display)."""
        keys = ("layers", "samples", "threshold", "quantile", "seg_size", "bins", "pilot", "tail_factor", "topk")
        options = {k: v for k, v in asdict(self).items() if k in keys}
        options.update(seed=session.seed, model=session.model_name, segmenter=session.segmenter_name)
        digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"options": digest, "weights": session.weights_fingerprint}


@dataclass(frozen=True)
class TallyLayout:
    """What an empty layer tally needs beyond the config: small enough to ship to every worker."""

    lo: torch.Tensor  # per-unit histogram range fixed by the pilot
    hi: torch.Tensor
    map_shape: tuple[int, ...]  # (h, w) of the layer's activation maps


@dataclass
class LayerTally:
    """All streaming statistics of one layer; mergeable and checkpointable."""

    moments: Moments
    histogram: JointHistogram
    topk: TopK

    @classmethod
    def empty(cls, layout: TallyLayout, bins: int, concepts: int, k: int) -> LayerTally:
        units = len(layout.lo)
        histogram = JointHistogram(layout.lo, layout.hi, bins, concepts)
        return cls(Moments(units), histogram, TopK(units, k, layout.map_shape))

    def layout(self) -> TallyLayout:
        return TallyLayout(self.histogram.lo, self.histogram.hi, tuple(self.topk.maps.shape[2:]))

    def update(self, acts: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> None:
        self.moments.update(acts, unit_dim=1)
        self.histogram.update(acts, labels)
        self.topk.update(acts, indices)

    def merge(self, other: LayerTally) -> None:
        self.moments.merge(other.moments)
        self.histogram.merge(other.histogram)
        self.topk.merge(other.topk)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {k: getattr(self, k).state_dict() for k in ("moments", "histogram", "topk")}

    @classmethod
    def from_state(cls, state: dict[str, dict[str, torch.Tensor]]) -> LayerTally:
        units = len(state["moments"]["mean"])
        maps = state["topk"]["maps"]
        tally = cls(Moments(units), JointHistogram(state["histogram"]["lo"], state["histogram"]["hi"], 1, 1),
                    TopK(units, 1, tuple(maps.shape[2:])))
        for key in ("moments", "histogram", "topk"):
            getattr(tally, key).load_state_dict(state[key])
        tally.topk.k = max(tally.topk.k, maps.shape[1])
        return tally


def pilot_ranges(acts: torch.Tensor, size: tuple[int, int], cfg: DissectConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit histogram range (lo, hi) from pilot activations (P, units, h, w).

    lo estimates the level that the top ``tail_factor * quantile`` of upsampled pixels
    reach, from the maps upsampled to at most twice their size (a stratified sample of
    the bilinear values: the same interpolation, fewer positions). It is estimated in
    ``PILOT_GROUPS`` disjoint groups of samples and the lowest estimate kept, so that a
    pilot where a rarely firing unit happens to fire often does not set lo above the
    final threshold. The range only sets the resolution of the histogram; units whose
    threshold falls outside it are listed in the results' ``tail_warnings``. For the IQR
    rule the range spans every value.
    """
    tail = 1.0 if cfg.threshold == "iqr" else min(1.0, cfg.tail_factor * cfg.quantile)
    h, w = acts.shape[2:]
    grid = (min(size[0], 2 * h), min(size[1], 2 * w))
    units = acts.shape[1]
    top = acts.transpose(0, 1).flatten(1).amax(1).cpu()  # bilinear values never exceed the source maximum
    lo = acts.transpose(0, 1).flatten(1).amin(1).cpu()
    if tail < 1:
        step = max(1, (1 << 24) // (acts.shape[0] * grid[0] * grid[1]))
        for start in range(0, units, step):
            chunk = acts[:, start : start + step].transpose(0, 1)  # (units, P, h, w)
            levels = []
            for group in chunk.tensor_split(min(PILOT_GROUPS, chunk.shape[1]), dim=1):
                values = upsample(group.flatten(0, 1), grid).reshape(group.shape[0], -1)
                rank = min(values.shape[1], int(values.shape[1] * (1 - tail)) + 1)  # kthvalue is 1-based
                levels.append(values.kthvalue(rank, dim=1).values)
            lo[start : start + step] = torch.stack(levels).amin(0).cpu()
    return lo, top + 0.25 * (top - lo) + 1e-6


class Executor(Protocol):
    """Tallies shards somewhere; yields (shard, tallies) as each finishes, in any order."""

    def map(self, dissection: Dissection, shards: Iterable[Span], layouts: dict[str, TallyLayout],
            on_samples: Callable[[int], None]) -> Iterator[tuple[Span, dict[str, LayerTally]]]: ...


Keep = Callable[[Sequence[int], torch.Tensor, dict[str, "LayerTally"]], None]  # (indices, images, shard tallies)


class InProcess:
    """The trivial executor: shards one after another in this process, reporting progress per batch.

    With ``keep``, it hands it each batch's images and the shard's tallies so far (``keep_top_images``
    writes the samples that may end among a unit's top samples: they need not be generated again).
    """

    def __init__(self, keep: Keep | None = None):
        self.keep = keep

    def map(self, dissection: Dissection, shards: Iterable[Span], layouts: dict[str, TallyLayout],
            on_samples: Callable[[int], None]) -> Iterator[tuple[Span, dict[str, LayerTally]]]:
        for span in shards:
            yield span, dissection.tally_shard(span, layouts, on_samples, self.keep)


class Dissection:
    """Holds the session and tallies for one run; ``run`` does the pass, ``results`` finishes."""

    def __init__(self, session: Session, cfg: DissectConfig):
        for layer in cfg.layers:
            get_module(session.generator, layer)
        session.concepts  # noqa: B018 (a dissection needs a segmenter: fail now, not after the pilot)
        self.session, self.cfg = session, cfg
        self.tallies: dict[str, LayerTally] = {}
        self.tallied: list[Span] = []  # sample ranges merged into the tallies (sorted, disjoint)
        self.elapsed = 0.0
        self.image_size: list[int] = []

    @property
    def done(self) -> int:
        """Number of samples tallied."""
        return covered(self.tallied)

    # -- state --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.cfg.fingerprint(self.session), "done": self.done,
                "tallied": [list(s) for s in self.tallied], "elapsed": self.elapsed, "image_size": self.image_size,
                "tallies": {k: t.state_dict() for k, t in self.tallies.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tallies = {k: LayerTally.from_state(v) for k, v in state["tallies"].items()}
        spans = state.get("tallied", [[0, state["done"]]])  # checkpoints before sharding tallied a prefix
        self.tallied = [(int(a), int(b)) for a, b in spans]
        self.elapsed, self.image_size = state["elapsed"], list(state["image_size"])

    def try_resume(self) -> bool:
        """Resume from the checkpoint when it was made by the same options and weights; else say why not."""
        mine = self.cfg.fingerprint(self.session)
        state = resume(self.cfg.checkpoint, lambda s: _since(changed(mine, s.get("fingerprint"))))
        if state is not None:
            self.load_state_dict(state)
        return state is not None

    def save(self) -> None:
        if self.cfg.checkpoint is not None:
            save_state(self.cfg.checkpoint, self.state_dict())

    # -- the pass -----------------------------------------------------------------
    def layouts(self) -> dict[str, TallyLayout]:
        return {name: tally.layout() for name, tally in self.tallies.items()}

    def empty_tallies(self, layouts: dict[str, TallyLayout]) -> dict[str, LayerTally]:
        cfg = self.cfg
        return {name: LayerTally.empty(layout, cfg.bins, len(self.session.concepts), cfg.topk)
                for name, layout in layouts.items()}

    def observe(self, indices: Sequence[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Activations of the dissected layers, labels at the segmentation size, and images."""
        acts, images = self.session.observe(indices, self.cfg.layers)
        return acts, self.session.labels(images, self.seg_size(images), indices), images

    def seg_size(self, images: torch.Tensor) -> tuple[int, int]:
        s = self.cfg.seg_size
        return (s, s) if s else (images.shape[2], images.shape[3])

    def tally_shard(self, span: Span, layouts: dict[str, TallyLayout], on_samples: Callable[[int], None] | None = None,
                    keep: Keep | None = None) -> dict[str, LayerTally]:
        """Tallies of samples [start, stop) from empty ones: the unit of work of every executor (``keep``: see
        ``InProcess``)."""
        tallies = self.empty_tallies(layouts)
        for idx in self.session.batches(range(*span)):
            acts, labels, batch = self.observe(idx)
            _update(tallies, idx, acts, labels)
            if keep is not None:
                keep(idx, batch, tallies)
            if on_samples is not None:
                on_samples(len(idx))
        return tallies

    def pilot(self, keep: Keep | None = None) -> None:
        """Observe the first samples, fix each unit's histogram range from them, and tally them (``keep``: see
        ``InProcess``)."""
        cfg = self.cfg
        span = (0, min(cfg.pilot, cfg.samples))
        observed = [(idx, *self.observe(idx)) for idx in self.session.batches(range(*span))]
        images = observed[0][3]
        self.image_size = [images.shape[2], images.shape[3]]
        size = self.seg_size(images)
        layouts = {}
        for name in cfg.layers:
            acts = torch.cat([o[1][name].cpu() for o in observed])
            layouts[name] = TallyLayout(*pilot_ranges(acts, size, cfg), tuple(acts.shape[2:]))
        self.tallies = self.empty_tallies(layouts)
        for idx, acts, labels, _ in observed:
            _update(self.tallies, idx, acts, labels)
        if keep is not None:
            for idx, _, _, batch in observed:
                keep(idx, batch, self.tallies)
        self.tallied = [span]

    def run(self, on_shard: Callable[[int], None] | None = None, executor: Executor | None = None,
            images: Path | None = None) -> None:
        """Tally all samples, resuming from the checkpoint when one matches.

        The pilot runs here; ``executor`` (default: in process) tallies the other shards.
        Each arriving shard is merged and checkpointed, then ``on_shard(done)`` is called.
        ``images``: the pilot and the in-process executor write the samples that may end among a unit's
        top samples to this directory as they pass (``keep_top_images``, on a background thread).
        """
        if images is None:
            self._run(on_shard, executor, None)
            return
        with PngWriter() as write:
            self._run(on_shard, executor, lambda idx, batch, shard: keep_top_images(images, idx, batch, shard,
                                                                                  self.tallies, write))

    def _run(self, on_shard: Callable[[int], None] | None, executor: Executor | None, keep: Keep | None) -> None:
        cfg = self.cfg
        started = time.perf_counter()
        self.try_resume()
        with progress_bar(cfg.progress, "dissect", cfg.samples) as update:
            update(self.done)
            if not self.tallies:
                self.pilot(keep)
                update(self.done)
            shards = split(gaps(self.tallied, cfg.samples), cfg.checkpoint_every * self.session.batch_size)
            seen = [self.done]

            def on_samples(n: int) -> None:
                seen[0] += n
                update(seen[0])

            arrivals = (executor or InProcess(keep)).map(self, shards, self.layouts(), on_samples)
            with closing(arrivals):
                for span, tallies in arrivals:
                    self.merge(span, tallies)
                    seen[0] = self.done
                    update(self.done)
                    self.elapsed += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save()
                    if on_shard is not None:
                        on_shard(self.done)
        self.elapsed += time.perf_counter() - started
        self.save()

    def merge(self, span: Span, tallies: dict[str, LayerTally]) -> None:
        for name, tally in tallies.items():
            self.tallies[name].merge(tally)
        self.tallied = add_span(self.tallied, span)

    # -- results ------------------------------------------------------------------
    def results(self) -> Results:
        cfg, session = self.cfg, self.session
        layers = {name: self._layer_result(name, tally) for name, tally in self.tallies.items()}
        tables: dict[str, torch.Tensor] = {}
        for name, tally in self.tallies.items():
            tables[f"{name}/iou"] = self._iou(tally)[0].float()
            tables[f"{name}/topk_maps"] = tally.topk.maps
            tables[f"{name}/topk_indices"] = tally.topk.indices
            tables[f"{name}/topk_scores"] = tally.topk.scores
        size = self.seg_size(torch.empty(1, 3, *self.image_size))
        return Results(
            model=session.model_name, segmenter=session.segmenter_name, samples=cfg.samples, seed=session.seed,
            threshold_rule=cfg.threshold, quantile=cfg.quantile, iou_cutoff=cfg.iou_cutoff,
            concepts=[{"name": n, "category": c} for n, c in zip(session.concepts, session.categories)],
            layers=layers, upsampling=Upsampling(mode="bilinear", align_corners=False, size=list(size)),
            image_size=self.image_size, elapsed_seconds=round(self.elapsed, 3), tables=tables,
        )

    def _iou(self, tally: LayerTally) -> tuple[torch.Tensor, torch.Tensor]:
        """IoU (units, concepts) and the edge column per unit (quantile) or per unit x concept (iqr)."""
        hist = tally.histogram
        cols = hist.quantile_edges(self.cfg.quantile) if self.cfg.threshold == "quantile" else hist.iqr_edges()
        iou = hist.iou_at(cols)
        iou[:, 0] = 0.0
        iou[tally.moments.max <= tally.moments.min] = 0.0  # a constant unit separates nothing
        return iou, cols

    def _layer_result(self, name: str, tally: LayerTally) -> LayerResult:
        cfg, hist = self.cfg, tally.histogram
        concepts, categories = self.session.concepts, self.session.categories
        iou, cols = self._iou(tally)
        edges = hist.edges()
        best = iou[:, 1:].argmax(1) + 1
        per_unit_cols = cols if cols.dim() == 1 else cols.gather(1, best[:, None])[:, 0]
        thresholds = edges.gather(1, per_unit_cols[:, None])[:, 0]
        insertion = edges.gather(1, hist.quantile_edges(INSERTION_QUANTILE)[:, None])[:, 0]
        above = hist.above()
        pixels = max(hist.pixels, 1)
        warnings = []
        if cfg.threshold == "quantile":
            low = above[:, 0].double() / pixels < cfg.quantile  # the quantile lies below the tallied range
            high = above[:, -1].double() / pixels >= cfg.quantile  # ... or inside the overflow bin
            warnings = (low | high).nonzero()[:, 0].tolist()
        units = []
        for u in range(hist.units):
            order = iou[u].argsort(dim=-1, descending=True, stable=True)[:5]
            top = [(concepts[c], round(float(iou[u, c]), 6)) for c in order.tolist() if iou[u, c] > 0]
            b = int(best[u])
            units.append(UnitResult(
                unit=u, threshold=float(thresholds[u]), label=concepts[b], category=categories[b],
                iou=round(float(iou[u, b]), 6), top_concepts=top, top_samples=tally.topk.indices[u].tolist(),
                insertion_value=float(insertion[u]), mean=_sig(tally.moments.mean[u]), std=_sig(tally.moments.std[u]),
            ))
        present = [c for c in CATEGORY_NAMES if c in categories]
        counts = {c: sum(1 for u in units if u.iou > cfg.iou_cutoff and u.category == c) for c in present}
        acts_shape = list(tally.topk.maps.shape)
        return LayerResult(name=name, shape=[hist.units, *acts_shape[2:]], units=units, interpretable=counts,
                           threshold_bound=float(hist.width.max()), tail_warnings=warnings)


def _update(tallies: dict[str, LayerTally], indices: Sequence[int], acts: dict[str, torch.Tensor],
            labels: torch.Tensor) -> None:
    index_tensor = torch.tensor(list(indices))
    for name, tally in tallies.items():
        tally.update(acts[name].to(labels.device), labels, index_tensor)


def keep_top_images(directory: Path, indices: Sequence[int], images: torch.Tensor, shard: dict[str, LayerTally],
                    merged: dict[str, LayerTally], write: Callable[[Path, torch.Tensor], object] = save_png) -> None:
    """Write ``directory/{i}.png`` for each sample of the batch that may end among a unit's top samples: it is
    in the shard's top k of some unit (just updated with this batch) with a score at least the k-th best merged so
    far (which only rises). Every sample of the final top k passes this test when its batch is tallied (in the
    pilot, ``shard`` and ``merged`` are the same tallies); the pipeline later removes those that were overtaken."""
    wanted = torch.zeros(len(indices), dtype=torch.bool)
    batch = torch.tensor(list(indices))
    for name, tally in shard.items():
        top = tally.topk
        kth = torch.full((top.scores.shape[0],), float("-inf"))
        if name in merged and merged[name].topk.scores.shape[1] >= merged[name].topk.k:
            kth = merged[name].topk.scores[:, -1]
        contender = top.indices[top.scores >= kth[:, None]]
        wanted |= torch.isin(batch, contender)
    for k in wanted.nonzero()[:, 0].tolist():
        write(directory / f"{indices[k]}.png", images[k])


def _sig(value: torch.Tensor) -> float:
    """Nine significant digits: float sums merged in another order differ only in the last bits."""
    return float(f"{float(value):.9g}")


def _since(what: str) -> str:
    return what and f"{what} changed since it was written"

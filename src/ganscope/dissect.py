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
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from ganscope.images import check_finite
from ganscope.io import GanscopeError, load_checkpoint, save_checkpoint
from ganscope.results import LayerResult, Results, UnitResult, Upsampling
from ganscope.sampling import batches, check_device, latents
from ganscope.segmenters import CATEGORY_NAMES, check_segmenter
from ganscope.shards import Span, add_span, covered, gaps, split
from ganscope.stats import JointHistogram, Moments, TopK, upsample
from ganscope.trace import TraceDict, get_module

INSERTION_QUANTILE = 0.005  # insertion value k_u: the unit's 99.5th-percentile activation
PILOT_GROUPS = 4  # lo is the lowest of the groups' estimates (see pilot_ranges)
MAX_SEG_SIZE = 4096  # a larger segmentation side is a typo: its label maps alone would fill memory


@dataclass
class DissectConfig:
    layers: list[str]
    samples: int
    seed: int = 0
    threshold: str = "quantile"
    quantile: float = 0.01
    iou_cutoff: float = 0.04
    batch_size: int = 16
    device: str = "cpu"
    seg_size: int | None = None
    bins: int = 256
    pilot: int = 64
    tail_factor: float = 2.0
    topk: int = 8
    checkpoint: Path | None = None
    checkpoint_every: int = 8  # batches per shard; the merged tallies are checkpointed after each shard
    progress: bool = True
    model_name: str = "custom"
    segmenter_name: str = "custom"
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.samples < 1:
            raise GanscopeError(f"--samples must be >= 1, got {self.samples}")
        if self.batch_size < 1:
            raise GanscopeError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.threshold not in ("quantile", "iqr"):
            raise GanscopeError(f"--threshold must be quantile or iqr, got {self.threshold!r}")
        if not 0 < self.quantile < 1:
            raise GanscopeError(f"--quantile must be in (0, 1), got {self.quantile}")
        if not self.layers:
            raise GanscopeError("give at least one --layer")
        if self.seg_size is not None and not 1 <= self.seg_size <= MAX_SEG_SIZE:
            raise GanscopeError(f"--seg-size must be in 1..{MAX_SEG_SIZE}, got {self.seg_size}")
        if not self.tail_factor >= 1:
            raise GanscopeError(f"--tail-factor must be >= 1, got {self.tail_factor}")
        if self.bins < 1:
            raise GanscopeError(f"--bins must be >= 1, got {self.bins}")
        if not 0 <= self.iou_cutoff < 1:
            raise GanscopeError(f"--iou-cutoff must be in [0, 1), got {self.iou_cutoff}")
        check_device(self.device)

    def fingerprint(self) -> str:
        """What determines the result (not batch size, device, or progress display)."""
        keys = ("layers", "samples", "seed", "threshold", "quantile", "seg_size", "bins", "pilot",
                "tail_factor", "topk", "model_name", "segmenter_name")
        data = {k: v for k, v in asdict(self).items() if k in keys}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


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


class Observer:
    """Runs generator + segmenter on sample indices and returns checked activations and labels."""

    def __init__(self, generator: nn.Module, segmenter: Any, cfg: DissectConfig):
        self.generator, self.segmenter, self.cfg = generator, segmenter, cfg
        for layer in cfg.layers:
            get_module(generator, layer)
        check_segmenter(segmenter)
        self.concepts = len(segmenter.concepts)

    @torch.no_grad()
    def __call__(self, indices: Sequence[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        shape = tuple(self.generator.latent_shape)
        z = latents(cfg.seed, indices, shape).to(cfg.device)
        with TraceDict(self.generator, cfg.layers) as traces:
            try:
                images = self.generator(z)
            except RuntimeError as err:
                raise GanscopeError(
                    f"generator failed on latents of shape {tuple(z.shape)} (latent_shape {shape}): "
                    f"{str(err).splitlines()[0]}"
                ) from err
        images = _check_images(images, indices)
        acts = {name: _check_activations(name, traces[name].output, indices) for name in cfg.layers}
        labels = self._labels(images, indices)
        return acts, labels, images

    def _labels(self, images: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
        labels = self.segmenter.segment(images)
        if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or labels.shape[0] != images.shape[0]:
            got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise GanscopeError(f"segmenter returned {got}; expected a LongTensor of shape (B, H, W)")
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise GanscopeError(f"segmenter returned dtype {labels.dtype}; expected integer labels")
        labels = labels.long()
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.concepts):
            raise GanscopeError(f"segmenter returned labels outside [0, {self.concepts}) for samples "
                                f"{indices[0]}..{indices[-1]}")
        size = self.seg_size(images)
        if tuple(labels.shape[1:]) != size:
            labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
        return labels

    def seg_size(self, images: torch.Tensor) -> tuple[int, int]:
        s = self.cfg.seg_size
        return (s, s) if s else (images.shape[2], images.shape[3])


def _check_images(images: Any, indices: Sequence[int]) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise GanscopeError(f"generator returned {got}; expected images of shape (B, 3, H, W)")
    check_finite("generator output", images, indices)
    return images


def _check_activations(layer: str, acts: torch.Tensor | None, indices: Sequence[int]) -> torch.Tensor:
    if acts is None:
        raise GanscopeError(f"layer {layer!r} did not run during the generator's forward pass")
    if acts.dim() == 2:  # a vector layer: one "pixel" per unit
        acts = acts[:, :, None, None]
    if acts.dim() != 4:
        raise GanscopeError(f"layer {layer!r} output has shape {tuple(acts.shape)}; expected (B, units, h, w)")
    check_finite(f"activations of layer {layer!r}", acts, indices)
    return acts.float()


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

    def map(self, dissection: Dissection, shards: list[Span], layouts: dict[str, TallyLayout],
            on_samples: Callable[[int], None]) -> Iterator[tuple[Span, dict[str, LayerTally]]]: ...


class InProcess:
    """The trivial executor: shards one after another in this process, reporting progress per batch."""

    def map(self, dissection: Dissection, shards: list[Span], layouts: dict[str, TallyLayout],
            on_samples: Callable[[int], None]) -> Iterator[tuple[Span, dict[str, LayerTally]]]:
        for span in shards:
            yield span, dissection.tally_shard(span, layouts, on_samples)


class Dissection:
    """Holds the observer and tallies for one run; ``run`` does the pass, ``results`` finishes."""

    def __init__(self, generator: nn.Module, segmenter: Any, cfg: DissectConfig):
        cfg.validate()
        self.cfg = cfg
        self.observe = Observer(generator, segmenter, cfg)
        self.segmenter = segmenter
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
        return {"fingerprint": self.cfg.fingerprint(), "done": self.done, "tallied": [list(s) for s in self.tallied],
                "elapsed": self.elapsed, "image_size": self.image_size,
                "tallies": {k: t.state_dict() for k, t in self.tallies.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tallies = {k: LayerTally.from_state(v) for k, v in state["tallies"].items()}
        spans = state.get("tallied", [[0, state["done"]]])  # checkpoints before sharding tallied a prefix
        self.tallied = [(int(a), int(b)) for a, b in spans]
        self.elapsed, self.image_size = state["elapsed"], list(state["image_size"])

    def try_resume(self) -> bool:
        path = self.cfg.checkpoint
        if path is None or not path.is_file():
            return False
        state = load_checkpoint(path)
        if state.get("fingerprint") != self.cfg.fingerprint():
            return False
        self.load_state_dict(state)
        return True

    def save(self) -> None:
        if self.cfg.checkpoint is not None:
            save_checkpoint(self.cfg.checkpoint, self.state_dict())

    # -- the pass -----------------------------------------------------------------
    def layouts(self) -> dict[str, TallyLayout]:
        return {name: tally.layout() for name, tally in self.tallies.items()}

    def empty_tallies(self, layouts: dict[str, TallyLayout]) -> dict[str, LayerTally]:
        cfg = self.cfg
        return {name: LayerTally.empty(layout, cfg.bins, self.observe.concepts, cfg.topk)
                for name, layout in layouts.items()}

    def tally_shard(self, span: Span, layouts: dict[str, TallyLayout],
                    on_samples: Callable[[int], None] | None = None) -> dict[str, LayerTally]:
        """Tallies of samples [start, stop) from empty ones: the unit of work of every executor."""
        tallies = self.empty_tallies(layouts)
        for idx in batches(range(*span), self.cfg.batch_size):
            acts, labels, _ = self.observe(idx)
            _update(tallies, idx, acts, labels)
            if on_samples is not None:
                on_samples(len(idx))
        return tallies

    def pilot(self) -> None:
        """Observe the first samples, fix each unit's histogram range from them, and tally them."""
        cfg = self.cfg
        span = (0, min(cfg.pilot, cfg.samples))
        observed = [(idx, *self.observe(idx)) for idx in batches(range(*span), cfg.batch_size)]
        images = observed[0][3]
        self.image_size = [images.shape[2], images.shape[3]]
        size = self.observe.seg_size(images)
        layouts = {}
        for name in cfg.layers:
            acts = torch.cat([o[1][name].cpu() for o in observed])
            layouts[name] = TallyLayout(*pilot_ranges(acts, size, cfg), tuple(acts.shape[2:]))
        self.tallies = self.empty_tallies(layouts)
        for idx, acts, labels, _ in observed:
            _update(self.tallies, idx, acts, labels)
        self.tallied = [span]

    def run(self, on_shard: Callable[[int], None] | None = None, executor: Executor | None = None) -> None:
        """Tally all samples, resuming from the checkpoint when one matches.

        The pilot runs here; ``executor`` (default: in process) tallies the other shards.
        Each arriving shard is merged and checkpointed, then ``on_shard(done)`` is called.
        """
        cfg = self.cfg
        started = time.perf_counter()
        self.try_resume()
        with _progress(cfg.progress) as bar:
            task = bar.add_task("dissect", total=cfg.samples, completed=self.done)
            if not self.tallies:
                self.pilot()
                bar.update(task, completed=self.done)
            shards = split(gaps(self.tallied, cfg.samples), cfg.checkpoint_every * cfg.batch_size)
            arrivals = (executor or InProcess()).map(self, shards, self.layouts(), lambda n: bar.advance(task, n))
            with closing(arrivals):
                for span, tallies in arrivals:
                    self.merge(span, tallies)
                    bar.update(task, completed=self.done)
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
        cfg, seg = self.cfg, self.segmenter
        layers = {name: self._layer_result(name, tally) for name, tally in self.tallies.items()}
        tables: dict[str, torch.Tensor] = {}
        for name, tally in self.tallies.items():
            tables[f"{name}/iou"] = self._iou(tally)[0].float()
            tables[f"{name}/topk_maps"] = tally.topk.maps
            tables[f"{name}/topk_indices"] = tally.topk.indices
            tables[f"{name}/topk_scores"] = tally.topk.scores
        size = self.observe.seg_size(torch.empty(1, 3, *self.image_size))
        return Results(
            model=cfg.model_name, segmenter=cfg.segmenter_name, samples=cfg.samples, seed=cfg.seed,
            threshold_rule=cfg.threshold, quantile=cfg.quantile, iou_cutoff=cfg.iou_cutoff,
            concepts=[{"name": n, "category": c} for n, c in zip(seg.concepts, seg.categories)],
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
        cfg, seg, hist = self.cfg, self.segmenter, tally.histogram
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
            top = [(seg.concepts[c], round(float(iou[u, c]), 6)) for c in order.tolist() if iou[u, c] > 0]
            b = int(best[u])
            units.append(UnitResult(
                unit=u, threshold=float(thresholds[u]), label=seg.concepts[b], category=seg.categories[b],
                iou=round(float(iou[u, b]), 6), top_concepts=top, top_samples=tally.topk.indices[u].tolist(),
                insertion_value=float(insertion[u]), mean=_sig(tally.moments.mean[u]), std=_sig(tally.moments.std[u]),
            ))
        categories = [c for c in CATEGORY_NAMES if c in seg.categories]
        counts = {c: sum(1 for u in units if u.iou > cfg.iou_cutoff and u.category == c) for c in categories}
        acts_shape = list(tally.topk.maps.shape)
        return LayerResult(name=name, shape=[hist.units, *acts_shape[2:]], units=units, interpretable=counts,
                           threshold_bound=float(hist.width.max()), tail_warnings=warnings)


def _update(tallies: dict[str, LayerTally], indices: Sequence[int], acts: dict[str, torch.Tensor],
            labels: torch.Tensor) -> None:
    index_tensor = torch.tensor(list(indices))
    for name, tally in tallies.items():
        tally.update(acts[name].to(labels.device), labels, index_tensor)


def _sig(value: torch.Tensor) -> float:
    """Nine significant digits: float sums merged in another order differ only in the last bits."""
    return float(f"{float(value):.9g}")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        disable=not enabled,
    )


def dissect(generator: nn.Module, segmenter: Any, layers: Sequence[str], samples: int, seed: int = 0,
            threshold: str = "quantile", **options: Any) -> Results:
    """Dissect ``layers`` of ``generator`` over ``samples`` samples; see ``DissectConfig`` for options."""
    cfg = DissectConfig(layers=list(layers), samples=samples, seed=seed, threshold=threshold, **options)
    run = Dissection(generator, segmenter, cfg)
    run.run()
    return run.results()


def load_models(model: str, segmenter: str, device: str) -> tuple[nn.Module, Any]:
    """Generator and segmenter from their specs, on ``device`` (what the CLI and Ray workers run)."""
    from ganscope.models import load_generator
    from ganscope.segmenters import load_segmenter

    check_device(device)
    gen = load_generator(model).to(device)
    seg = load_segmenter(segmenter)
    if hasattr(seg, "to"):
        seg.to(device)
    return gen, seg


@torch.no_grad()
def render_samples(generator: nn.Module, seed: int, indices: Sequence[int], directory: Path,
                   batch_size: int = 16, device: str = "cpu") -> list[Path]:
    """Write ``directory/{index}.png`` for each sample index (skipping ones already there)."""
    from ganscope.images import save_png

    todo = [i for i in sorted(set(indices)) if not (directory / f"{i}.png").is_file()]
    for idx in batches(todo, batch_size):
        images = generator(latents(seed, idx, tuple(generator.latent_shape)).to(device))
        for i, image in zip(idx, images):
            save_png(directory / f"{i}.png", image)
    return [directory / f"{i}.png" for i in indices]

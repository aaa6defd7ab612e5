"""Choose each paint button's unit set by evidence: train candidates, keep the one that paints best.

For every concept and each of draw and remove, candidates are tried at each candidate layer
and set size: the set trained for the brush (``train.train_set``, for draw at each largest gain)
and, for comparison, the top units by IoU (with the concept's levels). Each candidate paints the
selection samples through the paint page's path (``measure``). A draw candidate is also tried
where the concept does not belong (``Context.avoid``): among the candidates that work (score at least
``WORKS``), those that succeed there at most ``ELSEWHERE`` of the time come first, so that context
still matters, as GAN Dissection found (``_preference``). Ties go to the smaller set and gain.
The run writes ``paint_sets.json`` after every button, so an
interrupted run resumes where it stopped when re-run with the same settings and weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ganscope.budget import MAX_STEPS, check_count
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.paintsets.measure import draw_trials, removed_share
from ganscope.paintsets.spots import Context, candidate_centres, contexts_for
from ganscope.paintsets.store import PAINT_SETS_FILE, Candidate, Mode, PaintSet, PaintSets, Settings
from ganscope.paintsets.train import Batch, batches, concept_levels, train_set
from ganscope.progress import progress_bar
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.session import Session
from ganscope.trace import layer_names

SIZES = (8, 16, 32, 64)
GAINS = (1.0, 1.5)
ELSEWHERE = 0.10  # the most a draw set may succeed where its concept does not belong
WORKS = 0.60  # a draw set that succeeds this often where its concept belongs works
TRAIN_START, TRAIN_SAMPLES = 100_000, 64  # far from the samples a dissection or benchmark uses
SELECTION_START, SELECTION_SAMPLES = 200_000, 128  # 32 misjudged doors in the sky: 6 % there, 13 % held out
MAX_CANDIDATES = 96  # layers x sizes x (IoU + each gain) per button; more is refused up front


def paint_layers(session: Session, results: Results) -> list[str]:
    """The dissected layers fine enough to paint a dab but coarser than the image: side 8 .. image side / 2."""
    side = min(results.image_size)
    order = {name: i for i, name in enumerate(layer_names(session.generator))}
    fit = [name for name, r in results.layers.items() if 8 <= min(r.shape[1:]) <= side // 2]
    return sorted(fit, key=lambda name: order.get(name, len(order)))


def compute_paint_sets(session: Session, results: Results, *, out: str | Path | None = None,
                       layers: Sequence[str] | None = None, sizes: Sequence[int] = SIZES,
                       gains: Sequence[float] = GAINS, steps: int = 100,
                       lr: float = 0.1, samples: int = TRAIN_SAMPLES, selection: int = SELECTION_SAMPLES,
                       start: int = TRAIN_START, contexts: dict[str, Context] | None = None,
                       progress: bool | Callable[[float, float], None] = False) -> PaintSets:
    """Paint sets for every concept of the segmenter, chosen on held-out selection samples.

    ``out`` is the results directory to write ``paint_sets.json`` to (and resume from).
    """
    layers = list(layers) if layers is not None else paint_layers(session, results)
    if not layers:
        raise GanscopeError("no dissected layer has a grid between 8 cells and half the image side; dissect one "
                            "or name the layers", argument="layers")
    for layer in layers:
        results.layer(layer)
    if len(layers) * len(sizes) * (1 + len(gains)) > MAX_CANDIDATES:
        raise GanscopeError(f"{len(layers)} layers x {len(sizes)} sizes x {1 + len(gains)} kinds is over "
                            f"{MAX_CANDIDATES} candidates a button", argument="sizes")
    settings = Settings(layers=layers, sizes=sorted(set(sizes)), gains=sorted(set(gains)), steps=steps, lr=lr,
                        train=[start, start + samples],
                        selection=[start + SELECTION_START - TRAIN_START,
                                   start + SELECTION_START - TRAIN_START + selection], seed=session.seed,
                        dissection=results.samples)
    _check_sizes(settings, results)
    sets = _resumed(out, session, results, settings)
    train_labels = _labels(session, range(*settings.train))
    contexts = contexts_for(session.concepts, train_labels, contexts)
    buttons = [(c, m) for c in contexts for m in ("draw", "remove") if _trainable(session, train_labels, c, m,
                                                                                      contexts[c])]
    chooser = _Chooser(session, results, settings, contexts)
    with progress_bar(progress, "paint sets", len(buttons)) as update:
        for k, (concept, mode) in enumerate(buttons):
            if sets.get(concept, mode) is None:
                sets.sets.append(chooser.choose(concept, mode))
                sets.complete = k == len(buttons) - 1
                if out is not None:
                    sets.save(out)
            update(k + 1, f"{mode} {concept}")
    sets.complete = True
    if out is not None:
        sets.save(out)
    return sets


def shipped_sets(session: Session, results: Results, path: Path) -> PaintSets | None:
    """Precomputed sets (shipped beside a model's weights) if they are what ``compute_paint_sets`` would
    compute here with its defaults: same weights, seed, dissection size and layers; else None."""
    if not path.is_file():
        return None
    sets = PaintSets.load(path)
    s = sets.settings
    same = (sets.weights == session.weights_fingerprint and s.seed == session.seed and
            s.dissection == results.samples and s.layers == paint_layers(session, results) and sets.complete)
    return sets if same else None


def _trainable(session: Session, labels: torch.Tensor, concept: str, mode: Mode, context: Context) -> bool:
    """Whether the training samples offer a place to draw the concept, or some of it to remove (else the button
    keeps the IoU ranking)."""
    c = session.concepts.index(concept)
    if mode == "remove":
        return bool((labels == c).any())
    return bool(candidate_centres(labels, c, context, session.concepts).any())


def _check_sizes(settings: Settings, results: Results) -> None:
    for layer in settings.layers:
        units = results.layer(layer).shape[0]
        bad = [n for n in settings.sizes if not 1 <= n <= units]
        if bad:
            raise GanscopeError(f"set size {bad[0]} does not fit layer {layer!r} of {units} units", argument="sizes")
    check_count("steps", settings.steps, MAX_STEPS)
    bad = [g for g in settings.gains if not 0.5 <= g <= 4]
    if bad:
        raise GanscopeError(f"gains must be in 0.5..4, got {bad[0]}", argument="gains")


def _resumed(out: str | Path | None, session: Session, results: Results, settings: Settings) -> PaintSets:
    """The sets an earlier run with the same settings and weights wrote, or an empty file."""
    fresh = PaintSets(model=results.model, segmenter=results.segmenter, weights=session.weights_fingerprint,
                      settings=settings, sets=[], complete=False)
    if out is None or not (Path(out) / PAINT_SETS_FILE).is_file():
        return fresh
    try:
        old = PaintSets.load(out)
    except GanscopeError:
        return fresh
    return old if old.settings == settings and old.weights == fresh.weights else fresh


@torch.no_grad()
def _labels(session: Session, indices: Sequence[int]) -> torch.Tensor:
    return torch.cat([session.labels(session.images(batch)) for batch in session.batches(indices)])


class _Chooser:
    """Trains and scores the candidates of one button at a time (levels per layer computed once)."""

    def __init__(self, session: Session, results: Results, settings: Settings, contexts: dict[str, Context]):
        self.session, self.results, self.settings, self.contexts = session, results, settings, contexts
        self.selection = list(range(*settings.selection))
        self.labels = _labels(session, self.selection)
        self.data: dict[tuple[str, str, str], list[Batch]] = {}  # the training batches of the button at hand
        self.levels = {layer: concept_levels(session.at(layer), range(*settings.train)) for layer in settings.layers}

    def choose(self, concept: str, mode: Mode) -> PaintSet:
        tried: list[tuple[Candidate, list[int], list[float]]] = []
        for layer in self.settings.layers:
            for size in self.settings.sizes:
                kinds = [("iou", 1.0)] + [("trained", g) for g in (self.settings.gains if mode == "draw" else [1.0])]
                for ranking, gain in kinds:
                    units, levels = self._candidate(concept, mode, layer, size, ranking, gain)
                    score, elsewhere = self._score(concept, mode, layer, units, levels)
                    tried.append((Candidate(layer=layer, ranking=ranking, size=size, gain=gain, score=score,
                                            elsewhere=elsewhere), units, levels))
        best = max(tried, key=lambda t: _preference(t[0]))
        return PaintSet(concept=concept, mode=mode, layer=best[0].layer, ranking=best[0].ranking, units=best[1],
                        levels=best[2], score=best[0].score, context=self.contexts[concept].describe(),
                        candidates=[t[0] for t in tried])

    def _candidate(self, concept: str, mode: Mode, layer: str, size: int, ranking: str,
                   gain: float) -> tuple[list[int], list[float]]:
        c = self.session.concepts.index(concept)
        if ranking == "iou":
            units = self.results.top_units(layer, concept, size)
            levels = self.levels[layer][c][units].tolist() if mode == "draw" else [0.0] * size
            return units, levels
        cut, samples, context = self.session.at(layer), range(*self.settings.train), self.contexts[concept]
        key = (layer, concept, mode)
        if key not in self.data:  # one button's candidates at one layer train on the same batches
            self.data = {key: batches(cut, samples, concept, mode, context)}
        return train_set(cut, concept, mode, context, self.levels[layer], size=size, samples=samples,
                         steps=self.settings.steps, lr=self.settings.lr, max_gain=gain, data=self.data[key])

    def _score(self, concept: str, mode: Mode, layer: str, units: list[int],
               levels: list[float]) -> tuple[float, float | None]:
        """The candidate's score, and for draw its success where the concept does not belong (None: unknown)."""
        def painter(concept_: str, mode_: Mode, mask: np.ndarray) -> Intervention:
            return Intervention(layer, units, levels if mode_ == "draw" else None, pooled(mask))

        if mode == "remove":
            return removed_share(self.session, painter, concept, self.selection, self.labels), None
        rates = []
        for where in (self.contexts[concept], self.contexts[concept].elsewhere()):
            draws = [] if where is None else draw_trials(self.session, painter, concept, where, self.selection, None,
                                                         self.labels)[0]
            rates.append(float(np.mean(draws)) if draws else None)
        return rates[0] or 0.0, rates[1]


def _preference(c: Candidate) -> tuple:
    """Sort key: working sets (score >= WORKS) that keep to their context (success elsewhere at most ELSEWHERE)
    first, then working ones, then the score (less the success elsewhere, for those that do not keep to it), then
    fewer units, a smaller gain, trained sets. Where the generator ignores context, nothing keeps to it and the
    best score less its success elsewhere wins."""
    elsewhere = c.elsewhere or 0.0
    fits, works = elsewhere <= ELSEWHERE, c.score >= WORKS
    score = c.score if fits else c.score - elsewhere
    return works and fits, works, round(score, 6), -c.size, -c.gain, c.ranking == "trained"

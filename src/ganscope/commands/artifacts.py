"""CLI for artifact units: ``ganscope artifacts`` ranks units, ablates the worst and measures sample quality."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ganscope.commands.shell import BatchSize, Device, Layer, Model, handle_errors, ints, table
from ganscope.errors import GanscopeError

if TYPE_CHECKING:

    from ganscope.artifacts.quality import Estimate, QualityResult
    from ganscope.artifacts.rank import RankingResult
    from ganscope.results import Results


def _marked(mark: str, browser: bool, results: Results, directory: Path, layer: str) -> list[int] | None:
    """The units given with --mark, or marked in the unit browser (--marked), checked against the layer
    before any work; None without either."""
    from ganscope.artifacts.marks import MarkStore
    from ganscope.artifacts.rank import top_indices
    from ganscope.intervene import check_units

    if mark and browser:
        raise GanscopeError("give --mark UNITS or --marked (the units marked in the unit browser), not both")
    if not mark and not browser:
        return None
    count = len(top_indices(results, layer))
    if browser:
        store = MarkStore(directory)
        units = store.marked(layer)
        if not units:
            raise GanscopeError(f"no units of {layer} are marked in {store.path}: mark some in the unit browser "
                                f"(`ganscope serve --results {directory}`, page /browse) or give --mark UNITS")
        return check_units(units, count, layer)
    return check_units(ints(mark, "--mark"), count, layer)


def _unit_sets(ranked: list[int], marked: list[int] | None, sizes: str, control: bool,
               seed: int) -> dict[str, list[int]]:
    """The marked units, or the top-n candidates for each size; plus random sets of the same sizes as controls."""
    import torch

    if marked:
        sets = {"marked": marked}
    else:
        ns = sorted({min(n, len(ranked)) for n in ints(sizes, "--sizes")})
        if not ns or ns[0] < 1:
            raise GanscopeError(f"--sizes must be positive numbers, got {sizes!r}")
        sets = {f"top {n}": ranked[:n] for n in ns}
    if control:
        g = torch.Generator().manual_seed(seed)
        for name, chosen in list(sets.items()):
            sets[f"random {len(chosen)}" + (" (vs marked)" if name == "marked" else "")] = \
                torch.randperm(len(ranked), generator=g)[: len(chosen)].tolist()
    return sets


def _estimate(e: Estimate | None, signed: bool = False) -> str:
    """``value ± half-width`` for a symmetric interval, else ``value [lo, hi]``."""
    if e is None:
        return "-"
    value = f"{e.value:+.4g}" if signed else f"{e.value:.4g}"
    lo, hi = e.ci
    if abs((hi - e.value) - (e.value - lo)) <= 1e-9 * max(1.0, abs(e.value)):
        return f"{value} ± {hi - e.value:.2g}"
    return f"{value} [{lo:+.3g}, {hi:+.3g}]" if signed else f"{value} [{lo:.3g}, {hi:.3g}]"


def _print_ranking(ranking: RankingResult, label: str, top: int) -> None:
    disc = ranking.baseline_discriminator is not None
    mean, p95 = ranking.random_kid
    table(f"{ranking.layer} artifact candidates (features: {label}); random {ranking.top_samples}-sample sets: "
           f"KID {mean:.4f} (95th percentile {p95:.4f})", ["rank", "unit", "KID", *(["D logit"] if disc else []),
                                                           "label"],
           [[str(k + 1), str(u.unit), f"{u.kid:.4f}", *([f"{u.discriminator:.3f}"] if disc else []),
             f"{u.label} ({u.iou:.2f})"] for k, u in enumerate(ranking.units[:top])])


def _print_quality(quality: QualityResult, label: str, reference_samples: int) -> None:
    table(f"ablating {quality.layer} units: {quality.samples} fresh samples vs {reference_samples} reference images "
           f"(features: {label}; 95 % CIs)", ["ablated", "KID", "KID change", "FID", "FID change", "D logit",
                                              "D change"],
           [["none", _estimate(quality.kid), "", f"{quality.fid:.4g}", "", _estimate(quality.discriminator), ""]]
           + [[s.name, _estimate(s.kid), _estimate(s.kid_change, True), f"{s.fid:.4g}", _estimate(s.fid_change, True),
               _estimate(s.discriminator), _estimate(s.discriminator_change, True)] for s in quality.sets])


@handle_errors
def artifacts(
    layer: Layer,
    results: Annotated[Path, typer.Option(help="Dissection results directory (each unit's top samples).")],
    out: Annotated[Path | None, typer.Option(help="Output directory (default: --results, where the report "
                                                  "shows the candidates).")] = None,
    top: Annotated[int, typer.Option(help="Candidates to show (table, plot, grid).")] = 20,
    mark: Annotated[str, typer.Option(help="Ablate these units (comma-separated) instead of the top-n.")] = "",
    marked: Annotated[bool, typer.Option("--marked", help="Ablate the units marked in the unit browser "
                                         "(marked_units.json in --results) instead of the top-n.")] = False,
    sizes: Annotated[str, typer.Option(help="Without --mark: ablate the top n candidates for each n.")] = "10,20",
    samples: Annotated[int, typer.Option(help="Fresh samples for the before/after comparison (0: skip).")] = 500,
    reference_samples: Annotated[int, typer.Option(help="Reference images.")] = 500,
    blocks: Annotated[int, typer.Option(help="Disjoint KID blocks (confidence intervals).")] = 10,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the FID change.")] = 50,
    score: Annotated[str, typer.Option(help="Rank by kid (of top samples) or discriminator (mean logit).")] = "kid",
    features: Annotated[str, typer.Option(help="auto (Inception if its weights are cached, else demo), demo, "
                                               "inception[:PATH] or package.module:callable.")] = "auto",
    reference: Annotated[str, typer.Option(help="Reference images: demo (world renders) or package.module:"
                                                "callable (default: demo for the demo model).")] = "",
    discriminator: Annotated[str, typer.Option(help="none, demo[:PATH] or package.module:callable "
                                                    "(default: demo for the demo model, else none).")] = "",
    control: Annotated[bool, typer.Option(help="Also ablate random unit sets of the same sizes.")] = True,
    reference_seed: Annotated[int, typer.Option(help="Seed of the reference images.")] = 1,
    model: Model = "demo", batch_size: BatchSize = 32, device: Device = "",
) -> None:
    """Rank units by the quality of the samples they fire on; ablate candidates; KID/FID before and after."""
    from ganscope.artifacts import Scorer, ablation_quality, load_discriminator, load_reference, rank_units
    from ganscope.artifacts.features import load_features
    from ganscope.artifacts.plots import candidate_grid, plot_artifacts
    from ganscope.artifacts.summary import ArtifactsResult
    from ganscope.io import output_directory
    from ganscope.results import Results
    from ganscope.session import Session

    if top < 1 or samples < 0 or reference_samples < 2:
        raise GanscopeError("--top must be >= 1, --samples >= 0 and --reference-samples >= 2")
    demo = model.partition(":")[0] == "demo"
    if not reference and not demo:
        raise GanscopeError("give --reference (images of the real distribution) for a model other than demo")
    res = Results.load(results)
    res.layer(layer)  # a layer the dissection has, before any model loads
    chosen = _marked(mark, marked, res, results if results.is_dir() else results.parent, layer)
    out = results if out is None else out
    with output_directory(out):
        session = Session.from_specs(model, None, seed=res.seed, device=device or None, batch_size=batch_size)
        device = session.device
        disc = load_discriminator(discriminator or ("demo" if demo else "none"))
        size = session.images([0]).shape[-1]
        scorer = Scorer(load_features(features, device), load_reference(reference or "demo"), reference or "demo",
                        reference_samples, reference_seed, size, None if disc is None else disc.to(device), device)
        cut = session.at(layer)
        ranking = rank_units(cut, res, scorer, score=score, progress=True)
        quality = None
        if samples:
            sets = _unit_sets(ranking.ranked(), chosen, sizes, control, res.seed)
            quality = ablation_quality(cut, sets, scorer, blocks=blocks, bootstrap=bootstrap, samples=samples,
                                       start=res.samples, progress=True)
        label = scorer.features.label
        saved = ArtifactsResult(model=model, results=str(results), dissection_samples=res.samples,
                                **scorer.describe(), top=top, ranking=ranking, quality=quality).save(out)
        plot = plot_artifacts(ranking, quality, label, top, out / "artifacts.png")
        grid = candidate_grid(session, ranking, top, out / "candidates.png")
        _print_ranking(ranking, label, top)
        if quality is not None:
            _print_quality(quality, label, reference_samples)
        typer.echo(f"results: {saved}, plot: {plot}, candidates: {grid} (one row per unit)")


def register(app: typer.Typer) -> None:
    """Add ``artifacts`` to ``app``."""
    app.command()(artifacts)

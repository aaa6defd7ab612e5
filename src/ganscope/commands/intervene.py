"""CLI for interventions: ablate, insert, ace, optimize, rank-mask, context (see ganscope.intervene)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ganscope.commands.shell import (
    BatchSize,
    Box,
    Concept,
    Device,
    Layer,
    Mask,
    Model,
    Out,
    ResultsDir,
    Samples,
    Seed,
    Segmenter,
    Top,
    UnitList,
    Value,
    ValueRule,
    handle_errors,
    ints,
    region_flags,
    table,
)
from ganscope.errors import GanscopeError

if TYPE_CHECKING:
    import torch

    from ganscope.intervene import AceResult, Region
    from ganscope.results import Results
    from ganscope.session import Cut


def _cut(model: str, segmenter: str, layer: str, seed: int, batch_size: int, device: str) -> Cut:
    from ganscope.session import Session

    return Session.from_specs(model, segmenter, seed=seed, device=device or None, batch_size=batch_size).at(layer)


def _results(directory: Path | None, why: str) -> Results:
    from ganscope.results import Results

    if directory is None:
        raise GanscopeError(f"{why} needs --results DIR (a dissection of this model)")
    return Results.load(directory)


def _units(units: str, top: int, concept: str, results: Path | None, layer: str) -> list[int]:
    if units and top:
        raise GanscopeError("give --units or --top, not both")
    if top:
        return _results(results, "--top").top_units(layer, concept, top)
    if not units:
        raise GanscopeError("give the units: --units 1,2,3 or --top N --results DIR")
    return ints(units, "--units")


def _values(value: str, rule: str, results: Path | None, layer: str, units: list[int]) -> torch.Tensor:
    import torch

    from ganscope.intervene import insertion_values

    if value:
        try:
            numbers = [float(v) for v in value.split(",")]
        except ValueError:
            raise GanscopeError(f"--value must be numbers, got {value!r}") from None
        if len(numbers) not in (1, len(units)):
            raise GanscopeError(f"--value has {len(numbers)} numbers for {len(units)} units")
        return torch.tensor(numbers)
    return insertion_values(_results(results, "insertion (no --value)"), layer, units, rule)


def _image_size(cut: Cut) -> tuple[int, int]:
    return tuple(cut.session.images([0]).shape[2:])


def _region(cut: Cut, mask: Path | None, box: str) -> Region | None:
    return region_flags(mask, box, lambda: _image_size(cut))


def _edit(kind: str, model: str, segmenter: str, layer: str, units: str, top: int, concept: str,
          results: Path | None, value: str, value_rule: str, samples: int, seed: int, mask: Path | None, box: str,
          out: Path, device: str) -> None:
    """Shared body of ``ablate`` and ``insert``: originals above, edited images below."""
    import torch

    from ganscope.images import grid, save_png
    from ganscope.intervene import ablate as run_ablate
    from ganscope.intervene import insert as run_insert

    if samples < 1:
        raise GanscopeError(f"--samples must be >= 1, got {samples}")
    cut = _cut(model, segmenter, layer, seed, samples, device)
    chosen = _units(units, top, concept, results, layer)
    region = _region(cut, mask, box)
    if kind == "ablate":
        result = run_ablate(cut, chosen, region=region, samples=samples)
    else:
        values = _values(value, value_rule, results, layer, chosen)
        result = run_insert(cut, chosen, values, region=region, samples=samples)
    path = save_png(out / f"{kind}.png", grid(torch.cat([result.original, result.edited]), columns=samples))
    typer.echo(f"{kind}: {path} (top row: original, bottom row: {kind} {layer} units {result.units})")


@handle_errors
def ablate(layer: Layer, units: UnitList = "", top: Top = 0, concept: Concept = "", results: ResultsDir = None,
           samples: Samples = 8, seed: Seed = 0, mask: Mask = None, box: Box = "", model: Model = "demo",
           segmenter: Segmenter = "demo", out: Out = Path("ablate-out"), device: Device = "") -> None:
    """Set units of a layer to zero (everywhere or in a region) and save before/after images."""
    _edit("ablate", model, segmenter, layer, units, top, concept, results, "", "p99.5", samples, seed, mask,
          box, out, device)


@handle_errors
def insert(layer: Layer, units: UnitList = "", top: Top = 0, concept: Concept = "", results: ResultsDir = None,
           value: Value = "", value_rule: ValueRule = "p99.5", samples: Samples = 8, seed: Seed = 0,
           mask: Mask = None, box: Box = "", model: Model = "demo", segmenter: Segmenter = "demo",
           out: Out = Path("insert-out"), device: Device = "") -> None:
    """Set units of a layer to their insertion values (everywhere or in a region) and save images."""
    _edit("insert", model, segmenter, layer, units, top, concept, results, value, value_rule, samples, seed,
          mask, box, out, device)


def _print_ace(result: AceResult) -> None:
    table(f"{result.concept}: {result.layer} units {result.units}, {result.samples} samples", ["", "mean", "95% CI"],
          [["baseline", f"{result.baseline:.4f}", ""], ["ablated", f"{result.ablated:.4f}", ""],
           ["inserted", f"{result.inserted:.4f}", ""],
           ["ACE (inserted - ablated)", f"{result.ace:.4f}", "[{:.4f}, {:.4f}]".format(*result.ace_ci)],
           ["ablation (baseline - ablated)", f"{result.ablation_effect:.4f}",
            "[{:.4f}, {:.4f}]".format(*result.ablation_ci)]])


@handle_errors
def ace(layer: Layer, concept: Concept, units: UnitList = "", top: Top = 0, results: ResultsDir = None,
        value: Value = "", value_rule: ValueRule = "p99.5", samples: Samples = 100, seed: Seed = 0,
        mask: Mask = None, box: Box = "",
        curve: Annotated[bool, typer.Option(help="Also the top-n removal curve (IoU ranking), to --out.")] = False,
        out: Out = Path("ace-out"), as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        model: Model = "demo", segmenter: Segmenter = "demo", batch_size: BatchSize = 16,
        device: Device = "") -> None:
    """Average causal effect of a unit set on a concept (inserted minus ablated), with a 95 % interval."""
    from ganscope.intervene import ace as run_ace
    from ganscope.intervene import removal_curve
    from ganscope.intervene.plots import plot_curve

    cut = _cut(model, segmenter, layer, seed, batch_size, device)
    cut.concept(concept)
    chosen = _units(units, top, concept, results, layer)
    result = run_ace(cut, chosen, concept, values=_values(value, value_rule, results, layer, chosen),
                     region=_region(cut, mask, box), samples=samples)
    data = {"model": model, **result.model_dump()}
    if curve:
        ranking = _results(results, "--curve").top_units(layer, concept, 64)
        points = removal_curve(cut, ranking, concept, samples=samples)
        points.save(out)
        data["curve"] = str(plot_curve(points, out / "curve.png"))
        table(f"removing the top-n {layer} units by IoU: {concept}", ["n", "ablated", "removed", "95% CI"],
              [[str(p.n), f"{p.ablated:.4f}", f"{p.drop:.1%}", f"[{p.effect_ci[0]:.4f}, {p.effect_ci[1]:.4f}]"]
               for p in points.points], stderr=as_json)
    if as_json:
        typer.echo(json.dumps(data))
    else:
        _print_ace(result)


@handle_errors
def optimize(layer: Layer, concept: Concept, results: ResultsDir = None, samples: Samples = 32,
             held_out: Annotated[int, typer.Option(help="Held-out samples for the ACE comparison.")] = 32,
             steps: Annotated[int, typer.Option(help="Adam steps (one batch each).")] = 200,
             penalty: Annotated[float | None, typer.Option(
                 help="lambda, the weight of ||alpha||_2 (default 0.05; none with --size).")] = None,
             lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 0.05,
             mode: Annotated[str, typer.Option(help="insert (h' = (1-a)h + ak) or ablate (k = 0).")] = "insert",
             size: Annotated[int | None, typer.Option(
                 help="Train a set of exactly this many units (straight-through top-n).")] = None,
             sizes: Annotated[str, typer.Option(help="Top-n sizes to compare.")] = "1,2,4,8,16,32",
             value_rule: ValueRule = "p99.5", seed: Seed = 0, out: Out = Path("optimize-out"),
             model: Model = "demo", segmenter: Segmenter = "demo", batch_size: BatchSize = 16,
             device: Device = "") -> None:
    """Train a continuous unit mask alpha for a concept; compare its top-n with IoU's top-n by ACE."""
    from ganscope.intervene import compare_rankings, insertion_values, optimise_alpha
    from ganscope.intervene.plots import plot_comparison

    res = _results(results, "optimize")
    cut = _cut(model, segmenter, layer, seed, batch_size, device)
    cut.concept(concept)
    units = res.layer(layer).shape[0]
    values = insertion_values(res, layer, range(units), value_rule)
    ns = ints(sizes, "--sizes")
    trained = optimise_alpha(cut, concept, values=values, steps=steps, penalty=penalty, lr=lr, mode=mode, size=size,
                             samples=samples, progress=True)
    comparison = compare_rankings(cut, concept, values=values, alpha_ranking=trained.ranking,
                                  iou_ranking=res.top_units(layer, concept, units), sizes=ns, mode=mode,
                                  samples=held_out, start=samples)
    saved = trained.model_copy(update={"comparison": comparison}).save(out)
    plot = plot_comparison(comparison, concept, out / "optimize.png")
    what = "ACE" if mode == "insert" else f"pixel fraction removed (baseline {comparison.baseline:.4f})"
    table(f"{what} on {held_out} held-out samples: top-n by alpha vs by IoU", ["n", "alpha", "IoU"],
          [[str(n), f"{a:.4f}", f"{i:.4f}"] for n, a, i in zip(ns, comparison.alpha_effect, comparison.iou_effect)])
    typer.echo(f"top units by alpha: {trained.ranking[:16]}\nresults: {saved}, plot: {plot}")


@handle_errors
def rank_mask(layer: Layer, mask: Annotated[Path, typer.Option(help="PNG mask painted on the sample.")],
              index: Annotated[int, typer.Option(help="Sample index (with --seed).")] = 0, seed: Seed = 0,
              quantile: Annotated[float, typer.Option(help="Top fraction of each unit's pixels.")] = 0.01,
              results: Annotated[Path | None, typer.Option(help="Use this dissection's thresholds.")] = None,
              out: Out = Path("rank-mask-out"), model: Model = "demo", segmenter: Segmenter = "demo",
              device: Device = "") -> None:
    """Rank units by the IoU of their top activations with a painted mask; zero the top 4/16/128."""
    import torch

    from ganscope.images import grid, save_png
    from ganscope.intervene import Region, rank_by_mask
    from ganscope.results import Results

    cut = _cut(model, segmenter, layer, seed, 1, device)
    region = Region.from_png(mask, _image_size(cut))
    thresholds = None
    if results is not None:
        thresholds = torch.tensor([u.threshold for u in Results.load(results).layer(layer).units])
    ranking = rank_by_mask(cut, region.mask, quantile=quantile, thresholds=thresholds, start=index)
    saved = ranking.model_copy(update={"images": None}).save(out)
    path = save_png(out / "rank-mask.png", grid(ranking.images, columns=len(ranking.images)))
    table(f"{layer} units by IoU with the mask", ["rank", "unit", "IoU"],
          [[str(k + 1), str(u), f"{ranking.scores[u]:.4f}"] for k, u in enumerate(ranking.ranking[:10])])
    typer.echo(f"images: {path} (original, top 4 / 16 / 128 units zeroed)\nranking: {saved}")


@handle_errors
def context(layer: Layer, concept: Concept, units: UnitList = "", top: Top = 0, results: ResultsDir = None,
            value: Value = "", value_rule: ValueRule = "p99.5", samples: Samples = 16, seed: Seed = 0,
            tile: Annotated[int, typer.Option(help="Region size in feature cells (tile x tile).")] = 2,
            min_fraction: Annotated[float, typer.Option(help="Success: this share of the region.")] = 0.25,
            out: Out = Path("context-out"), model: Model = "demo", segmenter: Segmenter = "demo",
            batch_size: BatchSize = 16, device: Device = "") -> None:
    """Insert units in a small region at every location; success rate by the concept that was there."""
    from ganscope.intervene import context as run_context
    from ganscope.intervene.plots import plot_context

    cut = _cut(model, segmenter, layer, seed, batch_size, device)
    cut.concept(concept)
    chosen = _units(units, top, concept, results, layer)
    result = run_context(cut, chosen, concept, values=_values(value, value_rule, results, layer, chosen), tile=tile,
                         min_fraction=min_fraction, samples=samples)
    saved = result.save(out)
    plot = plot_context(result, out / "context.png")
    table(f"inserting {layer} units {chosen}: does {concept} appear?", ["before", "trials", "success", "mean"],
          [[r.before, str(r.trials), f"{r.rate:.1%}", f"{r.mean_fraction:.3f}"] for r in result.rows])
    typer.echo(f"results: {saved}, plot: {plot}")


def register(app: typer.Typer) -> None:
    """Add the intervention subcommands to ``app``."""
    for command in (ablate, insert, ace, optimize):
        app.command()(command)
    app.command("rank-mask")(rank_mask)
    app.command()(context)

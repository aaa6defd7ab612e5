"""Subcommands that dissect: ``dissect`` and ``demo``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ganscope.commands.shell import handle_errors

if TYPE_CHECKING:
    from ganscope.results import Results


class ThresholdRule(str, Enum):
    quantile = "quantile"
    iqr = "iqr"


@handle_errors
def dissect(
    layer: Annotated[list[str], typer.Option("--layer", "-l", help="Layer to dissect (repeat for several).")],
    out: Annotated[Path, typer.Option(help="Output directory (results.json, report, samples).")],
    model: Annotated[str, typer.Option(help="Generator spec: demo, NAME:PATH or package.module:callable.")] = "demo",
    segmenter: Annotated[str, typer.Option(help="Segmenter spec: demo or package.module:callable.")] = "demo",
    samples: Annotated[int, typer.Option(help="Number of generated samples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Sample i uses latent(seed, i).")] = 0,
    threshold: Annotated[ThresholdRule, typer.Option(help="quantile (PNAS) or iqr (ICLR).")] = ThresholdRule.quantile,
    quantile: Annotated[float, typer.Option(help="Top fraction of pixels above the threshold.")] = 0.01,
    iou_cutoff: Annotated[float, typer.Option(help="A unit is interpretable when its best IoU exceeds this.")] = 0.04,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 16,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
    seg_size: Annotated[int | None, typer.Option(help="Segmentation resolution (default: image size).")] = None,
    bins: Annotated[int, typer.Option(help="Histogram bins per unit (threshold resolution).")] = 256,
    tail_factor: Annotated[float, typer.Option(
        help="Tally each unit from the level its top tail-factor x quantile pilot pixels reach; raise it if "
        "results list tail_warnings.")] = 2.0,
    report: Annotated[bool, typer.Option(help="Render the HTML report when done.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    ray: Annotated[str | None, typer.Option(
        metavar="[ADDRESS]", help="Tally shards on Ray workers: alone, a local cluster on all CPUs; or the cluster "
        "at ADDRESS (auto: the running one). Needs pip install 'ganscope\\[ray]'.")] = None,
) -> None:
    """Dissect generator layers: thresholds, IoU with every concept, labels, counts."""
    from ganscope.budget import check_span

    check_span("samples", 0, samples)  # before torch and the models load: a typo fails at once
    from ganscope.pipeline import run_dissection
    from ganscope.session import Session

    session = Session.from_specs(model, segmenter, seed=seed, device=device or None, batch_size=batch_size)
    results = run_dissection(session, layer, samples, out=out, threshold=threshold.value, quantile=quantile,
                             iou_cutoff=iou_cutoff, seg_size=seg_size, bins=bins, tail_factor=tail_factor,
                             report=report, progress=progress, ray=ray)
    typer.echo(f"results: {out / 'results.json'}")
    print_summary(results)
    if report:
        typer.echo(f"report: {out / 'index.html'}")


# early (4x4), 8x8 (where roofs paint best), middle (16x16), late (64x64)
DEMO_LAYERS = ["layer2", "layer4", "layer6", "layer9"]


@handle_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/demo"),
    samples: Annotated[int, typer.Option(help="Number of generated samples.")] = 1000,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
) -> None:
    """Dissect the built-in demo generator (early, middle, late layer), write the report and the paint sets."""
    dissect(layer=DEMO_LAYERS, out=out, samples=samples, device=device)
    demo_paint_sets(out, device)
    typer.echo(f"open {(out / 'index.html').resolve()} in a browser")


@handle_errors
def demo_paint_sets(out: Path, device: str) -> None:
    """The demo's paint sets: the shipped ones when they are exactly what ``ganscope paint-sets`` would compute
    for this dissection (same weights, seed, samples, layers), else computed now."""
    from ganscope.models import DEMO_PAINT_SETS
    from ganscope.paintsets import compute_paint_sets
    from ganscope.paintsets.choose import shipped_sets
    from ganscope.results import Results
    from ganscope.session import Session

    results = Results.load(out)
    session = Session.from_specs("demo", "demo", seed=results.seed, device=device or None)
    sets = shipped_sets(session, results, DEMO_PAINT_SETS)
    if sets is not None:
        sets.save(out)
        typer.echo(f"paint sets: {out / 'paint_sets.json'} (precomputed for the demo weights)")
        return
    compute_paint_sets(session, results, out=out, progress=True)
    typer.echo(f"paint sets: {out / 'paint_sets.json'}")


def print_summary(results: Results) -> None:
    """A table of interpretable units per layer and category."""
    from rich.console import Console
    from rich.table import Table

    categories = list(next(iter(results.layers.values())).interpretable)
    table = Table(title=f"interpretable units (IoU > {results.iou_cutoff})")
    for column in ["layer", "units", *categories, "concepts"]:
        table.add_column(column)
    for name, layer_result in results.layers.items():
        good = {u.label for u in layer_result.units if u.iou > results.iou_cutoff}
        table.add_row(name, str(layer_result.shape[0]), *(str(layer_result.interpretable[c]) for c in categories),
                      ", ".join(sorted(good)))
    Console().print(table)
    for name, layer_result in results.layers.items():
        if layer_result.tail_warnings:
            typer.echo(f"warning: {len(layer_result.tail_warnings)} units of {name} have thresholds outside their "
                       "tallied range (listed in tail_warnings); re-run with a larger --tail-factor", err=True)


def register(app: typer.Typer) -> None:
    app.command()(dissect)
    app.command()(demo)

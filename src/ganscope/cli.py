"""The ``ganscope`` command: one entry point with a subcommand per task."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated

import torch
import typer

from ganscope.commands import register_all
from ganscope.io import GanscopeError, output_directory
from ganscope.results import Results

app = typer.Typer(
    help="Open up image generators: dissect units, intervene, paint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def handle_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn GanscopeError into a one-line message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except GanscopeError as err:
            fail(str(err))

    return wrapper


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@app.callback()
def _root() -> None:
    """Open up image generators: dissect units, intervene, paint."""


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2 (bad input)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


class DemoPart(str, Enum):
    generator = "generator"
    segmenter = "segmenter"


@app.command("train-demo")
@handle_errors
def train_demo(
    part: Annotated[DemoPart, typer.Argument(help="Which demo network to train.")],
    steps: Annotated[int, typer.Option(help="Total optimisation steps (resumes from the last checkpoint).")] = 6000,
    cpu_seconds: Annotated[float | None, typer.Option(
        help="Generator: stop after this much process CPU time instead of a step count.")] = None,
    recipe: Annotated[str, typer.Option(help="Generator recipe (see ganscope.train.recipes).")] = "v1",
    batch_size: Annotated[int, typer.Option(help="Segmenter: images per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Segmenter: Adam learning rate.")] = 0.002,
    run_dir: Annotated[Path, typer.Option(help="Checkpoints go here; re-run to resume.")] = Path("runs/demo"),
    export: Annotated[Path | None, typer.Option(help="Write safetensors weights here at each checkpoint.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
    threads: Annotated[int, typer.Option(help="CPU threads for torch (0: torch's default).")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 100,
) -> None:
    """Train the demo generator or segmenter on the demo world, resumably."""
    from ganscope.train.demo import TrainConfig, train_generator, train_segmenter
    from ganscope.train.recipes import get_recipe

    if threads:
        torch.set_num_threads(threads)
    cfg = TrainConfig(
        run_dir=run_dir, steps=steps, batch=batch_size, lr=lr, export=export,
        device=device or default_device(), checkpoint_every=checkpoint_every,
    )
    if part is DemoPart.generator:
        path = train_generator(cfg, get_recipe(recipe), cpu_seconds=cpu_seconds)
    else:
        path = train_segmenter(cfg)
    typer.echo(f"checkpoint: {path}")


class ThresholdRule(str, Enum):
    quantile = "quantile"
    iqr = "iqr"


@app.command()
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
        "at ADDRESS (auto: the running one). Needs pip install 'ganscope[ray]'.")] = None,
) -> None:
    """Dissect generator layers: thresholds, IoU with every concept, labels, counts."""
    from ganscope.dissect import DissectConfig, Dissection, load_models, render_samples

    with output_directory(out):
        device = device or default_device()
        gen, seg = load_models(model, segmenter, device)
        cfg = DissectConfig(
            layers=layer, samples=samples, seed=seed, threshold=threshold.value, quantile=quantile,
            iou_cutoff=iou_cutoff, batch_size=batch_size, device=device, seg_size=seg_size, bins=bins,
            tail_factor=tail_factor, checkpoint=out / "tallies.ckpt", progress=progress, model_name=model,
            segmenter_name=segmenter,
        )
        run = Dissection(gen, seg, cfg)
        if ray is None:
            run.run()
        else:
            from ganscope.distributed import RayExecutor, ray_cluster

            with ray_cluster(None if ray == LOCAL_RAY else ray):
                run.run(executor=RayExecutor(model, segmenter))
        results = run.results()
        path = results.save(out)
        tops = {i for layer_result in results.layers.values() for u in layer_result.units for i in u.top_samples}
        render_samples(gen, seed, sorted(tops), out / "samples", batch_size, device)
        typer.echo(f"results: {path}")
        print_summary(results)
        if report:
            render_report(out)


DEMO_LAYERS = ["layer2", "layer6", "layer9"]  # early (4x4), middle (16x16), late (64x64)


@app.command()
@handle_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/demo"),
    samples: Annotated[int, typer.Option(help="Number of generated samples.")] = 1000,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
) -> None:
    """Dissect the built-in demo generator (early, middle, late layer) and write the report."""
    dissect(layer=DEMO_LAYERS, out=out, samples=samples, device=device)
    typer.echo(f"open {(out / 'index.html').resolve()} in a browser")


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


def render_report(directory: Path) -> None:
    try:
        from ganscope.report import build_report
    except ImportError:
        return
    typer.echo(f"report: {build_report(directory)}")


register_all(app)


LOCAL_RAY = "local"  # the value of a bare --ray (as in ray.init: start a new local cluster)


def optional_values(argv: list[str], defaults: dict[str, str]) -> list[str]:
    """Give options that stand alone their default value (typer cannot declare an optional value)."""
    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in defaults and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            out.append(defaults[arg])
    return out


def main() -> None:
    try:
        app(args=optional_values(sys.argv[1:], {"--ray": LOCAL_RAY}))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)

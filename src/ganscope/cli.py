"""The ``ganscope`` command: one entry point with a subcommand per task."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import torch
import typer

from ganscope.io import GanscopeError

app = typer.Typer(
    help="Open up image generators: dissect units, intervene, paint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
def train_demo(
    part: Annotated[DemoPart, typer.Argument(help="Which demo network to train.")],
    steps: Annotated[int, typer.Option(help="Total optimisation steps (resumes from the last checkpoint).")] = 6000,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 0.002,
    run_dir: Annotated[Path, typer.Option(help="Checkpoints go here; re-run to resume.")] = Path("runs/demo"),
    export: Annotated[Path | None, typer.Option(help="Write safetensors weights here at each checkpoint.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
    threads: Annotated[int, typer.Option(help="CPU threads for torch (0: torch's default).")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 100,
) -> None:
    """Train the demo generator or segmenter on the demo world, resumably."""
    from ganscope.train.demo import TrainConfig, train_generator, train_segmenter

    if threads:
        torch.set_num_threads(threads)
    cfg = TrainConfig(
        run_dir=run_dir, steps=steps, batch=batch_size, lr=lr, export=export,
        device=device or ("cuda" if torch.cuda.is_available() else "cpu"), checkpoint_every=checkpoint_every,
    )
    try:
        path = (train_generator if part is DemoPart.generator else train_segmenter)(cfg)
    except GanscopeError as err:
        fail(str(err))
    typer.echo(f"checkpoint: {path}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)

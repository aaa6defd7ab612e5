"""Subcommands that train the demo networks: ``train-demo generator|segmenter``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ganscope.commands.shell import handle_errors

if TYPE_CHECKING:
    pass


class DemoPart(str, Enum):
    generator = "generator"
    segmenter = "segmenter"


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
    import torch

    from ganscope.session import default_device
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


def register(app: typer.Typer) -> None:
    app.command("train-demo")(train_demo)

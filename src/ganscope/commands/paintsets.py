"""CLI: ``ganscope paint-sets`` chooses each paint button's causal unit set (ganscope.paintsets)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganscope.commands.shell import Model, Segmenter, handle_errors, ints, numbers


@handle_errors
def paint_sets(
    results: Annotated[Path, typer.Option(help="Dissection results directory; paint_sets.json is written there.")],
    model: Model = "demo",
    segmenter: Segmenter = "demo",
    layer: Annotated[list[str] | None, typer.Option("--layer", "-l", help="Candidate layer (repeat; default: the "
                                                    "dissected layers of side 8 to half the image side).")] = None,
    sizes: Annotated[str, typer.Option(help="Candidate set sizes, comma-separated.")] = "8,16,32,64",
    gains: Annotated[str, typer.Option(help="Candidate largest gains of trained draw levels (1: the concept's own "
                                            "activations), comma-separated.")] = "1,1.5",
    steps: Annotated[int, typer.Option(help="Training steps per candidate set.")] = 100,
    samples: Annotated[int, typer.Option(help="Training samples (from --start).")] = 64,
    selection: Annotated[int, typer.Option(help="Samples that choose among the candidates (from --start + "
                                                "100000).")] = 128,
    start: Annotated[int, typer.Option(help="First training sample (keep it away from the samples you judge "
                                            "the sets on).")] = 100_000,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
) -> None:
    """Choose the units each paint button edits (draw and remove, every concept), by how well they paint.

    Re-running with the same settings resumes an interrupted run. The paint page, the notebook
    PaintWidget and paint-photo use the sets from then on.
    """
    from ganscope.paintsets import compute_paint_sets
    from ganscope.results import Results
    from ganscope.session import Session

    loaded = Results.load(results)
    session = Session.from_specs(model, segmenter, seed=loaded.seed, device=device or None)
    sets = compute_paint_sets(session, loaded, out=loaded.directory, layers=layer or None,
                              sizes=ints(sizes, "--sizes"), gains=numbers(gains, "--gains"), steps=steps,
                              samples=samples, selection=selection, start=start, progress=True)
    for s in sets.sets:
        typer.echo(f"{s.mode:6s} {s.concept:12s} {len(s.units):3d} units of {s.layer} ({s.ranking}), "
                   f"score {s.score:.2f}")
    typer.echo(f"paint sets: {loaded.directory / 'paint_sets.json'}")


def register(app: typer.Typer) -> None:
    app.command("paint-sets")(paint_sets)

"""``ganscope report DIR`` and ``ganscope compare DIR1 DIR2 ... --out OUT``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganscope.commands.shell import handle_errors


@handle_errors
def report(
    directory: Annotated[Path, typer.Argument(help="A dissection directory (holding results.json).")],
) -> None:
    """Render DIR/index.html (unit galleries, plots, layer and concept pages) from DIR/results.json."""
    from ganscope.report import build_report

    typer.echo(f"report: {build_report(directory)}")


@handle_errors
def compare(
    directories: Annotated[list[Path], typer.Argument(help="Two or more dissection directories.")],
    out: Annotated[Path, typer.Option(help="Directory for the comparison page (index.html).")],
) -> None:
    """Compare dissections: interpretable units per category and concepts covered, per layer."""
    from ganscope.report import compare_report

    typer.echo(f"comparison: {compare_report(directories, out)}")


def register(app: typer.Typer) -> None:
    """Add the report and compare subcommands."""
    app.command()(report)
    app.command()(compare)

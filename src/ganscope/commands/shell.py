"""What every subcommand shares: error display (library arguments named as flags), options, tables."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ganscope.errors import GanscopeError

FLAGS = {"layers": "--layer", "photo": "--image"}  # library arguments whose flag is not --argument-name

console, err_console = Console(), Console(stderr=True)

if TYPE_CHECKING:
    from ganscope.regions import Region


def flag(argument: str) -> str:
    """The CLI flag of a library argument."""
    return FLAGS.get(argument, "--" + argument.replace("_", "-"))


def handle_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn GanscopeError into a one-line message and exit status 2, naming flags, not Python arguments."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except GanscopeError as err:
            message = str(err)
            if err.argument and message.startswith(err.argument):
                message = flag(err.argument) + message[len(err.argument):]
            fail(message)

    return wrapper


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2 (bad input)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


Model = Annotated[str, typer.Option(help="Generator spec: demo, NAME:PATH or package.module:callable.")]
Segmenter = Annotated[str, typer.Option(help="Segmenter spec: demo or package.module:callable.")]
Layer = Annotated[str, typer.Option("--layer", "-l", help="The layer whose units are edited.")]
UnitList = Annotated[str, typer.Option(help="Comma-separated unit numbers, e.g. 3,17,42.")]
Top = Annotated[int, typer.Option(help="Use the top N units by IoU for --concept (needs --results).")]
Concept = Annotated[str, typer.Option(help="Concept name, as the segmenter calls it.")]
ResultsDir = Annotated[Path | None, typer.Option(help="Dissection results directory (IoU ranking, insertion values).")]
Value = Annotated[str, typer.Option(help="Insertion value: one number or one per unit (default: from --results).")]
ValueRule = Annotated[str, typer.Option(help="Insertion values from --results: p99.5 (default) or mean+3std.")]
Samples = Annotated[int, typer.Option(help="Number of samples.")]
Seed = Annotated[int, typer.Option(help="Sample i uses latent(seed, i).")]
Mask = Annotated[Path | None, typer.Option(help="PNG mask (image size; white = region).")]
Box = Annotated[str, typer.Option(help="Region box in image pixels: x0,y0,x1,y1.")]
Out = Annotated[Path, typer.Option(help="Output directory.")]
BatchSize = Annotated[int, typer.Option(help="Samples per batch.")]
Device = Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")]


def ints(text: str, what: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GanscopeError(f"{what} must be comma-separated integers, got {text!r}") from None


def numbers(text: str, what: str) -> list[float]:
    """Comma-separated finite numbers."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GanscopeError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise GanscopeError(f"{what} must be positive numbers, got {text!r}")
    return values


def region_flags(mask: Path | None, box: str, size: Callable[[], tuple[int, int]]) -> Region | None:
    """The region that ``--mask`` or ``--box`` names on images of ``size()`` (asked only when needed), or None."""
    from ganscope.regions import Region

    if mask is not None and box:
        raise GanscopeError("give --mask or --box, not both")
    if mask is not None:
        return Region.from_png(mask, size())
    if box:
        corners = ints(box, "--box")
        if len(corners) != 4:
            raise GanscopeError(f"--box needs x0,y0,x1,y1, got {box!r}")
        return Region.box(*corners, size())
    return None


def table(title: str, columns: list[str], rows: list[list[str]], stderr: bool = False) -> None:
    """A rich table on stdout (stderr when stdout carries JSON)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    (err_console if stderr else console).print(table)

"""The ``ganscope`` command: one entry point with a subcommand per task."""

from __future__ import annotations

import sys

import typer

from ganscope.cluster import LOCAL
from ganscope.commands import register_all

app = typer.Typer(
    help="Open up image generators: dissect units, intervene, paint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Open up image generators: dissect units, intervene, paint."""


register_all(app)


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
        app(args=optional_values(sys.argv[1:], {"--ray": LOCAL}))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)

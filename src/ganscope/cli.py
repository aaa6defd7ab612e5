"""The ``ganscope`` command: one entry point with a subcommand per task."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ganscope.allocator import keep_freed_memory
from ganscope.cluster import LOCAL
from ganscope.commands import register_all

# click's base exception, wherever this typer's click lives (typer may vendor it)
CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """Usage errors (an option's value of the wrong type, an unknown option) as one line and exit 2, like every
    other error of the CLI, instead of a usage box."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except CLICK_ERROR as err:
            if not standalone_mode:
                raise
            if type(err).__name__ == "NoArgsIsHelpError":  # `ganscope` alone: the help
                typer.echo(err.ctx.get_help(), err=True)
            else:
                typer.secho(f"error: {' '.join(err.format_message().split())}", fg=typer.colors.RED, err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("interrupted", err=True)
            sys.exit(1)
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else 0)
        return code


app = typer.Typer(
    cls=OneLineErrors,
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
    keep_freed_memory()
    try:
        app(args=optional_values(sys.argv[1:], {"--ray": LOCAL}))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)

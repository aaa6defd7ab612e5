"""Subcommands that live beside their feature; each module has ``register(app)``."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Add every feature's subcommands to the ``ganscope`` app."""
    from ganscope.commands import intervene

    intervene.register(app)
    from ganscope.commands import report

    report.register(app)
    from ganscope.commands import models

    models.register(app)
    from ganscope.commands import server

    server.register(app)

"""Subcommands that live beside their feature; each module has ``register(app)``."""

from __future__ import annotations

import importlib

import typer

FEATURES = ("report", "intervene", "server", "models", "artifacts")


def register_all(app: typer.Typer) -> None:
    """Add every feature's subcommands to the ``ganscope`` app.

    Imported here, not at module level: the feature modules use helpers from ``ganscope.cli``.
    """
    for feature in FEATURES:
        importlib.import_module(f"ganscope.commands.{feature}").register(app)

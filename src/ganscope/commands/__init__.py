"""Subcommands that live beside their feature; each module has ``register(app)``."""

from __future__ import annotations

import importlib

import typer

FEATURES = ("dissect", "report", "intervene", "paintsets", "server", "models", "artifacts", "train", "photos")


def register_all(app: typer.Typer) -> None:
    """Add every feature's subcommands to the ``ganscope`` app.

    Imported on use, so that ``import ganscope.commands`` stays light.
    """
    for feature in FEATURES:
        importlib.import_module(f"ganscope.commands.{feature}").register(app)

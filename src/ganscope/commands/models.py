"""``ganscope models``, ``ganscope fetch NAME`` and ``ganscope convert IN OUT.safetensors``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the models, fetch and convert subcommands."""
    from ganscope.commands.shell import handle_errors

    @app.command("models")
    @handle_errors
    def list_models() -> None:
        """List known real checkpoints: architecture, resolution, layers, licence, source, cache state."""
        from rich.console import Console
        from rich.table import Table

        from ganscope.models.catalog import CATALOG, cache_dir, cached_path

        table = Table(title=f"real models (cache: {cache_dir()})")
        for column in ("name", "spec", "res", "layers", "licence", "cached", "source (sha256 prefix)"):
            table.add_column(column, overflow="fold")
        for entry in CATALOG.values():
            table.add_row(entry.name, entry.spec, str(entry.resolution), entry.layer_summary, entry.licence,
                          "yes" if cached_path(entry).is_file() else "-", f"{entry.url} ({entry.sha256})")
        Console().print(table)
        typer.echo("download with `ganscope fetch NAME`; dissect with --model SPEC")

    @app.command()
    @handle_errors
    def fetch(
        name: Annotated[str, typer.Argument(help="A name from `ganscope models`.")],
        progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    ) -> None:
        """Download a catalog checkpoint into $GANSCOPE_CACHE (default ~/.cache/ganscope), checking its sha256."""
        from ganscope.models.catalog import lookup
        from ganscope.models.fetch import fetch as download

        entry = lookup(name)
        typer.echo(f"{entry.name}: {download(entry, progress)}  (use --model {entry.spec})")

    @app.command()
    @handle_errors
    def convert(
        source: Annotated[Path, typer.Argument(help="A .pth/.pt checkpoint.")],
        out: Annotated[Path, typer.Argument(help="Output .safetensors file.")],
        trust_checkpoint: Annotated[bool, typer.Option(
            help="Allow pickled objects in SOURCE (this can run code from the file: only for trusted sources).",
        )] = False,
        keep: Annotated[list[str] | None, typer.Option(
            help="Keep only these top-level entries (repeatable), e.g. --keep g_ema --keep latent_avg.",
        )] = None,
    ) -> None:
        """Convert a checkpoint to safetensors (nested dicts flattened to dotted keys; non-tensors dropped)."""
        from ganscope.models.convert import convert_checkpoint

        kept, dropped = convert_checkpoint(source, out, trust_checkpoint, keep or [])
        typer.echo(f"wrote {out}: {kept} tensors" + (f"; dropped non-tensors: {', '.join(dropped)}" if dropped else ""))

"""``ganscope models``, ``ganscope fetch NAME`` and ``ganscope convert IN OUT.safetensors``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganscope.commands.shell import handle_errors


@handle_errors
def list_models(
    wide: Annotated[bool, typer.Option(help="Also layers, licence and download source.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List known real checkpoints (architecture, resolution, cache state) and segmenters."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ganscope.models.catalog import CATALOG, cache_dir, cached_path
    from ganscope.segmenters.ade20k import SEGFORMER_ADE

    generators = [{"name": e.name, "spec": e.spec, "resolution": e.resolution, "layers": e.layer_summary,
                   "licence": e.licence, "cached": cached_path(e).is_file(), "url": e.url, "sha256": e.sha256}
                  for e in CATALOG.values()]
    segmenters = [{"name": name, "hub": repo, "input": side, "spec": "segformer:DIR",
                   "get": f"huggingface-cli download {repo} --local-dir DIR"}
                  for name, (repo, side) in SEGFORMER_ADE.items()]
    if as_json:
        typer.echo(json.dumps({"cache": str(cache_dir()), "generators": generators, "segmenters": segmenters}))
        return
    console = Console()
    table = Table(title="generators", caption=f"cache: {cache_dir()}")
    columns = ["name", "spec", "res", "cached"] + (["layers", "licence", "source (sha256 prefix)"] if wide else [])
    for column in columns:
        table.add_column(column, overflow="fold")
    for g in generators:
        extra = [g["layers"], g["licence"], f"{g['url']} ({g['sha256']})"] if wide else []
        table.add_row(g["name"], g["spec"], str(g["resolution"]), "yes" if g["cached"] else "-", *extra)
    console.print(table)
    seg_table = Table(title="segmenters (ADE20K, 150 concepts)")
    for column in ["name", "Hugging Face repo", "input"]:
        seg_table.add_column(column, overflow="fold")
    for m in segmenters:
        seg_table.add_row(m["name"], m["hub"], str(m["input"]))
    console.print(seg_table)
    typer.echo("generators: `ganscope fetch NAME`, then --model SPEC (--wide: layers, URLs);\n"
               "            NVIDIA's .pkl (stylegan2-ada, stylegan3): --model stylegan:PATH\n"
               "            pytorch-pretrained-biggan's DIR: --model 'biggan:DIR?class=church'")
    typer.echo("segmenters: `huggingface-cli download REPO --local-dir DIR`,\n"
               "            then --segmenter segformer:DIR")


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


def register(app: typer.Typer) -> None:
    """Add the models, fetch and convert subcommands."""
    app.command("models")(list_models)
    app.command()(fetch)
    app.command()(convert)

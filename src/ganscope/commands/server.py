"""CLI: ``ganscope serve`` runs the paint app and REST API (ganscope.server) under uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from ganscope.commands.shell import handle_errors
from ganscope.errors import GanscopeError


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@handle_errors
def serve(
    results: Annotated[Path, typer.Option(help="Dissection results directory of this model (the unit browser "
                                               "keeps artifact marks there).")],
    model: Annotated[str, typer.Option(help="Generator spec: demo, NAME:PATH or package.module:callable.")] = "demo",
    segmenter: Annotated[str, typer.Option(help="Segmenter spec the results were dissected with.")] = "demo",
    host: Annotated[str, typer.Option(help="Address to bind (other machines can connect unless loopback).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 5001,
    layer: Annotated[str, typer.Option(help="Layer that painting edits (default: middle dissected layer).")] = "",
    units: Annotated[int, typer.Option(help="Top units by IoU that painting a concept edits.")] = 20,
    device: Annotated[str, typer.Option(help="cpu or cuda (default: cuda when present).")] = "",
) -> None:
    """Serve the paint page (/), the unit browser (/browse) and the API (docs at /docs)."""
    try:
        import uvicorn

        from ganscope.server import create_app
    except ImportError as err:
        raise GanscopeError(f"the server needs its extra: pip install 'ganscope[server]' ({err})") from None
    from ganscope.results import Results
    from ganscope.session import Session

    directory = results if results.is_dir() else results.parent  # --results may name results.json itself
    session = Session.from_specs(model, segmenter, device=device or None)
    app = create_app(session, Results.load(results), layer=layer or None, units=units, directory=directory)
    if not is_loopback(host):
        typer.secho(f"warning: binding {host}: anyone who can reach this machine on port {port} can use the "
                    "server (no authentication); use --host 127.0.0.1 to keep it local", fg=typer.colors.YELLOW,
                    err=True)
    typer.echo(f"ganscope: http://{host}:{port}/ (API docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

"""CLI for real photos: ``invert`` (a photo into the generator) and ``paint-photo`` (units painted on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganscope.commands.shell import (
    Box,
    Concept,
    Device,
    Mask,
    Model,
    Out,
    Seed,
    Segmenter,
    UnitList,
    handle_errors,
    ints,
    region_flags,
)
from ganscope.errors import GanscopeError

Image = Annotated[Path, typer.Option(help="The photo: a PNG or JPEG (centre-cropped square, resized to the model).")]
InversionDir = Annotated[Path, typer.Option(help="Directory of a `ganscope invert` run.")]


@handle_errors
def invert(image: Image, layer: Annotated[str, typer.Option(
               "--layer", "-l", help="The layer you will paint at; the layers after it are adapted.")],
           out: Out = Path("invert-out"), model: Model = "demo", segmenter: Segmenter = "demo",
           perceptual: Annotated[str, typer.Option(help="Perceptual features: auto (the segmenter's encoder, "
                                                   "if any), none, demo or package.module:callable.")] = "auto",
           starts: Annotated[int, typer.Option(help="Random starting latents.")] = 8,
           search_steps: Annotated[int, typer.Option(help="Steps on all starts before the best is kept.")] = 30,
           steps: Annotated[int, typer.Option(help="Latent refinement steps (step 1).")] = 170,
           adapt_steps: Annotated[int, typer.Option(help="Adaptation steps (step 2).")] = 200,
           regularise: Annotated[float, typer.Option(help="L2 weight on the adaptation.")] = 0.05,
           seed: Seed = 0, device: Device = "") -> None:
    """Invert a photo: find its latent, adapt the generator to it; resumes an interrupted run in --out."""
    from ganscope.photos import invert as run_invert
    from ganscope.session import Session

    session = Session.from_specs(model, segmenter, device=device or None, batch_size=1)
    inversion = run_invert(session, image, layer=layer, out=out, starts=starts, search_steps=search_steps,
                           steps=steps, adapt_steps=adapt_steps, perceptual=perceptual, regularise=regularise,
                           seed=seed, progress=True)
    step1, step2 = inversion.metrics["step1"], inversion.metrics["step2"]
    typer.echo(f"inverted {image} into {model} at {layer}: {out}")
    for name, metrics in (("step 1 (latent)", step1), ("step 2 (adapted)", step2)):
        iou = f", segmentation mean IoU {metrics['mean_iou']:.3f}" if "mean_iou" in metrics else ""
        typer.echo(f"  {name}: PSNR {metrics['psnr']:.2f} dB{iou}")


@handle_errors
def paint_photo(inversion: InversionDir, results: Annotated[Path, typer.Option(
                    help="Dissection results of the model (unit ranking, insertion values).")],
                mode: Annotated[str, typer.Option(help="remove (ablate) or draw (insert).")],
                concept: Concept = "", units: UnitList = "",
                top: Annotated[int, typer.Option(help="Paint --concept's top N units by IoU instead of its paint "
                                                 "set (default without paint sets: 20).")] = 0,
                mask: Mask = None, box: Box = "",
                layer: Annotated[str, typer.Option("--layer", "-l", help="Paint --concept's top units by IoU at "
                                                   "this layer (default: its paint set, or the inversion's layer "
                                                   "by IoU when --results has no paint sets).")] = "",
                strength: Annotated[float, typer.Option(help="Edit strength (alpha).")] = 1.0,
                out: Annotated[Path, typer.Option(help="Output PNG.")] = Path("paint-photo.png"),
                device: Device = "") -> None:
    """Paint a concept on an inverted photo (its paint set, as on the paint page): the edit inside --mask/--box,
    the photo elsewhere."""
    import torch

    from ganscope.images import grid, save_png
    from ganscope.painting import Palette
    from ganscope.photos import Inversion
    from ganscope.results import Results

    inverted = Inversion.load(inversion, device=device or None)
    region = region_flags(mask, box, lambda: tuple(inverted.photo.shape[1:]))
    if region is None:
        raise GanscopeError("paint where? give --mask PNG or --box x0,y0,x1,y1")
    chosen = ints(units, "--units") if units else None
    palette = Palette.of(inverted.session, Results.load(results), layer=inverted.generator.layer,
                         weights=inverted.weights)
    edit = palette.edit(mode, region, concept=concept or None, units=chosen, layer=layer or None, top=top or None,
                        strength=strength)
    if palette.note and concept and not chosen:
        typer.echo(f"note: {palette.note}", err=True)
    image = inverted.edit([edit])
    save_png(out, image)
    side = save_png(out.with_name(out.stem + "-before-after.png"), grid(torch.stack([inverted.photo, image]), 2))
    typer.echo(f"{mode} {concept or 'units'} at {edit.layer} ({len(edit.units)} units): {out} (and {side})")


def register(app: typer.Typer) -> None:
    """Add the photo subcommands to ``app``."""
    app.command()(invert)
    app.command("paint-photo")(paint_photo)

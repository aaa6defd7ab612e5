"""Measure photo editing on the demo (docs/photos.md): reconstruction, edit effect and locality, time.

On held-out world renders (seed 17; the demo models trained on seed 1): PSNR and the demo segmenter's
mean IoU (reconstruction vs photo) after step 1 (latent) and step 2 (adaptation); trees removed in a
region painted around the photo's trees, trees drawn on a painted square of grass (the paint default,
the top 20 tree units by IoU, and the top 8 by optimised alpha); how much the
composite and the raw generator change outside the edit's grown region; seconds per inversion. Also
inverts the hand-edited examples in examples/photos/. Writes summary.json and before/after pictures.

    .venv/bin/python scripts/photo_experiments.py --results runs/intervene/dissect [--photos 50] [--threads 2]

``--results`` is a dissection of the demo at ``--layer`` (``ganscope dissect --model demo -l layer6
--samples 400 --out runs/intervene/dissect``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ganscope.images import grid
from ganscope.painting import paint
from ganscope.photos import invert, read_photo
from ganscope.photos.composite import MARGIN, edit_limit
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.session import Session
from ganscope.world import LABEL, render

PHOTO_SEED = 17
TREE, GRASS = LABEL["tree"], LABEL["grass"]
BOX = 16  # side of the painted grass square
OPTIMISED = Path("docs/intervene/optimize/optimize.json")  # `ganscope optimize --concept tree` at layer6, by
# scripts/intervene_experiments.sh on the shipped weights


def optimised_tree_units(count: int = 8) -> list[int]:
    """The top tree units by optimised alpha on the shipped weights (docs/experiments.md)."""
    return json.loads(OPTIMISED.read_text())["ranking"][:count]


def grown(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    return F.max_pool2d(mask.float()[None, None], 2 * pixels + 1, stride=1, padding=pixels)[0, 0] > 0


def grass_square(labels: torch.Tensor) -> torch.Tensor | None:
    """The BOX x BOX square (stride 4) with the most grass, if it is at least 90 % grass."""
    cover = F.avg_pool2d((labels == GRASS).float()[None, None], BOX, stride=4)[0, 0]
    if cover.max() < 0.9:
        return None
    y, x = divmod(int(cover.argmax()), cover.shape[1])
    mask = torch.zeros_like(labels, dtype=torch.bool)
    mask[4 * y : 4 * y + BOX, 4 * x : 4 * x + BOX] = True
    return mask


def fraction(labels: torch.Tensor, concept: int, mask: torch.Tensor) -> float:
    return float((labels[mask] == concept).float().mean())


def locality(inv, edit, edited_photo: torch.Tensor) -> dict[str, float]:  # noqa: ANN001
    """Changes outside the edit's region grown by MARGIN: of the composite (vs the photo) and of the raw
    generator output (vs the reconstruction), in 8-bit levels."""
    outside = edit_limit([edit], tuple(inv.photo.shape[1:]), MARGIN) == 0
    raw = (inv.edited([edit]) - inv.reconstruction()).abs() * 127.5
    return {"composite_max": float(((edited_photo - inv.photo).abs() * 127.5)[:, outside].max()),
            "raw_mean": float(raw[:, outside].mean()), "raw_max": float(raw[:, outside].max())}


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    session = Session.from_specs("demo", "demo", device="cpu", batch_size=1)
    base = Session.from_specs("demo", "demo", device="cpu", batch_size=1)  # step 1 pictures: no adaptation
    results = Results.load(args.results)
    photos = list(render(range(args.photos), seed=PHOTO_SEED).images)
    edited = sorted(Path("examples/photos").glob("edited-*.png"))
    photos += [read_photo(path, 64) for path in edited]
    rows, pictures = [], []
    for index, photo in enumerate(photos):
        start = time.perf_counter()
        inv = invert(session, photo, layer=args.layer)
        seconds = time.perf_counter() - start
        row = {"photo": index if index < args.photos else edited[index - args.photos].name, "seconds": seconds,
               "step1": inv.metrics["step1"], "step2": inv.metrics["step2"]}
        labels = session.labels(photo[None])[0]
        shown = [photo, base.images(z=inv.latent)[0], inv.reconstruction()]
        trees = labels == TREE
        if trees.float().mean() >= 0.02:
            region = grown(trees, 2)
            edit = paint(results, args.layer, "remove", pooled(region.numpy()), concept="tree")
            out = inv.edit([edit])
            after = session.labels(out[None])[0]
            row["remove"] = {"before": fraction(labels, TREE, region), "after": fraction(after, TREE, region),
                             **locality(inv, edit, out)}
            shown.append(out)
        square = grass_square(labels)
        for kind, units in (("draw", None), ("draw_optimised", args.draw_units)) if square is not None else ():
            edit = paint(results, args.layer, "draw", pooled(square.numpy()), concept="tree", units=units)
            out = inv.edit([edit])
            after = session.labels(out[None])[0]
            row[kind] = {"before": fraction(labels, TREE, square), "after": fraction(after, TREE, square),
                         **locality(inv, edit, out)}
        if square is not None:
            shown.append(out)
        rows.append(row)
        if len(shown) == 5 and (len(pictures) < 6 or index >= args.photos):
            pictures.append((index >= args.photos, shown))
        print(json.dumps(row), flush=True)
    return summarise(rows, args), pictures


def summarise(rows: list[dict], args: argparse.Namespace) -> dict:
    world = [r for r in rows if isinstance(r["photo"], int)]

    def mean(values: list[float]) -> float:
        return round(statistics.fmean(values), 4) if values else float("nan")

    summary = {"photos": len(world), "layer": args.layer, "threads": args.threads,
               "seconds_mean": mean([r["seconds"] for r in world]), "seconds_max": max(r["seconds"] for r in world)}
    for step in ("step1", "step2"):
        summary[step] = {k: mean([r[step][k] for r in world]) for k in ("psnr", "mean_iou")}
        summary[step]["mean_iou_min"] = min(r[step]["mean_iou"] for r in world)
    for kind in ("remove", "draw", "draw_optimised"):
        done = [r[kind] for r in world if kind in r]
        summary[kind] = {"photos": len(done), **{k: mean([d[k] for d in done]) for k in
                                                 ("before", "after", "raw_mean")},
                         "raw_max": max(d["raw_max"] for d in done),
                         "composite_max": max(d["composite_max"] for d in done)}
        if kind == "remove":
            drops = [1 - d["after"] / d["before"] for d in done if d["before"] > 0]
            summary[kind] |= {"drop_mean": mean(drops), "drop_min": round(min(drops), 4),
                              "at_least_half": sum(x >= 0.5 for x in drops)}
    summary["edited"] = [{k: r[k] for k in ("photo", "step1", "step2")} for r in rows if r not in world]
    summary["rows"] = rows
    return summary


def save_pictures(pictures: list, out: Path) -> None:
    for name, chosen in (("world", [p for off, p in pictures if not off]), ("edited", [p for off, p in pictures
                                                                                        if off])):
        if chosen:
            picture = grid(torch.stack([image for row in chosen for image in row]), columns=5)
            picture.resize((picture.width * 3, picture.height * 3), Image.Resampling.NEAREST).save(
                out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--draw-units", type=lambda text: [int(u) for u in text.split(",")],
                        default=None, help="a second tree unit set to draw with (default: the top 8 by "
                        "optimised alpha in docs/experiments.md)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/photos"))
    args = parser.parse_args()
    args.draw_units = args.draw_units or optimised_tree_units()
    args.out.mkdir(parents=True, exist_ok=True)
    summary, pictures = run(args)
    save_pictures(pictures, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()

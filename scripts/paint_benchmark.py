"""The held-out paint benchmark: every paint button, before (IoU top 20) and after (paint sets).

``python scripts/paint_benchmark.py RESULTS_DIR [--samples N] [--start S]`` paints draw dabs at plausible
spots and remove strokes over each concept's pixels on samples [S, S + N) (default 0..199, never used to
choose the sets: they train on 100000.. and are chosen on 200000..), through the paint page's own path
(``painting.Palette.edit`` on a brush mask, then ``Session.images``). It writes docs/paint/benchmark.json,
a before/after grid per concept (docs/paint/CONCEPT.png), and the section between the paint markers of
docs/experiments.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ganscope.images import grid, save_png
from ganscope.painting import Palette
from ganscope.paintsets import Context, PaintSets, benchmark, contexts_for
from ganscope.paintsets.measure import dab_centres
from ganscope.paintsets.spots import dab_mask, remove_mask
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.session import Session

DOCS = Path("docs")
OUT = DOCS / "paint"
BEGIN, END = "<!-- paint:begin -->", "<!-- paint:end -->"
DRAW_TARGET = ("tree", "door", "window", "brick", "building", "cloud", "grass", "dome", "roof")
REMOVE_TARGET = ("tree", "door", "window", "brick", "building", "cloud", "roof", "dome")
GRID_SAMPLES = 12


def painter(palette: Palette):
    return lambda concept, mode, mask: palette.edit(mode, pooled(mask), concept=concept)


def run(directory: Path, indices: list[int]) -> dict:
    torch.set_num_threads(2)
    results = Results.load(directory)
    session = Session.from_specs(results.model, results.segmenter, seed=results.seed)
    grids = {n: tuple(r.shape[1:]) for n, r in results.layers.items()}
    contexts = contexts_for(session.concepts)
    palettes = {"before": Palette.of(session, results, sets=None), "after": Palette.of(session, results)}
    out: dict = {"samples": [indices[0], indices[-1] + 1], "sets": {}}
    for name, palette in palettes.items():
        started = time.perf_counter()
        scores = benchmark(session, painter(palette), contexts, indices, grids, progress=True)
        out[name] = [s.model_dump() for s in scores]
        sky = benchmark(session, painter(palette), {"door": Context(("sky",))}, indices, grids)[0]
        out[f"{name}_door_in_sky"] = sky.model_dump()
        out[f"{name}_seconds"] = time.perf_counter() - started
    out["layers"], out["choice"] = choice(palettes["after"].sets)
    first, stop = palettes["after"].sets.settings.selection
    out["selection"] = stop - first
    for concept in contexts:
        out["sets"][concept] = {mode: {"layer": b.layer, "units": len(b.units), "source": b.source}
                                for mode in ("draw", "remove") for b in [palettes["after"].button(concept, mode)]}
        before_after_grid(session, palettes["after"], concept, contexts[concept], indices[:GRID_SAMPLES])
    return out


def missed(targets: tuple[str, ...], met: list[str]) -> str:
    """" (a, b missing)" for the targets not met, or nothing."""
    left = [c for c in targets if c not in met]
    return f" ({', '.join(left)} missing)" if left else ""


def choice(sets: PaintSets) -> tuple[list[str], list[dict]]:
    """Per button: the best selection score of each (layer, ranking) among the candidates, and the winner."""
    rows = []
    for s in sets.sets:
        best: dict[str, float] = {}
        for c in s.candidates:
            key = f"{c.layer}/{c.ranking}"
            best[key] = max(best.get(key, 0.0), c.score)
        won = next(c for c in s.candidates if (c.layer, c.ranking, c.size) == (s.layer, s.ranking, len(s.units))
                   and c.score == s.score)
        elsewhere = "" if won.elsewhere is None else f", {pct(won.elsewhere)} where it does not belong"
        rows.append({"concept": s.concept, "mode": s.mode, "best": best,
                     "chosen": f"{len(s.units)} of {s.layer}, {s.ranking}, gain <= {won.gain:g}{elsewhere}"})
    return sets.settings.layers, rows


@torch.no_grad()
def before_after_grid(session: Session, palette: Palette, concept: str, context: Context, indices: list[int]) -> None:
    """Rows: the sample with the dab outlined, after drawing there, after removing the concept (12 columns)."""
    images = session.images(indices)
    labels = session.labels(images)
    c = session.concepts.index(concept)
    centres = dab_centres(session, indices, labels, concept, context)
    strokes = remove_mask(labels, c)
    marked, drawn, removed = [], [], []
    for k, i in enumerate(indices):
        mask = dab_mask(centres[k], labels.shape[1:]) if centres[k] is not None else None
        edge = mask & ~torch.nn.functional.max_pool2d((~mask).float()[None, None], 3, 1, 1)[0, 0].bool() \
            if mask is not None else None
        marked.append(torch.where(edge, torch.tensor([1.0, 1.0, 0.0])[:, None, None], images[k])
                      if edge is not None else images[k])
        drawn.append(session.images([i], edits=[palette.edit("draw", pooled(mask.numpy()), concept=concept)])[0]
                     if mask is not None else images[k])
        region = pooled(strokes[k].numpy())
        removed.append(session.images([i], edits=[palette.edit("remove", region, concept=concept)])[0]
                       if region is not None else images[k])
    picture = grid(torch.stack(marked + drawn + removed), len(indices))
    save_png(OUT / f"{concept}.png", picture.resize((picture.width * 2, picture.height * 2)))


def pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def interval(pair: list[float]) -> str:
    return f"[{100 * pair[0]:.0f}, {100 * pair[1]:.0f}]"


def section(data: dict) -> str:
    """The markdown between the paint markers of docs/experiments.md."""
    before = {s["concept"]: s for s in data["before"]}
    after = {s["concept"]: s for s in data["after"]}
    lines = [BEGIN, "## Paint buttons: the held-out paint benchmark", "",
             f"Measured with `python scripts/paint_benchmark.py out/demo` on held-out samples "
             f"{data['samples'][0]}..{data['samples'][1] - 1} (the sets are trained on samples 100000.. and chosen "
             "on 200000..), through the paint page's path: a brush mask, `Palette.edit`, `Session.images`. A draw dab "
             "(16 px) lands where the concept belongs; it succeeds when >= 25 % of its pixels show the concept "
             "afterwards and >= 10 points more than before. A remove stroke covers the concept's pixels (grown by "
             "2 px); the figure is the share of those pixels gone, pooled over strokes. Intervals: Wilson (draw), "
             "bootstrap over strokes (remove), 95 %.", "",
             "| concept | drawn where | button now (draw / remove) | draw before (IoU top 20) | draw after | "
             "95 % CI | remove before | remove after | 95 % CI |", "|---|---|---|---|---|---|---|---|---|"]
    for concept, a in after.items():
        b, sets = before[concept], data["sets"][concept]
        button = " / ".join(f"{sets[m]['units']} of {sets[m]['layer']}" for m in ("draw", "remove"))
        lines.append(f"| {concept} | {a['context']} ({a['draw_trials']} dabs) | {button} | {pct(b['draw_success'])} | "
                     f"**{pct(a['draw_success'])}** | {interval(a['draw_ci'])} | {pct(b['removed'])} | "
                     f"**{pct(a['removed'])}** | {interval(a['removed_ci'])} |")
    draw_met = [c for c in DRAW_TARGET if after[c]["draw_success"] >= 0.6]
    remove_met = [c for c in REMOVE_TARGET if after[c]["removed"] >= 0.8]
    sky_a, sky_b = data["after_door_in_sky"], data["before_door_in_sky"]
    lines += ["", f"Targets: draw >= 60 % met for {len(draw_met)} of {len(DRAW_TARGET)}"
              f"{missed(DRAW_TARGET, draw_met)}; removal >= 80 % met for {len(remove_met)} of {len(REMOVE_TARGET)}"
              f"{missed(REMOVE_TARGET, remove_met)}.", "",
              f"**Context still matters:** doors drawn in open sky succeed in {pct(sky_a['draw_success'])} of "
              f"{sky_a['draw_trials']} dabs {interval(sky_a['draw_ci'])} (IoU top 20: {pct(sky_b['draw_success'])}); "
              "on walls, in the table above.", "",
              "**Side effects** of a draw dab, outside the painted cells (mean over dabs and concepts):", "",
              "| | mean absolute change (0-1 pixel scale) | pixels whose label changes |", "|---|---|---|"]
    for name, rows in (("IoU top 20", data["before"]), ("paint sets", data["after"])):
        change = sum(r["outside_change"] for r in rows) / len(rows)
        relabelled = sum(r["outside_relabelled"] for r in rows) / len(rows)
        lines.append(f"| {name} | {change:.4f} | {100 * relabelled:.2f} % |")
    lines += ["", f"**How each button's set was chosen** (`ganscope paint-sets`, on the {data['selection']} selection "
              "samples): the best "
              "score of each candidate layer and ranking over the sizes 8, 16, 32, 64 (and, for trained draw sets, "
              "the largest gains 1 and 1.5), and the winner: among draw sets that work (>= 60 %), those that "
              "succeed at most 10 % of the time where the concept does not belong (doors in open sky, roofs on "
              "grass, ...) come first.", "",
              "| button | " + " | ".join(f"{layer} {ranking}" for layer in data["layers"] for ranking in
                                        ("trained", "IoU")) + " | chosen |",
              "|---|" + "---|" * (2 * len(data["layers"]) + 1)]
    for row in data["choice"]:
        cells = " | ".join(pct(row["best"][f"{layer}/{ranking}"]) for layer in data["layers"]
                           for ranking in ("trained", "iou"))
        lines.append(f"| {row['mode']} {row['concept']} | {cells} | {row['chosen']} |")
    lines += ["", "Before/after grids (rows: the sample with the dab outlined in yellow, after drawing there, after "
              "removing the concept everywhere it is; 12 held-out samples):", ""]
    lines += [f"**{c}**\n\n![{c}](paint/{c}.png)\n" for c in after]
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    data = run(args.results, list(range(args.start, args.start + args.samples)))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "benchmark.json").write_text(json.dumps(data, indent=1) + "\n")
    doc = (DOCS / "experiments.md").read_text()
    text = section(data)
    if BEGIN in doc:
        doc = doc[: doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc = doc.replace("<!-- intervene:begin -->", text + "\n\n<!-- intervene:begin -->", 1)
    (DOCS / "experiments.md").write_text(doc)
    print(text)


if __name__ == "__main__":
    main()

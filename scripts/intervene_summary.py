"""Write the measured intervention figures (docs/intervene/*.json) into docs/experiments.md.

Run after scripts/intervene_experiments.sh (which calls it): ``intervene_summary.py [MODEL [NOTE]]``.
Only the text between the intervene markers is replaced, so other sections of the file are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ganscope.intervene import ContextResult, CurveResult, MaskRankingResult, OptimiseResult

DOCS = Path("docs")
OUT = DOCS / "intervene"
DISSECTION = "runs/intervene/dissect/results.json"  # written by scripts/intervene_experiments.sh
BEGIN, END = "<!-- intervene:begin -->", "<!-- intervene:end -->"
# GAN Dissection (Bau et al. 2019), church model, 20 ACE-optimised units: share of the concept's pixels removed
PAPER_REMOVED = {"tree": 0.60, "door": 0.53, "window": 0.47, "dome": 0.77}
WALLS = ("building", "brick")  # tiles on a wall, where a door belongs


def load(name: str) -> dict:
    """A result the CLI saved, read and validated by its own type (old files too); ``ganscope ace --json``'s
    printed output is plain JSON."""
    kinds = {"curve.json": CurveResult, "optimize.json": OptimiseResult, "ranking.json": MaskRankingResult,
             "context.json": ContextResult}
    kind = kinds.get(Path(name).name)
    return json.loads((OUT / name).read_text()) if kind is None else kind.load(OUT / name).model_dump()


def ci(pair: list[float], scale: float = 1.0, digits: int = 3) -> str:
    return f"[{pair[0] * scale:.{digits}f}, {pair[1] * scale:.{digits}f}]"


def removed(ace: dict) -> float:
    """The share of the concept's pixels that ablating the units removes."""
    return ace["ablation_effect"] / ace["baseline"] if ace["baseline"] else 0.0


def share(optimised: dict, ranking: str) -> float:
    """The share of the concept's held-out pixels that ablating the top-n of ``ranking`` removes."""
    comp = optimised["comparison"]
    return comp[f"{ranking}_effect"][0] / comp["baseline"] if comp["baseline"] else 0.0


def pooled_rate(rows: list[dict], before: tuple[str, ...]) -> tuple[int, float]:
    """Trials and success rate over the context rows whose tiles showed one of ``before``."""
    chosen = [r for r in rows if r["before"] in before]
    trials = sum(r["trials"] for r in chosen)
    return trials, (sum(r["rate"] * r["trials"] for r in chosen) / trials if trials else 0.0)


def section(model: str, note: str) -> str:
    ace, curve, opt, rank, ctx = (load(n) for n in ("ace_tree.json", "curve/curve.json", "optimize/optimize.json",
                                                    "rank-mask/ranking.json", "context/context.json"))
    drop20 = removed(ace)
    per_concept = {c: load(f"remove_{c}/optimize.json") for c in PAPER_REMOVED}
    held = per_concept["tree"]["comparison"]["held_out"]
    walls, wall_rate = pooled_rate(ctx["rows"], WALLS)
    skies, sky_rate = pooled_rate(ctx["rows"], ("sky",))
    comp = opt["comparison"]
    top_scores = ", ".join(f"{rank['scores'][u]:.3f}" for u in rank["ranking"][:4])
    layer = ace["layer"]
    shapes = {name: info["shape"] for name, info in json.loads(Path(DISSECTION).read_text())["layers"].items()}
    units, h, w = shapes[layer]
    tile_px = ctx["tile"] * 64 // shapes[ctx["layer"]][1]  # the demo images are 64 x 64
    lines = [
        BEGIN,
        "## Interventions on the demo generator",
        "",
        f"Measured with `scripts/intervene_experiments.sh` (generator `{model}`), layer `{layer}` ({units} units "
        f"at {h} x {w}), dissected on 400 samples (seed 0). "
        "Re-run the script to refresh every figure below.",
        "",
        *([f"**Status:** {note}", ""] if note else []),
        "### ACE of the top-20 tree units",
        "",
        f"`ganscope ace --layer {layer} --concept tree --top 20 --results DIR --samples 200 --json`",
        "",
        "| | tree pixel fraction | 95 % CI |",
        "|---|---|---|",
        f"| baseline | {ace['baseline']:.4f} | |",
        f"| top-20 ablated | {ace['ablated']:.4f} | |",
        f"| top-20 inserted (99.5th-percentile values) | {ace['inserted']:.4f} | |",
        f"| ACE (inserted - ablated) | {ace['ace']:.4f} | {ci(ace['ace_ci'], digits=4)} |",
        f"| ablation effect (baseline - ablated) | {ace['ablation_effect']:.4f} | {ci(ace['ablation_ci'], digits=4)} |",
        "",
        f"Removing the top 20 tree units by IoU removes **{drop20:.1%}** of the tree pixels; the 20 units trained "
        f"for removal (next section) remove {share(per_concept['tree'], 'alpha'):.1%} (target: >= 50 %).",
        "",
        "### Removing the top-20 units of each concept",
        "",
        f"`ganscope optimize --layer {layer} --concept C --mode ablate --size 20 --sizes 20 --samples 64 "
        f"--held-out 200 --steps {per_concept['tree']['steps']}` for each concept: 20 units trained for removal "
        "(the hard top-20 in every step, straight-through gradients), against the top 20 by IoU, both measured on "
        f"held-out samples {held[0]}..{held[1] - 1}. The paper's figures are for its church model with 20 "
        "ACE-optimised units.",
        "",
        "| concept | baseline pixel fraction | removed: top 20 by IoU | removed: 20 optimised | 95 % CI (optimised) "
        "| paper (church) |",
        "|---|---|---|---|---|---|",
        *(f"| {c} | {o['comparison']['baseline']:.4f} | {share(o, 'iou'):.1%} | {share(o, 'alpha'):.1%} | "
          f"{ci(o['comparison']['alpha_ci'][0], 100 / o['comparison']['baseline'], 0)} % | {PAPER_REMOVED[c]:.0%} |"
          for c, o in per_concept.items()),
        "",
        f"Target: >= 50 % for each. Met for {sum(share(o, 'alpha') >= 0.5 for o in per_concept.values())} of "
        f"{len(per_concept)} with the optimised units, {sum(share(o, 'iou') >= 0.5 for o in per_concept.values())} "
        "with the IoU ranking.",
        "",
        "### Removal curve (top-n tree units by IoU, n = 1 ... 64)",
        "",
        f"`--curve` on the same command; {curve['samples']} samples, baseline {curve['baseline']:.2%} tree pixels.",
        "",
        "| n | tree fraction | removed | 95 % CI of removed (pixel fraction) |",
        "|---|---|---|---|",
        *(f"| {p['n']} | {p['ablated']:.4f} | {p['drop']:.1%} | {ci(p['effect_ci'], digits=4)} |"
          for p in curve["points"]),
        "",
        "![removal curve](intervene/curve/curve.png)",
        "",
        "### Optimised unit sets vs IoU ranking",
        "",
        f"`ganscope optimize --layer {layer} --concept tree --samples 64 --held-out 100 --steps {opt['steps']}` "
        f"(insertion mode, lambda = {opt['penalty']}); ACE (inserted - ablated) of each top-n on held-out samples "
        f"{comp['held_out'][0]}..{comp['held_out'][1] - 1}.",
        "",
        "| n | top-n by alpha | 95 % CI | top-n by IoU | 95 % CI |",
        "|---|---|---|---|---|",
        *(f"| {n} | {a:.4f} | {ci(aci, digits=4)} | {i:.4f} | {ci(ici, digits=4)} |"
          for n, a, aci, i, ici in zip(comp["sizes"], comp["alpha_effect"], comp["alpha_ci"], comp["iou_effect"],
                                       comp["iou_ci"])),
        "",
        f"Units with alpha > 0.5: {sum(a > 0.5 for a in opt['alpha'])} of {len(opt['alpha'])}; "
        f"top units by alpha: {opt['ranking'][:8]}.",
        "",
        "![optimised vs IoU](intervene/optimize/optimize.png)",
        "",
        "### Mask-driven ranking (the step-by-step walk-through)",
        "",
        f"Sample {rank['start']} (seed {rank['seed']}): the mask is the segmenter's tree pixels on it "
        "(`docs/intervene/tree_mask.png`). Units are ranked by the IoU of their top-1 % activation with the mask; "
        "the figure shows the original, then the top 4, 16 and 128 units zeroed.",
        "",
        f"Top units: {rank['ranking'][:8]} (IoU {top_scores}, ...).",
        "",
        '<img src="intervene/rank-mask/rank-mask.png" width="520" alt="mask-driven ablation">',
        "",
        "### Context: where can doors be inserted?",
        "",
        f"`ganscope optimize --layer {ctx['layer']} --concept door --mode insert --size {len(ctx['units'])}` trains "
        f"a set of {len(ctx['units'])} door units for insertion on whole images (samples 0..63); "
        f"`ganscope context --units ... --samples {ctx['samples']} --tile {ctx['tile']}` then inserts units "
        f"{ctx['units']} in every {ctx['tile']} x {ctx['tile']}-cell tile ({tile_px} x {tile_px} pixels); success "
        f"when >= {ctx['min_fraction']:.0%} of the tile is labelled door afterwards.",
        "",
        "| concept before | trials | success rate | mean door fraction |",
        "|---|---|---|---|",
        *(f"| {r['before']} | {r['trials']} | {r['rate']:.1%} | {r['mean_fraction']:.3f} |" for r in ctx["rows"]),
        "",
        f"On walls ({' or '.join(WALLS)}): **{wall_rate:.1%}** of {walls} tiles (target: >= 40 %); on sky: "
        f"**{sky_rate:.1%}** of {skies} tiles (target: <= 5 %).",
        "",
        "![context](intervene/context/context.png)",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    path = DOCS / "experiments.md"
    text = path.read_text() if path.is_file() else "# Experiments\n\n"
    new = section(*(sys.argv[1:3] + ["demo", ""][len(sys.argv[1:3]):]))
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + new + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + new
    path.write_text(text)
    sys.stdout.write(new)


if __name__ == "__main__":
    main()

"""Write the measured artifact-unit figures (docs/artifacts/artifacts.json) into docs/experiments.md.

Run after scripts/artifact_experiments.sh (which calls it): ``artifact_summary.py [MODEL [NOTE]]``.
Only the text between the artifacts markers is replaced (appended at the end the first time).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ganscope.artifacts.summary import ArtifactsResult

DOCS = Path("docs")
OUT = DOCS / "artifacts"
BEGIN, END = "<!-- artifacts:begin -->", "<!-- artifacts:end -->"


def interval(e: dict, fmt: str = "+.4f") -> str:
    return f"{e['value']:{fmt}} [{e['ci'][0]:{fmt}}, {e['ci'][1]:{fmt}}]"


def verdict(change: dict) -> str:
    lo, hi = change["ci"]
    return "better" if hi < 0 else "worse" if lo > 0 else "no clear change"


def section(model: str, note: str) -> str:
    data = ArtifactsResult.load(OUT).model_dump()  # validated, by the type ganscope artifacts writes
    ranking, quality = data["ranking"], data["quality"]
    has_d = ranking["baseline_discriminator"] is not None
    sets = {s["name"]: s for s in quality["sets"]}
    lines = [
        BEGIN,
        "## Artifact units",
        "",
        f"Measured with `scripts/artifact_experiments.sh` (generator `{model}`), layer `{ranking['layer']}`, "
        f"dissected on {data['dissection_samples']} samples (seed {ranking['seed']}). Every number below is in "
        f"the feature space **{data['features']}**; reference: {data['reference_samples']} `{data['reference']}` "
        f"world renders (seed {data['reference_seed']}). Re-run the script to refresh every figure.",
        "",
        *([f"**Status:** {note}", ""] if note else []),
        f"### Ranking: KID of each unit's top {ranking['top_samples']} samples against the reference",
        "",
        f"`ganscope artifacts --layer {ranking['layer']} --results DIR --top 20 --sizes 10,20` (worst first). For "
        f"scale: random {ranking['top_samples']}-sample sets of the same images score KID "
        f"{ranking['random_kid'][0]:.4f} on average (95th percentile {ranking['random_kid'][1]:.4f}; "
        f"{sum(u['kid'] > ranking['random_kid'][1] for u in ranking['units'])} of {len(ranking['units'])} units "
        f"score above it; chance alone puts about {0.05 * len(ranking['units']):.0f} there), all of them pooled "
        f"{ranking['baseline_kid']:.4f}"
        + (f" and mean discriminator logit {ranking['baseline_discriminator']:.3f} (the reference images: "
           f"{data['reference_discriminator']:.3f})" if has_d else "") + ".",
        "",
        "| rank | unit | KID | D logit (mean, lower = less real) | dissection label (IoU) |",
        "|---|---|---|---|---|",
        *(f"| {k + 1} | {u['unit']} | {u['kid']:.4f} | "
          f"{'-' if u['discriminator'] is None else format(u['discriminator'], '.3f')} | "
          f"{u['label']} ({u['iou']:.3f}) |" for k, u in enumerate(ranking["units"][:20])),
        "",
        "Top-activating samples of the top 20 candidates (one row per unit, in rank order):",
        "",
        "![top candidates](artifacts/candidates.png)",
        "",
        "![scores and quality](artifacts/artifacts.png)",
        "",
        f"### Sample quality before and after ablation ({quality['samples']} fresh samples)",
        "",
        f"Fresh samples {quality['start']} ... {quality['start'] + quality['samples'] - 1} (seed {quality['seed']}), "
        f"not used for the ranking. KID: mean of {quality['blocks']} disjoint blocks with a 95 % t-interval; its "
        "change is paired (same latents, same reference block). FID on the whole set (biased at this n: compare "
        f"rows, not with published FIDs); its change has a paired {quality['bootstrap']}-resample bootstrap "
        "interval. Random sets are controls of the same size.",
        "",
        "| units ablated | KID | KID change | FID | FID change | D logit | D change |",
        "|---|---|---|---|---|---|---|",
        f"| none | {interval(quality['kid'], '.4f')} | | {quality['fid']:.3f} | | "
        f"{interval(quality['discriminator'], '.3f') if has_d else '-'} | |",
        *(f"| {name} | {interval(s['kid'], '.4f')} | {interval(s['kid_change'])} | {s['fid']:.3f} | "
          f"{interval(s['fid_change'], '+.3f')} | {interval(s['discriminator'], '.3f') if has_d else '-'} | "
          f"{interval(s['discriminator_change'], '+.3f') if has_d else '-'} |" for name, s in sets.items()),
        "",
        "By the KID interval: " + "; ".join(f"{name}: **{verdict(s['kid_change'])}**" for name, s in sets.items())
        + ".",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "demo"
    note = sys.argv[2] if len(sys.argv) > 2 else ""
    path = DOCS / "experiments.md"
    text = path.read_text()
    new = section(model, note)
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + new + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)
    print(new)


if __name__ == "__main__":
    main()

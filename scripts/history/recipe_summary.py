"""The recipe study's table for docs/models.md, from the JSON files scripts/history/recipe_study.sh writes.

Usage: .venv/bin/python scripts/history/recipe_summary.py RUN_ROOT [RECIPE ...]   (prints markdown)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1])
    names = sys.argv[2:] or sorted(p.stem for p in root.glob("*.json"))
    print("| recipe | steps | images seen | CPU s | wall s | KID (world vs world) | segmenter confidence "
          "(world) | high-freq. energy / world | concepts >= 1 % within 20 % | worst concept error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        data = json.loads((root / f"{name}.json").read_text())
        g = data["generator"]
        common = {k: v for k, v in g["frequencies"].items() if v["world"] >= 0.01}
        within = sum(abs(v["relative_error"]) <= 0.2 for v in common.values())
        worst = max(common.items(), key=lambda kv: abs(kv[1]["relative_error"]))
        s = g["sharpness"]
        print(f"| {name} | {data['step']} | {data['images_seen']} | {data['cpu_seconds']:.0f} | "
              f"{data['wall_seconds']:.0f} | {g['kid_generated_vs_world']:.4f} ({g['kid_world_vs_world']:.5f}) | "
              f"{s['segmenter_confidence_generated']:.3f} ({s['segmenter_confidence_world']:.3f}) | "
              f"{s['high_frequency_energy_ratio']:.2f} | {within} / {len(common)} | "
              f"{worst[0]} {worst[1]['relative_error']:+.0%} |")


if __name__ == "__main__":
    main()

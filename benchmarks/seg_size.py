"""How a dissection's labels change with the segmentation size, from rows of ``overhead.py --matrix --out``.

    .venv/bin/python benchmarks/seg_size.py rows.jsonl [--reference 256]

For each generator/segmenter/N with several segmentation sizes, compares every size with the
reference size, unit by unit: the share of units with the same best label, the mean and largest
absolute change of the best label's IoU, and the interpretable units (IoU > 0.04) at each size.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

CUTOFF = 0.04


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=Path)
    parser.add_argument("--reference", type=int, default=256)
    args = parser.parse_args()
    groups = defaultdict(dict)
    for line in args.rows.read_text().splitlines():
        row = json.loads(line)
        groups[(row["generator"], row["segmenter"], row["samples"])][row["seg_size"]] = row
    print("| model | N | seg size | layer | same best label | mean abs IoU change | max | interpretable (ref) |")
    print("|---|---|---|---|---|---|---|---|")
    for (generator, segmenter, samples), sizes in sorted(groups.items()):
        if args.reference not in sizes or len(sizes) < 2:
            continue
        ref = sizes[args.reference]["units"]
        for size in sorted(s for s in sizes if s != args.reference):
            for layer, units in sizes[size]["units"].items():
                base = ref[layer]
                same = sum(a[0] == b[0] for a, b in zip(units, base)) / len(base)
                change = [abs(a[1] - b[1]) for a, b in zip(units, base)]
                count = sum(u[1] > CUTOFF for u in units)
                print(f"| {generator} + {segmenter} | {samples} | {size} | {layer} | {same:.1%} "
                      f"| {sum(change) / len(change):.4f} | {max(change):.4f} "
                      f"| {count} ({sum(u[1] > CUTOFF for u in base)}) |")


if __name__ == "__main__":
    main()

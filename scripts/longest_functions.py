"""List the longest functions in src/ (lines from ``def`` to the last line of the body, docstring included).

``python scripts/longest_functions.py [--top N] [--limit L]`` prints the N longest and exits 1 if any is
over L lines (default 80), so it can run as a check.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def lengths(root: Path) -> list[tuple[int, str]]:
    """(lines, "path:line name") for every function and method under ``root``."""
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                out.append((node.end_lineno - start + 1, f"{path}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("root", nargs="?", default="src")
    args = parser.parse_args()
    found = lengths(Path(args.root))
    for n, where in found[: args.top]:
        print(f"{n:4d}  {where}")
    over = [f for f in found if f[0] > args.limit]
    print(f"{len(over)} functions over {args.limit} lines")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

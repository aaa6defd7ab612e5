"""Screenshots of a dissection report for the docs (headless chromium; needs the ``test`` extra).

Usage: ``ganscope demo --out out/demo && python scripts/report_screenshots.py out/demo docs/images``.
Writes ``report-overview.png`` (index page) and ``report-layer.png`` (the middle layer's unit cards).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ganscope.report.summary import slug
from ganscope.results import Results

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the test harnesses live there
from browser import chromium_page  # noqa: E402


def main(directory: Path, out: Path) -> None:
    layers = list(Results.load(directory).layers)
    middle = layers[len(layers) // 2]
    out.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with chromium_page(errors) as page:
        page.goto((directory / "index.html").as_uri(), wait_until="networkidle")
        page.screenshot(path=out / "report-overview.png")
        page.goto((directory / "report" / f"layer-{slug(middle)}.html").as_uri(), wait_until="networkidle")
        page.evaluate("document.querySelector('section.units').scrollIntoView()")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=out / "report-layer.png")
    if errors:
        sys.exit(f"console errors: {errors}")
    print(f"screenshots in {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""A paint-page screenshot as a user makes it: sample 0 of `make demo`, draw + tree, one dab on the grass.

``python scripts/paint_screenshot.py out/demo docs/images/paint-tree-on-grass.png`` serves the results
(with their paint sets) on loopback, drives headless chromium like a user, and saves the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import chromium_page  # noqa: E402
from ganscope.paintsets.spots import WORLD_CONTEXTS, candidate_centres  # noqa: E402
from ganscope.results import Results  # noqa: E402
from ganscope.server import create_app  # noqa: E402
from ganscope.session import Session  # noqa: E402
from live import running  # noqa: E402


def main(directory: Path, out: Path, index: int = 0) -> None:
    torch.set_num_threads(2)
    results = Results.load(directory)
    session = Session.from_specs("demo", "demo", seed=results.seed)
    labels = session.labels(session.images([index]))
    ok = candidate_centres(labels, session.concepts.index("tree"), WORLD_CONTEXTS["tree"], session.concepts)[0]
    ys, xs = torch.nonzero(ok, as_tuple=True)
    y, x = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])  # the middle of the places a tree belongs
    errors: list[str] = []
    with running(create_app(session, results, directory=directory)) as url, \
            chromium_page(errors, width=1200, height=820) as page:
        page.goto(url + "/", wait_until="networkidle")
        page.click(f"#samples img[data-index='{index}']")
        page.wait_for_function("document.getElementById('picture').complete")
        page.check("input[name=mode][value=draw]")
        page.click("#palette button[data-concept=tree]")
        page.fill("#brush", "16")
        page.dispatch_event("#brush", "input")
        version = page.get_attribute("#picture", "data-version")
        box = page.locator("#overlay").bounding_box()
        scale = box["width"] / results.image_size[1]
        page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
        page.wait_for_function(f"document.getElementById('picture').dataset.version !== '{version}'")
        page.wait_for_function("document.getElementById('picture').src.startsWith('data:')")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out))
    if errors:
        raise SystemExit(f"page errors: {errors}")
    print(f"dab at x={x}, y={y}: {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

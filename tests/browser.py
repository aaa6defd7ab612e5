"""Debian's chromium driven by Playwright, for the report's browser test and its documentation screenshots.

Playwright never downloads a browser here: it launches the system's ``/usr/bin/chromium``.
Playwright itself is a test dependency (the ``test`` extra), imported only when used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium_page(errors: list[str], width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A Playwright page in headless chromium; console errors and uncaught exceptions go to ``errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            browser.close()


def drag(page: Any, selector: str, row: int, x0: int, x1: int, width: int) -> None:
    """A pointer stroke on ``selector`` (an image ``width`` pixels wide) along row ``row``, x0 to x1."""
    box = page.locator(selector).bounding_box()
    scale = box["width"] / width
    page.mouse.move(box["x"] + x0 * scale, box["y"] + row * scale)
    page.mouse.down()
    for step in range(8):
        x = x0 + (x1 - x0) * step / 7
        page.mouse.move(box["x"] + x * scale, box["y"] + row * scale)
    page.mouse.up()

"""Jinja2 rendering of report pages and copying of the static JS/CSS next to them."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ganscope.io import write_bytes, write_text
from ganscope.report.plots import CATEGORY_COLORS
from ganscope.report.summary import slug


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ganscope.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["slug"] = slug
    env.globals["category_colors"] = CATEGORY_COLORS
    return env


def render(template: str, path: Path, **context: Any) -> Path:
    """Render ``template`` to ``path`` atomically."""
    return write_text(path, environment().get_template(template).render(**context))


def copy_static(target: Path) -> None:
    """Put the report's own JS and CSS beside the pages, so they work offline."""
    for item in resources.files("ganscope.report").joinpath("static").iterdir():
        if item.is_file():
            write_bytes(target / item.name, item.read_bytes())

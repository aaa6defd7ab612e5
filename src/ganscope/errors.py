"""The one exception type users see: bad input, reported as one line without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanscopeError(Exception):
    """A problem with the user's input, reported as one line without a traceback.

    ``argument`` names the Python argument at fault (e.g. ``samples``), so that a shell
    around the library (the CLI) can name its own flag instead.
    """

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


def location(parts: Iterable[object]) -> str:
    """A validation error's location as one printable line: ``layers.layer1.units.0`` (odd keys escaped)."""
    return ".".join(str(part).encode("unicode_escape").decode("ascii") for part in parts)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """'; did you mean a, b?' for close matches of ``name`` among ``known``, else ''."""
    close = difflib.get_close_matches(name, list(known), n=5, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""

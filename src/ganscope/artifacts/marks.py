"""Units a user marked as artifacts, per layer, kept beside the dissection in ``marked_units.json``.

The unit browser (``ganscope serve``) writes the file when a unit card's mark toggle is
clicked; ``ganscope artifacts --marked`` reads it and ablates the marked units. The file
lives in the results directory, so the marks travel with the dissection they refer to::

    {"layer4": [3, 7, 42]}

Each change is a read-modify-write of the whole file under a per-file lock (concurrent
requests never lose a mark) and is written atomically (a reader never sees half a file).
The file is re-read on every change, so edits made by hand while a server runs are kept.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from ganscope.errors import GanscopeError
from ganscope.io import write_json

MARKS_FILE = "marked_units.json"

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    """One lock per marks file in this process, shared by every store (and app) that opens it."""
    key = path.resolve()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class MarksError(GanscopeError):
    """The marks file exists but is not a valid marks file (hand-edited, truncated, another program's)."""


class MarkStore:
    """The marked units of one results directory; only ever reads and writes ``directory/marked_units.json``."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / MARKS_FILE
        self._lock = _lock_for(self.path)

    def load(self) -> dict[str, list[int]]:
        """All marks, layer -> sorted units; empty when no file exists yet. Raises MarksError on a corrupt file."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as err:
            raise MarksError(f"cannot read the marks file {self.path}: {err}") from err
        try:
            data = json.loads(text)
        except ValueError as err:
            raise self._corrupt(f"not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise self._corrupt(f"expected a JSON object of layer -> unit list, got {type(data).__name__}")
        marks = {}
        for layer, units in data.items():
            if not isinstance(units, list) or not all(type(u) is int and u >= 0 for u in units):
                raise self._corrupt(f"the units of layer {layer!r} must be a list of unit numbers >= 0, got {units!r}")
            marks[layer] = sorted(set(units))
        return marks

    def marked(self, layer: str) -> list[int]:
        """The marked units of ``layer``, ascending (empty when none are)."""
        return self.load().get(layer, [])

    def mark(self, layer: str, unit: int, marked: bool = True) -> list[int]:
        """Mark (or unmark) one unit of ``layer``; returns the layer's marked units afterwards.

        The caller checks that ``layer`` and ``unit`` exist (the store does not know the results).
        """
        if unit < 0:
            raise GanscopeError(f"unit numbers are >= 0, got {unit}")
        with self._lock:
            marks = self.load()
            units = set(marks.get(layer, []))
            if (unit in units) == marked:
                return sorted(units)
            units = units | {unit} if marked else units - {unit}
            if units:
                marks[layer] = sorted(units)
            else:
                marks.pop(layer, None)
            write_json(self.path, dict(sorted(marks.items())))
            return sorted(units)

    def _corrupt(self, why: str) -> MarksError:
        return MarksError(f"{self.path} is not a valid marks file: {why}; fix it or delete it to start over")

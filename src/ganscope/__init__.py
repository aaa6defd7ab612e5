"""ganscope: open up image generators and see what each unit does.

    session = ganscope.Session.from_specs("demo", "demo")
    results = ganscope.run_dissection(session, ["layer6"], samples=500, out="out/mine")

The names below are imported on first use, so that ``import ganscope.cli`` (``ganscope --help``) starts
without loading torch.
"""

import importlib
import sys
from typing import Any

_LAZY = {"Results": "ganscope.results", "Session": "ganscope.session", "run_dissection": "ganscope.pipeline"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganscope' has no attribute {name!r}")


if "IPython" in sys.modules:  # in a notebook: results display as HTML tables and strips
    _ipython = sys.modules["IPython"].get_ipython()
    if _ipython is not None:
        from ganscope.notebook import register

        register(_ipython)

__all__ = ["Results", "Session", "run_dissection"]
__version__ = "0.1.0"

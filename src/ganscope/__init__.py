"""ganscope: open up image generators and see what each unit does.

    session = ganscope.Session.from_specs("demo", "demo")
    results = ganscope.run_dissection(session, ["layer6"], samples=500, out="out/mine")
"""

import sys

from ganscope.pipeline import run_dissection
from ganscope.results import Results
from ganscope.session import Session

if "IPython" in sys.modules:  # in a notebook: results display as HTML tables and strips
    _ipython = sys.modules["IPython"].get_ipython()
    if _ipython is not None:
        from ganscope.notebook import register

        register(_ipython)

__all__ = ["Results", "Session", "run_dissection"]
__version__ = "0.1.0"

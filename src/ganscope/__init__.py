"""ganscope: open up image generators and see what each unit does."""

from ganscope.dissect import dissect
from ganscope.results import Results

__all__ = ["Results", "dissect"]
__version__ = "0.1.0"

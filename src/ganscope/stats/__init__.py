"""Streaming, mergeable tallies: each has update, merge, state_dict and load_state_dict."""

from ganscope.stats.histogram import JointHistogram, upsample
from ganscope.stats.moments import Moments
from ganscope.stats.topk import TopK

__all__ = ["JointHistogram", "Moments", "TopK", "upsample"]

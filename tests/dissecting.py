"""Dissect modules in one call, as the tests need it: a Session around them, then run_dissection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from ganscope.pipeline import run_dissection
from ganscope.results import Results
from ganscope.session import Session


def dissect(generator: nn.Module, segmenter: Any, layers: Sequence[str], samples: int, *, seed: int = 0,
            batch_size: int = 16, model_name: str = "custom", segmenter_name: str = "custom",
            **options: Any) -> Results:
    session = Session(generator, segmenter, seed=seed, batch_size=batch_size, model_name=model_name,
                      segmenter_name=segmenter_name)
    return run_dissection(session, layers, samples, **options)

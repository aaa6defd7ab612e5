"""Segmenter registry: ``load_segmenter(spec)`` returns an object with concepts, categories, segment()."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from ganscope.errors import GanscopeError
from ganscope.io import load_weights
from ganscope.registry import Factory, resolve
from ganscope.segmenters.demo import DemoSegmenter, DemoSegmenterNet
from ganscope.segmenters.segformer import segformer_segmenter

WEIGHTS = Path(__file__).parents[1] / "models" / "weights"
CATEGORY_NAMES = ("object", "part", "material", "color")


class Segmenter(Protocol):
    concepts: list[str]
    categories: list[str]

    def segment(self, images: torch.Tensor) -> torch.Tensor: ...


def demo_segmenter(path: str | None = None) -> DemoSegmenter:
    """The shipped demo segmenter, or demo segmenter weights from ``path``."""
    file = Path(path) if path else WEIGHTS / "demo_segmenter.safetensors"
    if not file.is_file() and not path:
        raise GanscopeError(f"demo segmenter weights are missing ({file}); run `ganscope train-demo segmenter`")
    net = DemoSegmenterNet()
    net.load_state_dict(load_weights(file))
    return DemoSegmenter(net)


SEGMENTERS: dict[str, Factory] = {"demo": demo_segmenter, "segformer": segformer_segmenter}


def load_segmenter(spec: str) -> Any:
    """Resolve a segmenter spec and check its concepts and categories."""
    seg = resolve(spec, SEGMENTERS, "segmenter")
    check_segmenter(seg, spec)
    return seg


def check_segmenter(seg: Any, name: str = "segmenter") -> None:
    concepts, categories = getattr(seg, "concepts", None), getattr(seg, "categories", None)
    if not callable(getattr(seg, "segment", None)):
        raise GanscopeError(f"{name} has no segment(images) method")
    if not isinstance(concepts, list | tuple) or not isinstance(categories, list | tuple):
        raise GanscopeError(f"{name} needs list attributes concepts and categories")
    if len(concepts) != len(categories) or len(concepts) < 2:
        raise GanscopeError(f"{name}: concepts ({len(concepts)}) and categories ({len(categories)}) must match, "
                            "with index 0 for unlabelled and at least one concept")
    bad = sorted({c for c in categories[1:] if c not in CATEGORY_NAMES})
    if bad:
        raise GanscopeError(f"{name}: unknown categories {bad}; use {', '.join(CATEGORY_NAMES)}")

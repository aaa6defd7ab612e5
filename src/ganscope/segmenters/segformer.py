"""SegFormer semantic segmentation (Xie et al. 2021) through ``transformers``, as a ganscope segmenter.

``segformer:DIR`` loads a local model directory (``config.json`` + weights, as written by
``save_pretrained`` or found in the Hugging Face cache); nothing is downloaded. Images
arrive in [-1, 1] and are mapped to the model's normalisation (``preprocessor_config.json``
when present, else ImageNet mean/std); logits are upsampled to the image size before argmax.
Label 0 is "unlabelled"; class i of the model is concept i + 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ganscope.errors import GanscopeError
from ganscope.segmenters.ade20k import ADE20K_CLASSES, category
from ganscope.spec_options import split_options

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SegFormerSegmenter:
    """Wraps a ``SegformerForSemanticSegmentation``; ``size`` resizes inputs (None: keep the image size)."""

    def __init__(self, model: Any, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD,
                 size: int | None = None):
        self.model = model.eval().requires_grad_(False)
        names = _class_names(model.config)
        self.concepts = ["-", *names]
        self.categories = ["", *(category(n) for n in names)]
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.size = size

    def to(self, device: str | torch.device) -> SegFormerSegmenter:
        self.model.to(device)
        return self

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(images).argmax(1) + 1

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores (B, classes, H, W) at the image size."""
        height, width = images.shape[2:]
        x = ((images.float().clamp(-1, 1) + 1) / 2 - self.mean.to(images.device)) / self.std.to(images.device)
        if self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        logits = self.model(pixel_values=x).logits
        return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)


def _class_names(config: Any) -> list[str]:
    """The model's own names, or the ADE20K names where the config only says LABEL_i."""
    labels = {int(k): v for k, v in (config.id2label or {}).items()}
    count = config.num_labels
    generic = all(labels.get(i, f"LABEL_{i}") == f"LABEL_{i}" for i in range(count))
    if generic and count == len(ADE20K_CLASSES):
        return list(ADE20K_CLASSES)
    return [labels.get(i, f"class{i}") for i in range(count)]


def _normalisation(directory: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    file = directory / "preprocessor_config.json"
    if not file.is_file():
        return IMAGENET_MEAN, IMAGENET_STD
    config = json.loads(file.read_text())
    return tuple(config.get("image_mean", IMAGENET_MEAN)), tuple(config.get("image_std", IMAGENET_STD))


def segformer_segmenter(arg: str | None) -> SegFormerSegmenter:
    """Registry factory for ``segformer:DIR[?size=512]``."""
    path, options = split_options(arg, ["size"], "segformer")
    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file():
        raise GanscopeError(f"segformer: {directory} is not a model directory (no config.json); save one with "
                            "SegformerForSemanticSegmentation.save_pretrained(DIR)")
    try:
        from transformers import SegformerForSemanticSegmentation
    except ImportError as err:
        raise GanscopeError("segformer needs transformers: pip install 'ganscope[segformer]'") from err
    try:
        model = SegformerForSemanticSegmentation.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as err:
        raise GanscopeError(f"segformer: cannot load {directory}: {str(err).splitlines()[0]}") from err
    size = options.get("size")
    if size is not None and not (size.isdigit() and int(size) > 0):
        raise GanscopeError(f"segformer option size={size!r}: use a positive integer")
    return SegFormerSegmenter(model, *_normalisation(directory), size=int(size) if size else None)

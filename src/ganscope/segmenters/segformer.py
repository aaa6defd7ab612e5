"""SegFormer semantic segmentation (Xie et al. 2021) through ``transformers``, as a ganscope segmenter.

``segformer:DIR`` loads a local model directory (``config.json`` + weights, as written by
``save_pretrained`` or found in the Hugging Face cache); nothing is downloaded. Images arrive
in [-1, 1] and go through what the model's own image processor does with a picture
(``preprocessor_config.json``; without one, SegformerImageProcessor's defaults): quantised to
8 bits, resized bilinearly to its ``size`` (512 x 512 for the ADE20K models) in PIL's two
rounded passes, rescaled and normalised. ``?size=N`` overrides the resize, ``?size=0`` keeps the
image size. Logits are upsampled to the requested label size one image at a time, and the argmax
taken there. Label 0 is "unlabelled"; class i of the model is concept i + 1.
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
PROCESSOR_SIZE = 512  # SegformerImageProcessor's default input side


class SegFormerSegmenter:
    """Wraps a ``SegformerForSemanticSegmentation``; ``size`` is the processor's input side (None: the image's)."""

    def __init__(self, model: Any, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD,
                 size: int | None = PROCESSOR_SIZE):
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
    def segment(self, images: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Labels (B, H, W) at ``size`` (default: the image size); logits are upsampled one image at a time."""
        size = tuple(size or images.shape[2:])
        logits = self.model_logits(images)
        return torch.cat([_upsample(row[None], size).argmax(1) for row in logits]) + 1

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Soft labels (B, 1 + classes, H, W) at the image size, differentiable (for optimised unit sets and paint
        sets); the unlabelled class "-" gets 0."""
        soft = self.logits(images).softmax(1)
        return torch.cat([torch.zeros_like(soft[:, :1]), soft], 1)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores (B, classes, H, W) at the image size."""
        return _upsample(self.model_logits(images), tuple(images.shape[2:]))

    def model_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores at the model's output resolution (a quarter of its input side)."""
        pixels = (images.float().clamp(-1, 1) + 1) * 127.5
        pixels = _straight(pixels, pixels.round())  # the picture a processor would be given
        if self.size:
            pixels = _pil_bilinear(pixels, self.size)
        x = (pixels / 255 - self.mean.to(images.device)) / self.std.to(images.device)
        return self.model(pixel_values=x).logits


def _pil_bilinear(pixels: torch.Tensor, side: int) -> torch.Tensor:
    """PIL's bilinear resize of an 8-bit picture: a horizontal pass, rounded to 8 bits, then a vertical one."""
    height, width = pixels.shape[2:]
    wide = F.interpolate(pixels, size=(height, side), mode="bilinear", align_corners=False, antialias=side < width)
    wide = _straight(wide, torch.floor(wide + 0.5)).clamp(0, 255)  # PIL rounds half up
    tall = F.interpolate(wide, size=(side, side), mode="bilinear", align_corners=False, antialias=side < height)
    return _straight(tall, torch.floor(tall + 0.5)).clamp(0, 255)


def _straight(x: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """``rounded`` in value, with the identity's gradient (rounding to 8 bits must not stop gradients)."""
    return x + (rounded - x).detach()


def _upsample(logits: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def _class_names(config: Any) -> list[str]:
    """The model's own names, or the ADE20K names where the config only says LABEL_i."""
    labels = {int(k): v for k, v in (config.id2label or {}).items()}
    count = config.num_labels
    generic = all(labels.get(i, f"LABEL_{i}") == f"LABEL_{i}" for i in range(count))
    if generic and count == len(ADE20K_CLASSES):
        return list(ADE20K_CLASSES)
    return [labels.get(i, f"class{i}").strip() for i in range(count)]  # nvidia's configs have "bed "


def _processor(directory: Path) -> tuple[tuple[float, ...], tuple[float, ...], int | None]:
    """Mean, std and input side of the model's image processor (its defaults without a config)."""
    file = directory / "preprocessor_config.json"
    config = json.loads(file.read_text()) if file.is_file() else {}
    size = config.get("size", PROCESSOR_SIZE) if config.get("do_resize", True) else None
    if isinstance(size, dict):
        if size.get("height") != size.get("width"):
            raise GanscopeError(f"segformer: {file} resizes to {size}; only square sizes are supported, "
                                "give ?size=N")
        size = size.get("height")
    mean, std = config.get("image_mean", IMAGENET_MEAN), config.get("image_std", IMAGENET_STD)
    return tuple(mean), tuple(std), size


def segformer_segmenter(arg: str | None) -> SegFormerSegmenter:
    """Registry factory for ``segformer:DIR[?size=N]`` (N = 0: the image size; default: the processor's)."""
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
    mean, std, size = _processor(directory)
    if "size" in options:
        if not options["size"].isdigit():
            raise GanscopeError(f"segformer option size={options['size']!r}: use a positive integer, or 0 for "
                                "the image size")
        size = int(options["size"]) or None
    return SegFormerSegmenter(model, mean, std, size=size)

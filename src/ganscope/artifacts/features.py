"""Feature extractors for sample-quality metrics, each with the label that must be printed beside its numbers.

KID and FID values only mean something together with the features they were computed
on. ``auto`` uses the FID Inception network when its standard weights
(``pt_inception-2015-12-05-6726825d.pth``) are already on disk, and otherwise the
documented built-in extractor: the demo segmenter's pooled U-Net bottleneck
(``DemoSegmenter.features``, 64-d). Weights are never downloaded here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ganscope.artifacts.inception import INCEPTION_FILE, FidInception
from ganscope.errors import GanscopeError
from ganscope.models.catalog import cache_dir
from ganscope.registry import resolve

DEMO_LABEL = "demo-segmenter (pooled U-Net bottleneck, 64-d)"
INCEPTION_LABEL = "inception (pt_inception-2015-12-05 pool3, 2048-d)"


@dataclass
class Features:
    """``label`` names the feature space; calling maps images (B, 3, H, W) in [-1, 1] to (B, d) on the CPU."""

    label: str
    extract: Callable[[torch.Tensor], torch.Tensor]
    batch_size: int = 64

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        parts = [self.extract(images[i : i + self.batch_size]) for i in range(0, len(images), self.batch_size)]
        out = torch.cat(parts).float().cpu()
        if out.dim() != 2 or len(out) != len(images):
            raise GanscopeError(f"features {self.label!r} must map B images to (B, d), got {tuple(out.shape)}")
        return out


def inception_weights(path: str | None = None) -> Path | None:
    """An explicit weights ``path`` (must exist), else the file in torch's or ganscope's cache, else None."""
    if path:
        if not Path(path).is_file():
            raise GanscopeError(f"Inception weights not found: {path}")
        return Path(path)
    torch_home = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch")
    for candidate in (torch_home / "hub" / "checkpoints" / INCEPTION_FILE, cache_dir() / INCEPTION_FILE):
        if candidate.is_file():
            return candidate
    return None


def inception_features(path: str | None = None, device: str = "cpu") -> Features:
    """FID Inception pool3 features from local weights; a missing file is an error, never a download."""
    file = inception_weights(path)
    if file is None:
        raise GanscopeError(f"Inception weights {INCEPTION_FILE} are not in the cache; give inception:PATH "
                            "or use --features demo")
    net = FidInception()
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, strict=False)
    except Exception as err:
        raise GanscopeError(f"cannot load Inception weights {file}: {str(err).splitlines()[0]}") from err
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise GanscopeError(f"{file} is not a pt_inception state dict: {len(missing)} tensors missing")
    net = net.eval().to(device)
    return Features(f"{INCEPTION_LABEL} from {file}", lambda x: net(x.to(device)), batch_size=32)


def demo_features(device: str = "cpu") -> Features:
    """The demo segmenter's pooled bottleneck: the built-in feature space for the demo world."""
    from ganscope.segmenters import load_segmenter

    segmenter = load_segmenter("demo").to(device)
    return Features(DEMO_LABEL, lambda x: segmenter.features(x.to(device)))


def load_features(spec: str = "auto", device: str = "cpu") -> Features:
    """``auto``, ``demo``, ``inception[:PATH]`` or ``package.module:callable`` (a factory of images -> (B, d))."""
    if spec == "auto":
        return inception_features(device=device) if inception_weights() else demo_features(device)
    registry = {"demo": lambda _: demo_features(device), "inception": lambda arg: inception_features(arg, device)}
    made = resolve(spec, registry, "feature extractor")
    if isinstance(made, Features):
        return made
    if not callable(made):
        raise GanscopeError(f"feature extractor {spec!r} must be callable: images (B, 3, H, W) -> (B, d)")
    return Features(spec, made)

"""Quality figures for the demo model card: segmenter IoU, generator KID and concept frequencies."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganscope.metrics import kid
from ganscope.sampling import batches
from ganscope.segmenters.demo import DemoSegmenter
from ganscope.session import Session
from ganscope.world import CONCEPTS, render

HELD_OUT_SEED = 2  # training uses seed 1
REFERENCE_SEED = 3  # a second, disjoint world set for the world-vs-world KID


@torch.no_grad()
def segmenter_iou(seg: DemoSegmenter, samples: int = 500, batch: int = 50) -> dict[str, Any]:
    """Per-concept IoU of the segmenter on held-out renders, and the mean over common concepts."""
    inter = torch.zeros(len(CONCEPTS))
    union = torch.zeros(len(CONCEPTS))
    freq = torch.zeros(len(CONCEPTS))
    for idx in batches(range(samples), batch):
        scenes = render(idx, seed=HELD_OUT_SEED)
        pred = seg.segment(scenes.images)
        for c in range(1, len(CONCEPTS)):
            p, t = pred == c, scenes.labels == c
            inter[c] += (p & t).sum()
            union[c] += (p | t).sum()
            freq[c] += t.sum()
    freq /= freq.sum()
    iou = {CONCEPTS[c]: float(inter[c] / union[c]) for c in range(1, len(CONCEPTS)) if union[c] > 0}
    common = [CONCEPTS[c] for c in range(1, len(CONCEPTS)) if freq[c] >= 0.01]
    return {"iou": iou, "mean_iou_common": sum(iou[c] for c in common) / len(common), "common": common,
            "samples": samples}


@torch.no_grad()
def generator_quality(gen: nn.Module, seg: DemoSegmenter, samples: int = 500, batch: int = 50) -> dict[str, Any]:
    """KID (demo segmenter features) generated vs world and world vs world; concept frequencies."""
    fake_feats, world_feats, ref_feats = [], [], []
    fake_freq = torch.zeros(len(CONCEPTS))
    world_freq = torch.zeros(len(CONCEPTS))
    sharp = {"fake_confidence": 0.0, "world_confidence": 0.0, "fake_hf": 0.0, "world_hf": 0.0}
    session = Session(gen, seed=0, batch_size=batch)
    for idx, fake in session.iter_images(range(samples)):
        world = render(idx, seed=HELD_OUT_SEED, size=fake.shape[-1])
        fake_feats.append(seg.features(fake))
        world_feats.append(seg.features(world.images))
        ref_feats.append(seg.features(render(idx, seed=REFERENCE_SEED, size=fake.shape[-1]).images))
        fake_freq += torch.bincount(seg.segment(fake).flatten(), minlength=len(CONCEPTS))
        world_freq += torch.bincount(world.labels.flatten(), minlength=len(CONCEPTS))
        for name, images in (("fake", fake), ("world", world.images)):
            sharp[f"{name}_confidence"] += float(seg.probabilities(images).amax(1).mean()) * len(idx) / samples
            sharp[f"{name}_hf"] += high_frequency_energy(images) * len(idx) / samples
    fake_freq /= fake_freq.sum()
    world_freq /= world_freq.sum()
    fake_f, world_f, ref_f = (torch.cat(f) for f in (fake_feats, world_feats, ref_feats))
    frequencies = {
        CONCEPTS[c]: {"world": float(world_freq[c]), "generated": float(fake_freq[c]),
                      "relative_error": float((fake_freq[c] - world_freq[c]) / world_freq[c])}
        for c in range(1, len(CONCEPTS)) if world_freq[c] > 0
    }
    return {
        "features": "demo segmenter encoder, bottleneck channels average-pooled",
        "kid_generated_vs_world": kid(fake_f, world_f),
        "kid_world_vs_world": kid(ref_f, world_f),
        "frequencies": frequencies,
        "sharpness": {
            "segmenter_confidence_generated": sharp["fake_confidence"],
            "segmenter_confidence_world": sharp["world_confidence"],
            "high_frequency_energy_ratio": sharp["fake_hf"] / sharp["world_hf"],
        },
        "samples": samples,
    }


def high_frequency_energy(images: torch.Tensor) -> float:
    """Mean squared response of a 3x3 Laplacian, over pixels and channels (blur lowers it)."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=images.dtype, device=images.device)
    weight = kernel.expand(images.shape[1], 1, 3, 3)
    return float(torch.nn.functional.conv2d(images, weight, groups=images.shape[1]).pow(2).mean())

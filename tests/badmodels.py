"""Generators and segmenters that break the protocol, for the bad-input tests."""

from __future__ import annotations

import torch

import synthetic


def nan_layer_generator() -> synthetic.SyntheticGenerator:
    gen = synthetic.make_generator()
    gen.layer1.register_forward_hook(lambda _m, _i, out: out.index_fill(0, torch.tensor([0]), float("nan")))
    return gen


def wrong_latent_generator() -> synthetic.SyntheticGenerator:
    gen = synthetic.make_generator()
    gen.latent_shape = (7,)
    return gen


class FloatSegmenter(synthetic.SyntheticSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images).float()


class FlatSegmenter(synthetic.SyntheticSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images).flatten(1)


def float_segmenter() -> FloatSegmenter:
    return FloatSegmenter()


def flat_segmenter() -> FlatSegmenter:
    return FlatSegmenter()

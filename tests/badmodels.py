"""Generators and segmenters that break the protocol, for the bad-input tests."""

from __future__ import annotations

import os

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


CRASH_MARKER = "GANSCOPE_TEST_CRASH_MARKER"  # env var: the file whose creation marks "already crashed once"


class CrashOnceGenerator(synthetic.SyntheticGenerator):
    """Kills its own process on its second batch, once per marker file: a worker dying mid-shard."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.calls = marker, 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 2:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))  # only the first process to get here
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return super().forward(z)


def crash_once_generator() -> CrashOnceGenerator:
    return CrashOnceGenerator(os.environ[CRASH_MARKER])

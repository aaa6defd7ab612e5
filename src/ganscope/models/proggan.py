"""The Progressive GAN generator (Karras et al. 2018) in the layout of the GAN Dissection tool.

The original tool converted the TensorFlow LSUN models to PyTorch ``.pth`` state dicts
whose modules are ``layer1`` ... ``layerN`` (two per resolution from 4x4, each
pixel-norm -> conv -> wscale -> leaky ReLU; the first is the 4x4 "dense" layer as a
4x4 conv with padding 3 on a 1x1 input) and ``output_RxR`` (a 1x1 to-RGB conv). Keys are
``layerK.conv.weight`` (no conv bias) and ``layerK.wscale.b``. Keeping the module names
keeps the paper's layer names: a 256x256 model has ``layer1`` ... ``layer14``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.models.checkpoints import flatten, load_state, read_checkpoint, subtree
from ganscope.spec_options import as_bool, split_options


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class WScale(nn.Module):
    """Run-time weight scaling (equalised learning rate) folded into the output, plus the bias ``b``."""

    def __init__(self, channels: int, fan_in: int, gain: float):
        super().__init__()
        self.scale = gain / math.sqrt(fan_in)
        self.b = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.b.view(1, -1, 1, 1)


class Block(nn.Module):
    """pixel norm -> [2x nearest upsampling] -> conv (no bias) -> wscale -> [leaky ReLU 0.2]."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: int, upsample: bool = False, output: bool = False):
        super().__init__()
        self.upsample, self.output = upsample, output
        self.conv = nn.Conv2d(cin, cout, kernel, padding=padding, bias=False)
        self.wscale = WScale(cout, cin, 1.0 if output else math.sqrt(2) / kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.wscale(self.conv(x))
        return x if self.output else F.leaky_relu(x, 0.2)


class ProgressiveGenerator(nn.Module):
    """``sizes`` = [latent dim, channels at 4x4, at 8x8, ...]; output resolution 4 * 2 ** (len(sizes) - 2)."""

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        if len(sizes) < 2:
            raise GanscopeError(f"ProGAN needs at least a latent size and one resolution, got sizes {list(sizes)}")
        self.sizes = list(sizes)
        self.latent_shape = (sizes[0],)
        self.resolution = 4 * 2 ** (len(sizes) - 2)
        blocks = [Block(sizes[0], sizes[1], 4, 3), Block(sizes[1], sizes[1], 3, 1)]
        for cin, cout in itertools.pairwise(sizes[1:]):
            blocks += [Block(cin, cout, 3, 1, upsample=True), Block(cout, cout, 3, 1)]
        for i, block in enumerate(blocks, 1):
            self.add_module(f"layer{i}", block)
        self.output_name = f"output_{self.resolution}x{self.resolution}"
        self.add_module(self.output_name, Block(sizes[-1], 3, 1, 0, output=True))
        self.layer_names = [f"layer{i}" for i in range(1, len(blocks) + 1)] + [self.output_name]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], -1, 1, 1)  # the original feeds (B, 512, 1, 1); (B, 512) works too
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x


def sizes_from_state(state: Mapping[str, torch.Tensor]) -> list[int]:
    """Read the channel schedule back from conv weight shapes (layer1 gives the latent size)."""
    sizes: list[int] = []
    for i in itertools.count(1):
        weight = state.get(f"layer{i}.conv.weight")
        if weight is None:
            break
        if i == 1:
            sizes.append(weight.shape[1])
        if i % 2 == 1:
            sizes.append(weight.shape[0])
    if len(sizes) < 2:
        raise GanscopeError("not a ProGAN generator state dict: no layer1.conv.weight "
                            f"(first keys: {', '.join(list(state)[:4]) or 'none'})")
    return sizes


def from_old_layout(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the oldest published layout (``features.K``, ``output``) to ``layerK+1``, ``output_RxR``."""
    count = sum(1 for k in state if k.startswith("features.") and k.endswith(".conv.weight"))
    resolution = 4 * 2 ** (count // 2 - 1)
    renamed = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head == "features":
            index, _, rest = rest.partition(".")
            renamed[f"layer{int(index) + 1}.{rest}"] = value
        elif head == "output":
            renamed[f"output_{resolution}x{resolution}.{rest}"] = value
        else:
            renamed[key] = value
    return renamed


def generator_from_state(state: Mapping[str, torch.Tensor], source: str = "state dict") -> ProgressiveGenerator:
    tensors = dict(state)
    tensors = subtree(tensors, "state_dict") or tensors
    if "features.0.conv.weight" in tensors:
        tensors = from_old_layout(tensors)
    gen = ProgressiveGenerator(sizes_from_state(tensors))
    load_state(gen, tensors, source)
    return gen


def proggan_generator(arg: str | None) -> ProgressiveGenerator:
    """Registry factory for ``proggan:PATH[?trust=true]``; PATH may name a fetched catalog entry."""
    from ganscope.models.catalog import checkpoint_path

    path, options = split_options(arg, ["trust"], "proggan")
    file = checkpoint_path(path, "proggan")
    tensors, _ = flatten(read_checkpoint(file, trust=as_bool(options, "trust"), kind="proggan"))
    return generator_from_state(tensors, str(file)).eval().requires_grad_(False)

"""StyleGAN2 (Karras et al. 2020) with the module and key layout of the widely used PyTorch port
(``Generator(size, 512, 8, channel_multiplier=2)``; checkpoints hold ``g_ema`` and ``latent_avg``).

Pure PyTorch: no compiled ops (see ``stylegan2_ops``). Dissectable layers are the port's
module names: ``conv1`` (4x4), ``convs.N`` (two per resolution from 8x8), ``to_rgb1``,
``to_rgbs.N``; each ``*.conv.modulation`` outputs that layer's style vector (style space),
a (B, channels) "vector layer" that the dissection engine treats as 1x1 maps.

Sampling is deterministic: z -> w by the mapping network, truncated towards ``latent_avg``,
and the per-layer noise inputs are the fixed ``noises.noise_N`` buffers stored in the checkpoint.
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
from ganscope.models.stylegan2_ops import fused_leaky_relu, make_kernel, upfirdn2d
from ganscope.spec_options import as_bool, as_float, split_options

DEFAULT_TRUNCATION = 0.7
MEAN_LATENT_SAMPLES = 4096


def official_channels(size: int, channel_multiplier: int = 2) -> list[int]:
    """Channels per resolution 4, 8, ..., size as in the port's ``Generator``."""
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    return [c if r <= 32 else c * channel_multiplier for r, c in table.items() if r <= size]


class EqualLinear(nn.Module):
    """Linear layer with run-time weight scaling and a learning-rate multiplier (mapping network)."""

    def __init__(self, cin: int, cout: int, lr_mul: float = 1.0, bias_init: float = 0.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(cin), lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel() * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling of the RGB skip connection."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", make_kernel() * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=2, pad=(2, 1))


class ModulatedConv2d(nn.Module):
    """Conv whose weights are scaled per sample by a style (and demodulated), as one grouped conv."""

    def __init__(self, cin: int, cout: int, kernel: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, cout, cin, kernel, kernel))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1)
        self.scale = 1 / math.sqrt(cin * kernel * kernel)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel // 2
        if upsample:
            self.blur = Blur((1, 1), gain=4)  # the port's padding for a 4-tap kernel after a 3x3 transposed conv

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        batch, cin, height, width = x.shape
        style = self.modulation(w).view(batch, 1, cin, 1, 1)
        weight = self.scale * self.weight * style  # (B, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4], keepdim=True) + 1e-8)
        cout, k = weight.shape[1], weight.shape[-1]
        x = x.reshape(1, batch * cin, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * cin, cout, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
            return self.blur(out.view(batch, cout, out.shape[2], out.shape[3]))
        out = F.conv2d(x, weight.reshape(batch * cout, cin, k, k), padding=self.padding, groups=batch)
        return out.view(batch, cout, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Module):
    def __init__(self, cin: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        return out if skip is None else out + self.upsample(skip)


class ConstantInput(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class StyleGAN2Generator(nn.Module):
    """``channels`` per resolution 4, 8, ..., size (``official_channels`` gives the port's layout)."""

    def __init__(self, channels: Sequence[int], style_dim: int = 512, n_mlp: int = 8, lr_mlp: float = 0.01,
                 truncation: float = 1.0):
        super().__init__()
        self.size = 4 * 2 ** (len(channels) - 1)
        self.latent_shape = (style_dim,)
        self.truncation = truncation
        self.style = nn.Sequential(PixelNorm(), *(EqualLinear(style_dim, style_dim, lr_mlp, activate=True)
                                                  for _ in range(n_mlp)))
        self.input = ConstantInput(channels[0])
        self.conv1 = StyledConv(channels[0], channels[0], style_dim)
        self.to_rgb1 = ToRGB(channels[0], style_dim, upsample=False)
        self.convs, self.to_rgbs, self.noises = nn.ModuleList(), nn.ModuleList(), nn.Module()
        for cin, cout in itertools.pairwise(channels):
            self.convs.extend([StyledConv(cin, cout, style_dim, upsample=True), StyledConv(cout, cout, style_dim)])
            self.to_rgbs.append(ToRGB(cout, style_dim))
        self.num_layers = 2 * len(channels) - 1
        for i in range(self.num_layers):
            side = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, side, side))
        self.register_buffer("latent_avg", torch.zeros(style_dim), persistent=False)

    def layer_names(self) -> list[str]:
        return ["conv1", *(f"convs.{i}" for i in range(len(self.convs))),
                "to_rgb1", *(f"to_rgbs.{i}" for i in range(len(self.to_rgbs)))]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.style(z.reshape(z.shape[0], -1))
        if self.truncation < 1:
            w = torch.lerp(self.latent_avg.to(w), w, self.truncation)
        return self.synthesis(w)

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Image from one w per sample (B, style_dim), shared by all layers (no style mixing)."""
        noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        x = self.conv1(self.input(w.shape[0]), w, noise[0])
        skip = self.to_rgb1(x, w)
        for i, to_rgb in enumerate(self.to_rgbs):
            x = self.convs[2 * i](x, w, noise[2 * i + 1])
            x = self.convs[2 * i + 1](x, w, noise[2 * i + 2])
            skip = to_rgb(x, w, skip)
        return skip

    @torch.no_grad()
    def mean_latent(self, samples: int = MEAN_LATENT_SAMPLES, seed: int = 0) -> torch.Tensor:
        """The average w, for checkpoints that store no ``latent_avg`` (fixed seed: reproducible)."""
        z = torch.randn(samples, *self.latent_shape, generator=torch.Generator().manual_seed(seed))
        return self.style(z.to(self.latent_avg.device)).mean(0)


def architecture_from_state(state: Mapping[str, torch.Tensor]) -> tuple[list[int], int, int]:
    """(channels per resolution, style_dim, n_mlp) read back from a ``g_ema`` state dict."""
    if "input.input" not in state or "style.1.weight" not in state:
        raise GanscopeError("not a StyleGAN2 generator: no input.input / style.1.weight "
                            f"(first keys: {', '.join(list(state)[:4]) or 'none'})")
    ups = itertools.takewhile(lambda i: f"convs.{i}.conv.weight" in state, itertools.count(0, 2))
    channels = [state["input.input"].shape[1], *(state[f"convs.{i}.conv.weight"].shape[1] for i in ups)]
    n_mlp = sum(1 for _ in itertools.takewhile(lambda i: f"style.{i}.weight" in state, itertools.count(1)))
    return channels, state["style.1.weight"].shape[0], n_mlp


def generator_from_state(tensors: Mapping[str, torch.Tensor], source: str = "state dict",
                         truncation: float = DEFAULT_TRUNCATION) -> StyleGAN2Generator:
    """Build from a flat checkpoint: ``g_ema.*`` (or bare generator keys) and optional ``latent_avg``."""
    state = subtree(tensors, "g_ema") or {k: v for k, v in tensors.items() if k != "latent_avg"}
    gen = StyleGAN2Generator(*architecture_from_state(state), truncation=truncation)
    if "noises.noise_0" not in state:  # older versions of the port kept no noise buffers: draw fixed ones
        noise = torch.Generator().manual_seed(0)
        state |= {k: torch.randn(v.shape, generator=noise) for k, v in gen.state_dict().items()
                  if k.startswith("noises.")}
    load_state(gen, state, source)
    latent_avg = tensors.get("latent_avg")
    gen.latent_avg.copy_(latent_avg.reshape(-1) if latent_avg is not None else gen.mean_latent())
    return gen


def stylegan2_generator(arg: str | None) -> StyleGAN2Generator:
    """Registry factory for ``stylegan2:PATH[?truncation=0.7&trust=true]``; PATH may name a fetched entry."""
    from ganscope.models.catalog import checkpoint_path

    path, options = split_options(arg, ["truncation", "trust"], "stylegan2")
    truncation = as_float(options, "truncation", DEFAULT_TRUNCATION, 0.0, 1.0)
    file = checkpoint_path(path, "stylegan2")
    tensors, _ = flatten(read_checkpoint(file, trust=as_bool(options, "trust"), kind="stylegan2"))
    return generator_from_state(tensors, str(file), truncation).eval().requires_grad_(False)

"""The synthesis network of NVIDIA's stylegan2-ada-pytorch (and stylegan3's ``networks_stylegan2``).

Blocks ``b4`` ... ``bN``, each with ``conv0`` (2x upsampling; not in ``b4``, which starts from
``const``), ``conv1`` and ``torgb``, in the 'skip', 'resnet' or 'orig' architecture. Module and
buffer names follow NVIDIA's, so a pickle's state dict loads 1:1 and layers read
``synthesis.b64.conv0``; each ``*.affine`` outputs that layer's style vector (B, channels).
Pure PyTorch (``stylegan2_ops``); layers NVIDIA runs in float16 on a GPU run in float32 here.
Noise is the pickle's ``noise_const`` buffers (``noise_mode='const'``) or off (``'none'``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.models.nvidia_layers import FullyConnectedLayer, bias_act, check_activation
from ganscope.models.stylegan2_ops import BLUR_KERNEL, make_kernel, upfirdn2d

ARCHITECTURES = ("orig", "skip", "resnet")
NOISE_MODES = ("const", "none")


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """NVIDIA's resampling filter: the normalised outer product, kept 1-D (separable) from 8 taps."""
    if len(taps) >= 8:
        kernel = torch.tensor(taps, dtype=torch.float32)
        return kernel / kernel.sum()
    return make_kernel(taps)


def upsample_pads(filter_size: int, up: int = 2) -> tuple[int, int]:
    """Padding that makes an ``up``-times upsampling keep the signal centred (NVIDIA's ``upsample2d``)."""
    return (filter_size + up - 1) // 2, (filter_size - up) // 2


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: int = 1, padding: int = 0, resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample modulated (and demodulated) conv as one grouped conv; ``up=2`` is a transposed conv + FIR."""
    batch, cin = styles.shape
    cout, _, kh, kw = weight.shape
    w = weight[None] * styles.reshape(batch, 1, cin, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, cout, 1, 1, 1)
    x = x.reshape(1, batch * cin, *x.shape[2:])
    if up == 1:
        out = F.conv2d(x, w.reshape(batch * cout, cin, kh, kw), padding=padding, groups=batch)
    else:
        lo, hi = upsample_pads(resample_filter.shape[-1], up)
        lo, hi = padding + lo - (kw - 1), padding + hi - (kw - up)
        crop = max(min(-lo, -hi), 0)
        w = w.transpose(1, 2).reshape(batch * cin, cout, kh, kw)
        out = F.conv_transpose2d(x, w, stride=up, padding=crop, groups=batch)
        out = upfirdn2d(out, resample_filter, pad=(lo + crop, hi + crop), gain=up**2)
    return out.reshape(batch, cout, *out.shape[2:])


class SynthesisLayer(nn.Module):
    """Modulated conv (optionally 2x up), constant noise, bias, activation, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: Sequence[float] = BLUR_KERNEL, conv_clamp: float | None = None):
        super().__init__()
        self.up, self.padding, self.use_noise, self.conv_clamp = up, kernel_size // 2, use_noise, conv_clamp
        self.activation = check_activation(activation)
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_mode = "const"

    def forward(self, x: torch.Tensor, w: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter)
        if self.use_noise and self.noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, self.activation, gain=gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation, bias, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class Conv2dLayer(nn.Module):
    """The 'resnet' shortcut: 1x1 conv without bias, then 2x FIR upsampling."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter: Sequence[float] = BLUR_KERNEL):
        super().__init__()
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain)
        pads = upsample_pads(self.resample_filter.shape[-1])
        return upfirdn2d(x, self.resample_filter, up=2, pad=pads, gain=4) * gain


class SynthesisBlock(nn.Module):
    """One resolution: [const | conv0 (up)] -> conv1 -> [torgb], the image upsampled and summed ('skip')."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", resample_filter: Sequence[float] = BLUR_KERNEL,
                 conv_clamp: float | None = None, **layer_kwargs: object):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise GanscopeError(f"unknown StyleGAN2 architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})")
        self.in_channels, self.architecture = in_channels, architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp,
                                    **layer_kwargs)
        self.has_rgb = is_last or architecture == "skip"
        if self.has_rgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None,
                w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x is None:
            x = self.conv1(self.const[None].expand(w.shape[0], -1, -1, -1), w)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = y + self.conv1(self.conv0(x, w), w, gain=math.sqrt(0.5))
        else:
            x = self.conv1(self.conv0(x, w), w)
        if img is not None:
            pads = upsample_pads(self.resample_filter.shape[-1])
            img = upfirdn2d(img, self.resample_filter, up=2, pad=pads, gain=4)
        if self.has_rgb:
            y = self.torgb(x, w)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """w -> image: blocks ``b4`` ... ``b{img_resolution}``, channels ``min(channel_base // res, channel_max)``.

    ``num_fp16_res`` and the memory-format options only change speed on NVIDIA's GPUs: accepted, unused.
    """

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, fp16_channels_last: bool = False,
                 fused_modconv_default: object = True, **block_kwargs: object):
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.resolutions}
        for res in self.resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=res == img_resolution, **block_kwargs)
            self.add_module(f"b{res}", block)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = img = None
        for res in self.resolutions:
            x, img = getattr(self, f"b{res}")(x, img, w)
        return img

    def set_noise_mode(self, mode: str) -> None:
        for module in self.modules():
            if isinstance(module, SynthesisLayer):
                module.noise_mode = mode

"""The StyleGAN2 port's custom CUDA ops, written with plain torch ops so they run anywhere.

``upfirdn2d`` = upsample by zero insertion, pad (negative pads crop), FIR-filter, downsample;
``fused_leaky_relu`` = bias, leaky ReLU 0.2, gain sqrt(2). Results match the compiled ops
up to float rounding; speed is what cuDNN convolutions give.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

BLUR_KERNEL = (1, 3, 3, 1)


def make_kernel(taps: Sequence[float] = BLUR_KERNEL) -> torch.Tensor:
    """A separable 2-D FIR kernel from 1-D taps, normalised to sum 1."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample, pad (same on both axes), convolve every channel with ``kernel``, downsample.

    ``kernel`` is 2-D, or 1-D for a separable filter (run along the width, then the height);
    ``gain`` scales the result (``up ** 2`` keeps the signal's magnitude after upsampling).
    Every channel is filtered by one depthwise convolution (``groups`` = channels), striding by
    ``down``: the same sums as filtering each channel alone and keeping every ``down``-th output, at a
    fraction of the cost on a CPU (a batch of one-channel images takes a slow path there).
    """
    batch, channels, height, width = x.shape
    if up > 1:
        x = x[:, :, :, None, :, None]
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(batch, channels, height * up, width * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    weight = torch.flip(kernel, list(range(kernel.dim()))).to(x)
    if kernel.dim() == 2:
        depthwise = (weight * gain)[None, None].expand(channels, 1, *weight.shape)
        return F.conv2d(x, depthwise.contiguous(), stride=down, groups=channels)
    weight = weight * math.sqrt(gain)
    across = weight[None, None, None, :].expand(channels, 1, 1, len(weight)).contiguous()
    x = F.conv2d(x, across, stride=(1, down), groups=channels)
    return F.conv2d(x, across.transpose(2, 3), stride=(down, 1), groups=channels)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, slope: float = 0.2,
                     gain: float = math.sqrt(2)) -> torch.Tensor:
    """Add a per-channel bias (channel axis 1), leaky ReLU, then rescale to keep the variance."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), slope) * gain

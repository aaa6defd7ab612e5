"""BigGAN-deep (Brock et al. 2019) in the module layout of the ``pytorch-pretrained-biggan`` package.

That package converted DeepMind's TF Hub BigGAN-deep 128 / 256 / 512 generators; its
``pytorch_model.bin`` is the state dict of ``BigGAN`` (``embeddings``: one-hot class -> z-sized
embedding; ``generator``: ``gen_z``, ``layers.K`` = bottleneck ``GenBlock``s with one self-attention
layer among them, ``bn``, ``conv_to_rgb``). The modules here carry the same names, so that state
dict loads key for key and the layers keep the names users know (``generator.layers.4``).

Spectral norm is kept as torch's ``spectral_norm`` stores it (``weight_orig`` and the power-iteration
vectors ``weight_u``, ``weight_v``); the weight used is ``weight_orig / (u . W v)``, what torch computes
in eval mode. ganscope only runs inference, so the vectors are never updated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

REDUCTION = 4  # a GenBlock's bottleneck: its middle convs have in_channels // 4 channels
TRUNCATION_BOUND = 2.0  # the package samples z from a normal truncated to [-2, 2], times the truncation


class SpectralNormed(nn.Module):
    """A weight divided by its spectral norm as estimated by stored power-iteration vectors."""

    def __init__(self, shape: Sequence[int], bias: bool):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.randn(*shape) / math.sqrt(math.prod(shape[1:])))
        self.register_buffer("weight_u", torch.empty(shape[0]))
        self.register_buffer("weight_v", torch.empty(math.prod(shape[1:])))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        self.reset_vectors()

    @torch.no_grad()
    def reset_vectors(self, steps: int = 20) -> None:
        """Power iteration on ``weight_orig``, so that a freshly built layer has a sensible norm."""
        matrix = self.weight_orig.flatten(1)
        v = F.normalize(torch.randn(matrix.shape[1]), dim=0)
        for _ in range(steps):
            u = F.normalize(matrix @ v, dim=0)
            v = F.normalize(matrix.t() @ u, dim=0)
        self.weight_u.copy_(u)
        self.weight_v.copy_(v)

    def weight(self) -> torch.Tensor:
        sigma = torch.dot(self.weight_u, torch.mv(self.weight_orig.flatten(1), self.weight_v))
        return self.weight_orig / sigma


class SNLinear(SpectralNormed):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__((out_features, in_features), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)


class SNConv2d(SpectralNormed):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True):
        super().__init__((out_channels, in_channels, kernel, kernel), bias)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class ClassBatchNorm(nn.Module):
    """Batch norm with frozen statistics per truncation and, when conditional, a class-and-z gain and bias.

    ``running_means`` / ``running_vars`` hold statistics for ``n_stats`` truncations evenly spaced in
    [0, 1]; other truncations mix two neighbours with the package's weights (the lower one gets the
    fractional part), which keeps images equal to the package's.
    """

    def __init__(self, channels: int, cond_dim: int | None, n_stats: int, eps: float):
        super().__init__()
        self.eps, self.step = eps, 1.0 / (n_stats - 1)
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.conditional = cond_dim is not None
        if cond_dim is not None:
            self.scale = SNLinear(cond_dim, channels, bias=False)
            self.offset = SNLinear(cond_dim, channels, bias=False)
        else:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        frac, whole = math.modf(truncation / self.step)
        low = int(whole)
        if frac == 0.0:
            return self.running_means[low], self.running_vars[low]
        mean = self.running_means[low] * frac + self.running_means[low + 1] * (1 - frac)
        var = self.running_vars[low] * frac + self.running_vars[low + 1] * (1 - frac)
        return mean, var

    def forward(self, x: torch.Tensor, truncation: float, cond: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = self.statistics(truncation)
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)
        gain = 1 + self.scale(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain \
            + self.offset(cond)[:, :, None, None]


class GenBlock(nn.Module):
    """Bottleneck residual block: (bn, ReLU, conv) x 4 with 1x1 / 3x3 / 3x3 / 1x1 convs, optional 2x upsampling.

    The skip path drops the second half of its channels when the block halves them.
    """

    def __init__(self, cin: int, cout: int, cond_dim: int, upsample: bool, n_stats: int, eps: float):
        super().__init__()
        mid = cin // REDUCTION
        self.upsample, self.halves = upsample, cin != cout
        widths = [cin, mid, mid, mid, cout]
        for i, kernel in enumerate((1, 3, 3, 1)):
            self.add_module(f"bn_{i}", ClassBatchNorm(widths[i], cond_dim, n_stats, eps))
            self.add_module(f"conv_{i}", SNConv2d(widths[i], widths[i + 1], kernel))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        skip = x
        for i in range(4):
            x = F.relu(getattr(self, f"bn_{i}")(x, truncation, cond))
            if i == 1 and self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = getattr(self, f"conv_{i}")(x)
        if self.halves:
            skip = skip[:, : skip.shape[1] // 2]
        if self.upsample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return x + skip


class SelfAttn(nn.Module):
    """SAGAN self-attention: keys and values max-pooled 2x, output scaled by the learnt ``gamma``."""

    def __init__(self, channels: int):
        super().__init__()
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, h, w = x.shape
        query = self.snconv1x1_theta(x).flatten(2)
        key = F.max_pool2d(self.snconv1x1_phi(x), 2).flatten(2)
        attention = torch.softmax(torch.bmm(query.permute(0, 2, 1), key), dim=-1)
        value = F.max_pool2d(self.snconv1x1_g(x), 2).flatten(2)
        out = torch.bmm(value, attention.permute(0, 2, 1)).view(batch, -1, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(out)


class Generator(nn.Module):
    """z and class embedding -> 4x4 x 16*ch (laid out as TF's NHWC) -> ``layers`` -> bn, ReLU, conv -> RGB."""

    def __init__(self, z_dim: int, width: int, layers: Sequence[tuple[bool, int, int]], attention_at: int,
                 n_stats: int, eps: float):
        super().__init__()
        cond_dim = 2 * z_dim
        self.width = width
        self.gen_z = SNLinear(cond_dim, 4 * 4 * 16 * width)
        blocks: list[nn.Module] = []
        for i, (upsample, cin, cout) in enumerate(layers):
            if i == attention_at:
                blocks.append(SelfAttn(width * cin))
            blocks.append(GenBlock(width * cin, width * cout, cond_dim, upsample, n_stats, eps))
        self.layers = nn.ModuleList(blocks)
        self.bn = ClassBatchNorm(width, None, n_stats, eps)
        self.conv_to_rgb = SNConv2d(width, width, 3)

    def forward(self, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        x = self.gen_z(cond).view(-1, 4, 4, 16 * self.width).permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            x = layer(x, cond, truncation) if isinstance(layer, GenBlock) else layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation)))
        return torch.tanh(x[:, :3])


class BigGAN(nn.Module):
    """ganscope's generator protocol around the package's ``BigGAN``: ``forward(z)`` for one fixed class.

    ``z`` is standard normal (what ganscope samples for ``(seed, i)``); it is mapped element by element
    to the package's truncated normal by ``truncated_normal``, then scaled by the truncation.
    """

    def __init__(self, z_dim: int, num_classes: int, generator: Generator, class_index: int, truncation: float):
        super().__init__()
        self.latent_shape = (z_dim,)
        self.embeddings = nn.Linear(num_classes, z_dim, bias=False)
        self.generator = generator
        self.class_index, self.truncation = class_index, truncation
        self.register_buffer("class_vector", F.one_hot(torch.tensor(class_index), num_classes).float(),
                             persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = self.truncation * truncated_normal(z.reshape(z.shape[0], -1))
        embed = self.embeddings(self.class_vector).expand(z.shape[0], -1)
        return self.generator(torch.cat((z, embed), dim=1), self.truncation)


def truncated_normal(z: torch.Tensor, bound: float = TRUNCATION_BOUND) -> torch.Tensor:
    """Standard-normal values -> a normal truncated to [-bound, bound], by the inverse CDF.

    Each value is mapped on its own (a monotone map), so a sample still depends only on its own z
    and the result has exactly the truncated distribution that ``scipy.stats.truncnorm`` samples.
    """
    lo = torch.special.ndtr(torch.tensor(-bound, dtype=torch.float64))
    u = torch.special.ndtr(z.double())
    t = torch.special.ndtri(lo + u * (1 - 2 * lo))
    return t.clamp(-bound, bound).to(z.dtype)

"""The demo generator: a small ProGAN-style convolutional GAN for the demo world.

Layers are named ``layer1`` ... ``layer10`` like the paper's ProGAN: two 3x3 conv
blocks per resolution from 4x4 to 64x64. Each resolution also has a 1x1 "to RGB"
head whose outputs are upsampled and summed (the StyleGAN2 "skip" generator), which
trains about as quickly as progressive growing without a growing schedule.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DEMO_CHANNELS = (128, 128, 64, 32, 16)  # at 4, 8, 16, 32, 64 pixels
DEMO_LATENT = 128


class EqualConv2d(nn.Module):
    """A conv whose weights are scaled at run time (equalised learning rate, ProGAN)."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: int = 0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = 1 / math.sqrt(cin * kernel * kernel)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = 1 / math.sqrt(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit RMS (ProGAN)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


NORMS = ("pixel", "batch", "batch-pixel")  # pixel norm after the activation (ProGAN), batch norm before it
# (DCGAN), or both


def _norms(channels: int, norm: str) -> tuple[nn.BatchNorm2d | None, bool]:
    """A block's batch norm (or None) and whether it pixel-normalises, for ``norm`` in ``NORMS``."""
    return (nn.BatchNorm2d(channels) if norm.startswith("batch") else None), norm != "batch"


def _normalised(x: torch.Tensor, batch: nn.BatchNorm2d | None, pixel: bool) -> torch.Tensor:
    """Leaky ReLU with a block's normalisation (``NORMS``): batch norm before it, pixel norm after it."""
    x = F.leaky_relu(batch(x) if batch is not None else x, 0.2)
    return pixel_norm(x) if pixel else x


class ConvBlock(nn.Module):
    """Optional 2x nearest upsampling, a 3x3 conv, leaky ReLU and a normalisation (``NORMS``)."""

    def __init__(self, cin: int, cout: int, upsample: bool, norm: str = "pixel"):
        super().__init__()
        self.upsample = upsample
        self.conv = EqualConv2d(cin, cout, 3, padding=1)
        self.norm, self.pixel = _norms(cout, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return _normalised(self.conv(x), self.norm, self.pixel)


class InputBlock(nn.Module):
    """The latent vector to a 4x4 feature map (ProGAN's first layer)."""

    def __init__(self, latent: int, cout: int, norm: str = "pixel"):
        super().__init__()
        self.cout = cout
        self.linear = EqualLinear(latent, cout * 16)
        self.norm, self.pixel = _norms(cout, norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.linear(pixel_norm(z[:, :, None, None]).flatten(1)).view(-1, self.cout, 4, 4)
        return _normalised(x, self.norm, self.pixel)


class DemoGenerator(nn.Module):
    """z (B, latent) -> image (B, 3, 4 * 2**(len(channels) - 1), same) in [-1, 1].

    ``norm="batch"`` trains like a DCGAN generator, ``"batch-pixel"`` adds pixel norm after each
    activation; in eval mode batch norms use their running statistics, so each sample still
    depends on its own latent only.
    """

    def __init__(self, latent: int = DEMO_LATENT, channels: tuple[int, ...] = DEMO_CHANNELS, norm: str = "pixel"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.latent_shape = (latent,)
        self.resolution = 4 * 2 ** (len(channels) - 1)
        blocks: list[nn.Module] = [InputBlock(latent, channels[0], norm)]
        blocks.append(ConvBlock(channels[0], channels[0], upsample=False, norm=norm))
        for cin, cout in zip(channels[:-1], channels[1:]):
            blocks += [ConvBlock(cin, cout, upsample=True, norm=norm), ConvBlock(cout, cout, upsample=False, norm=norm)]
        for index, block in enumerate(blocks, start=1):
            self.add_module(f"layer{index}", block)
        self.num_layers = len(blocks)
        self.to_rgb = nn.ModuleList(EqualConv2d(c, 3, 1) for c in channels)

    @property
    def resume_layers(self) -> list[str]:
        """Layers this generator can stop after and resume from (``ganscope.resume.Resumable``)."""
        return [f"layer{i}" for i in range(1, self.num_layers + 1)]

    def _add_rgb(self, rgb: torch.Tensor | None, x: torch.Tensor, index: int) -> torch.Tensor | None:
        if index % 2:  # the RGB head sits at the end of each resolution (even layers)
            return rgb
        out = self.to_rgb[index // 2 - 1](x)
        return out if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear") + out

    def forward_to(self, layer: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output of ``layer`` and the skip-RGB sum of the resolutions finished before it."""
        x, rgb = z, None
        for index in range(1, int(layer.removeprefix("layer")) + 1):
            if index > 1:
                rgb = self._add_rgb(rgb, x, index - 1)
            x = getattr(self, f"layer{index}")(x)
        return x, rgb

    def forward_from(self, layer: str, acts: torch.Tensor, rgb: torch.Tensor | None) -> torch.Tensor:
        """Images from the (possibly edited) output of ``layer`` and the RGB sum before it."""
        start = int(layer.removeprefix("layer"))
        x = acts
        for index in range(start, self.num_layers + 1):
            if index > start:
                x = getattr(self, f"layer{index}")(x)
            rgb = self._add_rgb(rgb, x, index)
        return torch.tanh(rgb)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.forward_from("layer1", *self.forward_to("layer1", z))


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs and a 2x average-pool downsample with a residual path."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cin, 3, padding=1)
        self.conv2 = EqualConv2d(cin, cout, 3, padding=1)
        self.skip = EqualConv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), 0.2)
        y = F.avg_pool2d(F.leaky_relu(self.conv2(y), 0.2), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


def minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Per-group feature std (ProGAN): lets the discriminator see a lack of variety."""
    b, c, h, w = x.shape
    g = group if b % group == 0 else b
    std = x.view(g, -1, c, h, w).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))  # (b // g,)
    return std.repeat(g)[:, None, None, None].expand(b, 1, h, w)


class DemoDiscriminator(nn.Module):
    """image (B, 3, R, R) -> realness logit (B,), a residual net mirroring the generator."""

    def __init__(self, channels: tuple[int, ...] = DEMO_CHANNELS):
        super().__init__()
        rev = channels[::-1]
        self.from_rgb = EqualConv2d(3, rev[0], 1)
        self.blocks = nn.Sequential(*(DiscriminatorBlock(a, b) for a, b in zip(rev[:-1], rev[1:])))
        self.final_conv = EqualConv2d(rev[-1] + 1, rev[-1], 3, padding=1)
        self.final = nn.Sequential(EqualLinear(rev[-1] * 16, rev[-1]), nn.LeakyReLU(0.2), EqualLinear(rev[-1], 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.leaky_relu(self.from_rgb(img), 0.2))
        std = minibatch_std(x)
        x = F.leaky_relu(self.final_conv(torch.cat([x, std], 1)), 0.2)
        return self.final(x.flatten(1)).squeeze(1)


class StridedDiscriminator(nn.Module):
    """image (B, 3, R, R) -> realness logit (B,): one strided 4x4 conv per resolution (DCGAN-style).

    About a third of ``DemoDiscriminator``'s cost per image, so that at equal compute the
    generator trains for more steps (the recipe study in docs/models.md).
    """

    def __init__(self, channels: tuple[int, ...] = DEMO_CHANNELS):
        super().__init__()
        rev = channels[::-1]
        self.from_rgb = EqualConv2d(3, rev[0], 1)
        self.blocks = nn.ModuleList(EqualConv2d(a, b, 4, padding=1) for a, b in zip(rev[:-1], rev[1:]))
        self.final_conv = EqualConv2d(rev[-1] + 1, rev[-1], 3, padding=1)
        self.final = nn.Sequential(EqualLinear(rev[-1] * 16, rev[-1]), nn.LeakyReLU(0.2), EqualLinear(rev[-1], 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(img), 0.2)
        for conv in self.blocks:
            x = F.leaky_relu(F.conv2d(x, conv.weight * conv.scale, conv.bias, stride=2, padding=1), 0.2)
        x = F.leaky_relu(self.final_conv(torch.cat([x, minibatch_std(x)], 1)), 0.2)
        return self.final(x.flatten(1)).squeeze(1)


def discriminator_from_weights(state: dict[str, torch.Tensor]) -> nn.Module:
    """The demo discriminator that ``state`` belongs to, residual or strided, at the widths its weights have."""
    strided = "blocks.0.weight" in state
    count = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    last_conv = "blocks.{}.weight" if strided else "blocks.{}.conv2.weight"  # its output width is the block's
    rev = [state["from_rgb.weight"].shape[0], *(state[last_conv.format(i)].shape[0] for i in range(count))]
    disc = (StridedDiscriminator if strided else DemoDiscriminator)(tuple(rev[::-1]))
    disc.load_state_dict(state)
    return disc

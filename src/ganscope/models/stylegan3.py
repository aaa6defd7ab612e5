"""The synthesis network of NVIDIA's StyleGAN3 (Karras et al. 2021), configs -T and -R.

``input`` (Fourier features, rotated and translated by w), then layers ``L0_36_512`` ...
``L{N}_{res}_{channels}`` (the last is the to-RGB layer): modulated conv, then the filtered leaky
ReLU: upsample with ``up_filter``, bias + leaky ReLU + clamp, downsample with ``down_filter``.
Names follow NVIDIA's so a pickle's state dict loads 1:1; the filters are the pickle's buffers
(``design_lowpass_filter`` makes them for a fresh network, as NVIDIA's scipy code does).
Pure PyTorch at reference speed; NVIDIA's float16 layers run in float32 here.

One departure, on purpose: NVIDIA normalises the styles by their mean square over the whole
batch before demodulation; here each sample is normalised by its own, so an image never depends
on the batch it is in. Demodulation cancels that scale except inside its 1e-8 epsilon.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganscope.models.nvidia_layers import FullyConnectedLayer, bias_act
from ganscope.models.stylegan2_ops import upfirdn2d


def kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser window beta for a transition ``width`` (fraction of Nyquist), as scipy's kaiser_atten/beta."""
    atten = 2.285 * (numtaps - 1) * math.pi * width + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21) if atten > 21 else 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR (scipy's ``firwin``; 2-D jinc when ``radial``); None = identity."""
    if numtaps == 1:
        return None
    window = np.kaiser(numtaps, kaiser_beta(numtaps, width / (fs / 2)))
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        f = 2 * cutoff / fs * np.sinc(2 * cutoff / fs * m) * window
        return torch.as_tensor(f / f.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)))
    f = (torch.special.bessel_j1(2 * cutoff * math.pi * r) / (math.pi * r)).numpy() * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool,
                     padding: int, input_gain: torch.Tensor) -> torch.Tensor:
    """StyleGAN3's modulated conv: weights and styles pre-normalised (per sample), demodulated, input gain."""
    batch, cin = styles.shape
    cout, _, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    w = weight[None] * styles.reshape(batch, 1, cin, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, cout, 1, 1, 1)
    w = w * input_gain
    out = F.conv2d(x.reshape(1, batch * cin, *x.shape[2:]), w.reshape(batch * cout, cin, kh, kw),
                   padding=padding, groups=batch)
    return out.reshape(batch, cout, *out.shape[2:])


def filtered_lrelu(x: torch.Tensor, up_filter: torch.Tensor | None, down_filter: torch.Tensor | None,
                   bias: torch.Tensor, up: int, down: int, pads: tuple[int, int], act: str,
                   clamp: float | None) -> torch.Tensor:
    """Bias, upsample (FIR), activation with gain and clamp, downsample (FIR): NVIDIA's reference order."""
    identity = torch.ones(1, 1)
    x = upfirdn2d(x + bias.view(1, -1, 1, 1), identity if up_filter is None else up_filter, up=up, pad=pads,
                  gain=up**2)
    x = bias_act(x, act=act, clamp=clamp)
    return upfirdn2d(x, identity if down_filter is None else down_filter, down=down)


class SynthesisInput(nn.Module):
    """Fourier features of ``channels`` frequencies on a ``size`` grid, rotated/translated by ``affine(w)``."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size, self.sampling_rate, self.bandwidth = channels, size, sampling_rate, bandwidth
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3))  # a user transform of the output image (inverse)
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        t = self.affine(w)  # (cos, sin, tx, ty) of the image's rotation and translation
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        batch = w.shape[0]
        rotate = torch.eye(3, device=w.device).repeat(batch, 1, 1)
        rotate[:, 0, 0], rotate[:, 0, 1], rotate[:, 1, 0], rotate[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        translate = torch.eye(3, device=w.device).repeat(batch, 1, 1)
        translate[:, 0, 2], translate[:, 1, 2] = -t[:, 2], -t[:, 3]
        transforms = rotate @ translate @ self.transform[None]
        phases = self.phases[None] + (self.freqs[None] @ transforms[:, :2, 2:]).squeeze(2)
        freqs = self.freqs[None] @ transforms[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta[None], [1, 1, self.size, self.size], align_corners=False)  # (1, H, W, 2)
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1)[:, None, None]).squeeze(3)  # (B, H, W, C)
        x = torch.sin((x + phases[:, None, None]) * (2 * math.pi)) * amplitudes[:, None, None]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv then filtered leaky ReLU between sampling rates; the last one is the to-RGB layer.

    ``magnitude_ema_beta`` only matters in training (the pickle's ``magnitude_ema`` is used as is).
    """

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, in_channels: int,
                 out_channels: int, in_size: int, out_size: int, in_sampling_rate: int, out_sampling_rate: int,
                 in_cutoff: float, out_cutoff: float, in_half_width: float, out_half_width: float,
                 conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                 use_radial_filters: bool = False, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.is_torgb, self.conv_clamp = is_torgb, conv_clamp
        self.conv_kernel = 1 if is_torgb else conv_kernel
        tmp_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.up, self.down = tmp_rate // in_sampling_rate, tmp_rate // out_sampling_rate
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, self.conv_kernel, self.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        up_taps = filter_size * self.up if self.up > 1 and not is_torgb else 1
        down_taps = filter_size * self.down if self.down > 1 and not is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(up_taps, in_cutoff, in_half_width * 2, tmp_rate))
        radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", design_lowpass_filter(down_taps, out_cutoff, out_half_width * 2,
                                                                  tmp_rate, radial=radial))
        total = (out_size - 1) * self.down + 1 - (in_size + self.conv_kernel - 1) * self.up + up_taps + down_taps - 2
        low = (total + self.up) // 2  # NVIDIA's symmetric sample positions (paper, appendix C.3)
        self.pads = (low, total - low)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.weight.shape[1] * self.conv_kernel**2)
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up, self.down, self.pads,
                              "linear" if self.is_torgb else "lrelu", self.conv_clamp)


class SynthesisNetwork(nn.Module):
    """w -> image through ``input`` and ``num_layers + 1`` layers whose cutoffs rise geometrically.

    ``num_fp16_res`` only changes speed on NVIDIA's GPUs: accepted, unused (float32 throughout).
    """

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2**2.1, last_stopband_rel: float = 2**0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, **layer_kwargs: object):
        super().__init__()
        self.output_scale = output_scale
        last_cutoff = img_resolution / 2
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_cutoff * last_stopband_rel / first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels
        self.input = SynthesisInput(w_dim, int(channels[0]), int(sizes[0]), rates[0], cutoffs[0])
        self.layer_names = []
        for i in range(num_layers + 1):
            prev = max(i - 1, 0)
            layer = SynthesisLayer(
                w_dim, is_torgb=i == num_layers, is_critically_sampled=i >= num_layers - num_critical,
                in_channels=int(channels[prev]), out_channels=int(channels[i]), in_size=int(sizes[prev]),
                out_size=int(sizes[i]), in_sampling_rate=int(rates[prev]), out_sampling_rate=int(rates[i]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[i], in_half_width=half_widths[prev],
                out_half_width=half_widths[i], **layer_kwargs)
            name = f"L{i}_{int(sizes[i])}_{int(channels[i])}"
            self.add_module(name, layer)
            self.layer_names.append(name)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = self.input(w)
        for name in self.layer_names:
            x = getattr(self, name)(x, w)
        return x * self.output_scale

"""The parts NVIDIA's StyleGAN2-ADA and StyleGAN3 generators share, with NVIDIA's module names.

``FullyConnectedLayer`` (equalised learning rate), ``MappingNetwork`` (``fc0`` ... ``fcN``,
``embed`` for class labels, ``w_avg``) and the ``Generator`` around a synthesis network
(``mapping`` + ``synthesis``), so that state dict keys of NVIDIA's pickles load 1:1.
ganscope samples one w per image (no style mixing), so every synthesis layer gets the same w.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.errors import GanscopeError

ACTIVATIONS = {  # NVIDIA's bias_act: the function and its default gain
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise GanscopeError(f"activation {name!r} is not supported (supported: {', '.join(ACTIVATIONS)})")
    return name


def bias_act(x: torch.Tensor, bias: torch.Tensor | None = None, act: str = "linear", gain: float = 1.0,
             clamp: float | None = None) -> torch.Tensor:
    """Add a per-channel bias (axis 1), activate, scale by the activation's own gain times ``gain``, clamp."""
    fn, own_gain = ACTIVATIONS[act]
    if bias is not None:
        x = x + bias.view((1, -1) + (1,) * (x.dim() - 2))
    x = fn(x)
    gain = own_gain * gain
    if gain != 1:
        x = x * gain
    return x if clamp is None else x.clamp(-clamp, clamp)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Linear layer with run-time weight scaling and a learning-rate multiplier."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float | Sequence[float] = 0.0, weight_init: float = 1.0):
        super().__init__()
        self.activation = check_activation(activation)
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_multiplier))
        init = torch.as_tensor(bias_init, dtype=torch.float32).expand(out_features) / lr_multiplier
        self.bias = nn.Parameter(init.clone()) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        if self.activation == "linear":
            return F.linear(x, self.weight * self.weight_gain, bias)
        return bias_act(F.linear(x, self.weight * self.weight_gain), bias, self.activation)


class MappingNetwork(nn.Module):
    """z (and a class label) -> w, pulled towards ``w_avg`` by ``truncation_psi`` (1 = off)."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int = 8, embed_features: int | None = None,
                 layer_features: int | None = None, activation: str = "lrelu", lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.num_layers = z_dim, c_dim, num_layers
        embed_features = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            self.add_module(f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation=activation,
                                                          lr_multiplier=lr_multiplier))
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))
        self.truncation_psi = 1.0

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        parts = [normalize_2nd_moment(z)] if self.z_dim > 0 else []
        if self.c_dim > 0:
            parts.append(normalize_2nd_moment(self.embed(c)))
        x = torch.cat(parts, dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x if self.truncation_psi == 1 else torch.lerp(self.w_avg, x, self.truncation_psi)


class Generator(nn.Module):
    """NVIDIA's ``Generator`` layout (``synthesis``, ``mapping``) with ganscope's protocol: ``forward(z)``.

    ``class_index`` fixes the label of a conditional model; a one-channel model's images are
    repeated to RGB (what the segmenters read).
    """

    def __init__(self, synthesis: nn.Module, mapping: MappingNetwork, class_index: int | None = None):
        super().__init__()
        self.synthesis, self.mapping = synthesis, mapping
        self.latent_shape = (mapping.z_dim,)
        label = torch.zeros(mapping.c_dim)
        if class_index is not None:
            label[class_index] = 1
        self.register_buffer("label", label, persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1)
        img = self.synthesis(self.mapping(z, self.label.to(z).expand(z.shape[0], -1)))
        return img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img

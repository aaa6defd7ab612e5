"""``stylegan:PATH.pkl``: NVIDIA's own network pickles (stylegan2-ada-pytorch, stylegan3 -T and -R).

The pickle is read as data (``nvidia_pickle``); its ``G_ema`` record says which generator it
is (a ``synthesis`` with blocks ``b4`` ... is StyleGAN2-ADA, one with an ``input`` and ``L*``
layers is StyleGAN3) and how it was built (its ``init_kwargs``); ganscope's own implementation
of that generator is built from them and gets the record's parameters and buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ganscope.errors import GanscopeError
from ganscope.models import stylegan2ada, stylegan3
from ganscope.models.checkpoints import load_state
from ganscope.models.nvidia_layers import Generator, MappingNetwork
from ganscope.models.nvidia_pickle import Record, read_network_pickle
from ganscope.models.stylegan2 import DEFAULT_TRUNCATION
from ganscope.spec_options import as_float, split_options

GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
SYNTHESIS: dict[str, Callable[..., nn.Module]] = {"stylegan2ada": stylegan2ada.SynthesisNetwork,
                                                  "stylegan3": stylegan3.SynthesisNetwork}
MAPPING_LAYERS = {"stylegan2ada": 8, "stylegan3": 2}  # NVIDIA's defaults differ


def generator_kind(record: Record) -> str:
    """'stylegan2ada' or 'stylegan3', from the record's class and its synthesis network's submodules."""
    synthesis = record.child("synthesis")
    if record.class_name != "Generator" or synthesis is None or record.child("mapping") is None:
        raise GanscopeError(f"G_ema is NVIDIA's {record.class_name!r}, not a Generator with mapping and synthesis "
                            "networks (ganscope reads stylegan2-ada-pytorch and stylegan3 generators)")
    if synthesis.child("b4") is not None:
        return "stylegan2ada"
    if synthesis.child("input") is not None:
        return "stylegan3"
    parts = ", ".join(synthesis.state.get("_modules", {})) or "none"
    raise GanscopeError(f"G_ema's synthesis network ({synthesis.class_name}) has neither StyleGAN2-ADA blocks "
                        f"(b4, b8, ...) nor a StyleGAN3 input layer; its submodules: {parts}")


def build_generator(kind: str, init_args: tuple, init_kwargs: dict[str, Any],
                    class_index: int | None = None) -> Generator:
    """ganscope's generator for NVIDIA's ``Generator(*init_args, **init_kwargs)`` (random weights)."""
    kwargs = dict(zip(GENERATOR_ARGS, init_args)) | dict(init_kwargs)
    missing = [k for k in GENERATOR_ARGS if k not in kwargs]
    if missing:
        raise GanscopeError(f"the Generator record lacks its init arguments {', '.join(missing)}")
    z_dim, c_dim, w_dim, resolution, img_channels = (kwargs.pop(k) for k in GENERATOR_ARGS)
    if img_channels not in (1, 3):
        raise GanscopeError(f"the generator makes {img_channels}-channel images; ganscope shows RGB or grey")
    mapping_kwargs = {"num_layers": MAPPING_LAYERS[kind], **kwargs.pop("mapping_kwargs", {})}
    synthesis_kwargs = {**kwargs.pop("synthesis_kwargs", {}), **kwargs}  # stylegan3's code passes them flat
    try:
        synthesis = SYNTHESIS[kind](w_dim=w_dim, img_resolution=resolution, img_channels=img_channels,
                                    **synthesis_kwargs)
        mapping = MappingNetwork(z_dim, c_dim, w_dim, **mapping_kwargs)
    except TypeError as err:  # an option of NVIDIA's code that this implementation does not have
        raise GanscopeError(f"the {kind} generator in this pickle uses options ganscope does not implement "
                            f"({err}); its init kwargs: {sorted(init_kwargs)}") from err
    if c_dim == 0 and class_index is not None:
        raise GanscopeError("class= is for conditional models; this generator has no class input (c_dim 0)")
    if c_dim > 0 and (class_index is None or not 0 <= class_index < c_dim):
        given = "none was given" if class_index is None else f"got {class_index}"
        raise GanscopeError(f"this generator is class-conditional ({c_dim} classes): choose one with "
                            f"?class=N, N in 0..{c_dim - 1} ({given})")
    return Generator(synthesis, mapping, class_index)


def load_network(record: Record, source: str, class_index: int | None = None) -> Generator:
    """A Generator record -> ganscope's generator with the record's weights (state dict loaded 1:1)."""
    kind = generator_kind(record)
    gen = build_generator(kind, record.init_args, record.init_kwargs, class_index)
    load_state(gen, record.tensors(), source)
    return gen


def stylegan_generator(arg: str | None) -> Generator:
    """Registry factory for ``stylegan:PATH[?truncation=0.7&noise=const&class=N]``."""
    from ganscope.models.catalog import checkpoint_path

    path, options = split_options(arg, ["truncation", "noise", "class"], "stylegan")
    truncation = as_float(options, "truncation", DEFAULT_TRUNCATION, 0.0, 1.0)
    noise = options.get("noise", "const")
    if noise not in stylegan2ada.NOISE_MODES:
        raise GanscopeError(f"option noise={noise!r}: use {' or '.join(stylegan2ada.NOISE_MODES)} "
                            "(random noise would make samples irreproducible)")
    class_index = _as_index(options.get("class"))
    file = checkpoint_path(path, "stylegan")
    data = read_network_pickle(file)
    record = data.get("G_ema")
    if not isinstance(record, Record):
        networks = ", ".join(k for k, v in data.items() if isinstance(v, Record)) or "none"
        raise GanscopeError(f"{file} has no G_ema network (networks in it: {networks}); ganscope dissects "
                            "the EMA generator of a training snapshot")
    gen = load_network(record, f"{file} (G_ema)", class_index)
    if truncation < 1 and not hasattr(gen.mapping, "w_avg"):
        raise GanscopeError(f"{file} tracks no w_avg (w_avg_beta=None), so it cannot be truncated: use truncation=1")
    gen.mapping.truncation_psi = truncation
    if isinstance(gen.synthesis, stylegan2ada.SynthesisNetwork):
        gen.synthesis.set_noise_mode(noise)
    return gen.eval().requires_grad_(False)


def _as_index(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise GanscopeError(f"option class={value!r} is not a class index (an integer)") from None

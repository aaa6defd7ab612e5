"""Generator registry: ``load_generator(spec)`` returns a module with ``latent_shape``."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ganscope.errors import GanscopeError
from ganscope.io import load_weights, weights_metadata
from ganscope.models.biggan import biggan_generator
from ganscope.models.demo import DEMO_CHANNELS, DemoGenerator
from ganscope.models.nvidia import stylegan_generator
from ganscope.models.proggan import proggan_generator
from ganscope.models.stylegan2 import stylegan2_generator
from ganscope.registry import Factory, resolve

WEIGHTS = Path(__file__).parent / "weights"
DEMO_PAINT_SETS = WEIGHTS / "demo_paint_sets.json"  # ganscope paint-sets on `ganscope demo` (reproduced exactly)


def demo_generator(path: str | None = None) -> DemoGenerator:
    """The shipped demo generator (EMA weights), or demo weights from ``path``."""
    file = Path(path) if path else WEIGHTS / "demo_generator.safetensors"
    if not file.is_file() and not path:
        raise GanscopeError(f"demo generator weights are missing ({file}); run `ganscope train-demo generator`")
    state = load_weights(file)
    heads = sorted(int(k.split(".")[1]) for k in state if k.startswith("to_rgb.") and k.endswith(".weight"))
    widths = [state[f"to_rgb.{i}.weight"].shape[1] for i in heads]  # the widths are in the weights
    norm = weights_metadata(file).get("norm") or ("batch" if "layer1.norm.running_mean" in state else "pixel")
    gen = DemoGenerator(channels=tuple(widths) or DEMO_CHANNELS, norm=norm)
    gen.load_state_dict(state)
    return gen.eval().requires_grad_(False)


GENERATORS: dict[str, Factory] = {"demo": demo_generator, "proggan": proggan_generator,
                                   "stylegan2": stylegan2_generator, "stylegan": stylegan_generator,
                                   "biggan": biggan_generator}


def load_generator(spec: str) -> nn.Module:
    """Resolve a generator spec and check it follows the generator protocol."""
    gen = resolve(spec, GENERATORS, "generator")
    check_generator(gen, spec)
    return gen.eval().requires_grad_(False)


def check_generator(gen: object, name: str = "generator") -> None:
    """A torch module with a ``latent_shape`` of positive ints (what every sampler relies on)."""
    if not isinstance(gen, nn.Module):
        raise GanscopeError(f"generator {name!r} is a {type(gen).__name__}, not a torch.nn.Module")
    shape = getattr(gen, "latent_shape", None)
    if shape is None or not all(isinstance(s, int) and s > 0 for s in shape):
        raise GanscopeError(f"generator {name!r} needs a latent_shape attribute (a tuple of positive ints)")

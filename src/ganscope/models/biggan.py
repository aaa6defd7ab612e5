"""``biggan:DIR?class=NAME``: BigGAN-deep as the ``pytorch-pretrained-biggan`` package saves it.

``DIR`` holds ``config.json`` (the package's ``BigGANConfig``) and ``pytorch_model.bin`` (the model's
state dict, read with ``weights_only``). The class is fixed per spec, by ImageNet name or index,
because a dissection compares units over samples of one distribution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganscope.errors import GanscopeError, did_you_mean
from ganscope.models.biggan_net import BigGAN, Generator
from ganscope.models.checkpoints import flatten, load_state, read_checkpoint
from ganscope.models.imagenet_classes import IMAGENET_CLASSES
from ganscope.spec_options import as_bool, as_float, split_options

CONFIG_NAME, WEIGHTS_NAME = "config.json", "pytorch_model.bin"
CONFIG_KEYS = ("z_dim", "channel_width", "num_classes", "layers", "attention_layer_position", "eps", "n_stats")
DEFAULT_TRUNCATION = 0.4  # the package's own example; BigGAN's images are sharper but less varied below 1
EXAMPLE = "biggan:DIR?class=church"


def read_config(directory: Path) -> dict[str, Any]:
    """The directory's config.json, checked for what the architecture needs."""
    if not directory.is_dir():
        raise GanscopeError(f"biggan: {directory} is not a directory (expected one with {CONFIG_NAME} "
                            f"and {WEIGHTS_NAME}, as pytorch-pretrained-biggan saves a model)")
    file = directory / CONFIG_NAME
    if not file.is_file():
        raise GanscopeError(f"biggan: {directory} has no {CONFIG_NAME} (pytorch-pretrained-biggan's model "
                            f"directory holds {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GanscopeError(f"biggan: {file} is not valid JSON ({err})") from err
    missing = [k for k in CONFIG_KEYS if not isinstance(config, dict) or k not in config]
    if missing:
        raise GanscopeError(f"biggan: {file} lacks {', '.join(missing)} (not a BigGANConfig?)")
    check_layers(config, file)
    return config


def check_layers(config: dict[str, Any], source: Path) -> None:
    """The layer table must chain: 16 x width channels at 4x4, each block keeps or halves them, ending at 1."""
    layers = config["layers"]
    shapes_ok = isinstance(layers, list) and layers and all(
        isinstance(layer, list) and len(layer) == 3 and isinstance(layer[0], bool) for layer in layers)
    if not shapes_ok:
        raise GanscopeError(f"biggan: {source}: layers must be a list of [upsample, in, out] triples")
    widths = [16] + [layer[2] for layer in layers]
    broken = [i for i, (layer, cin) in enumerate(zip(layers, widths))
              if layer[1] != cin or layer[2] not in (cin, cin / 2)]
    if broken or widths[-1] != 1:
        raise GanscopeError(f"biggan: {source}: the layers do not chain from 16 to 1 channel multiples, keeping or "
                            f"halving them (first bad layer: {broken[0] if broken else len(layers) - 1})")
    resolution = 4 * 2 ** sum(layer[0] for layer in layers)
    if config.get("output_dim", resolution) != resolution:
        raise GanscopeError(f"biggan: {source}: the layers make {resolution} x {resolution} images, "
                            f"not output_dim {config['output_dim']}")


def class_index(value: str | None, num_classes: int) -> int:
    """``class=`` as an index, or (for the 1,000 ImageNet classes) a name; underscores stand for spaces."""
    if value is None:
        raise GanscopeError(f"BigGAN is class-conditional: choose a class with ?class=NAME or ?class=N "
                            f"(0..{num_classes - 1}), e.g. {EXAMPLE}")
    if value.strip().isdigit():
        index = int(value)
        if index >= num_classes:
            raise GanscopeError(f"option class={index}: this BigGAN has classes 0..{num_classes - 1}")
        return index
    if num_classes != len(IMAGENET_CLASSES):
        raise GanscopeError(f"option class={value!r}: this BigGAN has {num_classes} classes, not ImageNet's "
                            f"{len(IMAGENET_CLASSES)}, so give an index 0..{num_classes - 1}")
    name = value.replace("_", " ").strip().lower()
    lowered = [c.lower() for c in IMAGENET_CLASSES]
    if name not in lowered:
        raise GanscopeError(f"option class={value!r} is not an ImageNet class name{did_you_mean(name, lowered)}")
    return lowered.index(name)


def build_biggan(config: dict[str, Any], class_idx: int, truncation: float) -> BigGAN:
    """ganscope's BigGAN for a package config (random weights)."""
    layers = [tuple(layer) for layer in config["layers"]]
    generator = Generator(config["z_dim"], config["channel_width"], layers, config["attention_layer_position"],
                          config["n_stats"], config["eps"])
    return BigGAN(config["z_dim"], config["num_classes"], generator, class_idx, truncation)


def biggan_generator(arg: str | None) -> BigGAN:
    """Registry factory for ``biggan:DIR?class=NAME|N[&truncation=0.4][&trust=true]``."""
    path, options = split_options(arg, ["class", "truncation", "trust"], "biggan")
    truncation = as_float(options, "truncation", DEFAULT_TRUNCATION, 0.0, 1.0)
    if truncation == 0:
        raise GanscopeError("option truncation=0: BigGAN's truncation must be in (0, 1]")
    directory = Path(path).expanduser()
    config = read_config(directory)
    gen = build_biggan(config, class_index(options.get("class"), config["num_classes"]), truncation)
    weights = read_checkpoint(directory / WEIGHTS_NAME, trust=as_bool(options, "trust"), kind="biggan")
    tensors, _ = flatten(weights)
    load_state(gen, tensors, str(directory / WEIGHTS_NAME))
    return gen.eval().requires_grad_(False)

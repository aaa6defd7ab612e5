"""Named training recipes for the demo generator (the recipe study in docs/models.md).

A recipe fixes the architecture widths and every training choice; the training budget
(steps or CPU seconds) is given separately, so that recipes are compared at equal compute.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ganscope.errors import GanscopeError, did_you_mean


@dataclass(frozen=True)
class Recipe:
    """One way to train the demo generator; see ``RECIPES``."""

    channels: tuple[int, ...] = (128, 128, 64, 32, 16)  # generator widths at 4, 8, 16, 32, 64 px
    generator_norm: str = "pixel"  # "pixel" (ProGAN), "batch" (DCGAN) or both: ganscope.models.demo.NORMS
    disc: str = "resnet"  # the pixel discriminator: "resnet" (DemoDiscriminator) or "strided"
    disc_channels: tuple[int, ...] | None = None  # its widths at 4 ... 64 px (default: channels)
    projected: bool = False  # add a discriminator on frozen demo-segmenter features
    augment: tuple[str, ...] = ()  # DiffAugment policy, e.g. ("colour", "translation", "cutout")
    batch: int = 16
    lr: float = 5e-4
    # False: each equalised weight gets the Adam step of a plain (DCGAN-style) parametrisation,
    # lr / its run-time scale, i.e. 20-50x larger steps; the weights file stays the same format.
    equalised_lr: bool = True
    betas: tuple[float, float] = (0.5, 0.99)
    r1_gamma: float = 0.1
    r1_every: int = 8
    instance_noise: float = 0.1
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    # weight of an auxiliary generator term that pulls the concept frequencies of each generated batch (the demo
    # segmenter's soft labels) towards the world's: ganscope.train.concepts; 0 trains a plain GAN
    concept_weight: float = 0.0
    concept_every: int = 4  # lazily, every n-th step with n times the weight (as R1), for a quarter of its cost
    # (concept, factor) pairs: a concept's share of that term, relative to the others' 1 (a mode the term is slow on)
    concept_boost: tuple[tuple[str, float], ...] = ()
    # a recipe whose training state this one may continue (a fine-tuning phase), keeping its step and CPU counters
    warm_start: str | None = None
    notes: str = field(default="", compare=False)

    def describe(self) -> dict:
        """The training choices as plain JSON values (what a resumed run must match); notes left out."""
        fields = asdict(self)
        del fields["notes"]
        return json.loads(json.dumps(fields))

    def matches(self, described: dict) -> bool:
        """Whether a stored ``describe()`` is this recipe; fields added since then take their defaults."""
        return {**Recipe().describe(), **described} == self.describe()


WIDE = (256, 128, 64, 64, 32)  # 2x v1 at 8, 32 and 64 px
DCGAN_LIKE = dict(channels=WIDE, disc="strided", disc_channels=(256, 128, 64, 32, 32), batch=32, lr=2e-4,
                  r1_every=4, instance_noise=0.05)
DIFF_AUGMENT = ("colour", "translation", "cutout")
PLAIN = dict(equalised_lr=False)  # the DCGAN prototype's step sizes (it had no equalised learning rate)
DCGAN = {**DCGAN_LIKE, "channels": (256, 128, 64, 32, 16), **PLAIN}  # and its widths per resolution

RECIPES: dict[str, Recipe] = {
    "v1": Recipe(notes="the shipped v1 generator's recipe (9,250 steps in 175 min): the control"),
    "wide": Recipe(**DCGAN_LIKE, notes="wider at 8-64 px, a strided discriminator, the DCGAN prototype's settings"),
    "wide-da": Recipe(**{**DCGAN_LIKE, "instance_noise": 0.0}, augment=DIFF_AUGMENT,
                      notes="wide + DiffAugment in place of instance noise"),
    "wide-da-proj": Recipe(**{**DCGAN_LIKE, "instance_noise": 0.0}, augment=DIFF_AUGMENT, projected=True,
                           notes="wide-da + a projected discriminator on the frozen demo segmenter's encoder"),
    "wide-da-plain": Recipe(**{**DCGAN_LIKE, "instance_noise": 0.0, **PLAIN}, augment=DIFF_AUGMENT,
                            notes="wide-da with plain-parametrisation step sizes"),
    "dcgan": Recipe(**DCGAN,
                    notes="the DCGAN prototype's widths per resolution (a third of wide's cost), its step sizes"
                          " and instance noise"),
    "dcgan-bn": Recipe(**DCGAN, generator_norm="batch",
                       notes="the DCGAN prototype of issue 19 as closely as the layer naming allows: its widths,"
                             " batch norm, step sizes and instance noise"),
    "dcgan-bn-pn": Recipe(**DCGAN, generator_norm="batch-pixel",
                          notes="dcgan-bn with pixel norm after each activation too, as in the paper's ProGAN, which"
                                " keeps a layer's output on a sphere when units are ablated"),
    "dcgan-bn-pn-freq": Recipe(**DCGAN, generator_norm="batch-pixel", concept_weight=0.5, warm_start="dcgan-bn-pn",
                               notes="dcgan-bn-pn continued with the concept-frequency term, against the mode dropping"
                                     " of domes (a third of the world's dome pixels)"),
    "dcgan-bn-pn-freq2": Recipe(**DCGAN, generator_norm="batch-pixel", concept_weight=2.0,
                                warm_start="dcgan-bn-pn-freq",
                                notes="dcgan-bn-pn-freq with four times the weight: 1,400 steps at 0.5 took domes"
                                      " from -74 % to -45 % of the world's frequency"),
    "dcgan-bn-pn-freq3": Recipe(**DCGAN, generator_norm="batch-pixel", concept_weight=2.0,
                                concept_boost=(("cloud", 4.0),), warm_start="dcgan-bn-pn-freq2",
                                notes="dcgan-bn-pn-freq2 with cloud's share of the term four times the others': the"
                                      " shipped v2 still drew cloud 32 % too rarely, every other concept within 20 %"),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, with close names suggested for a typo."""
    if name not in RECIPES:
        raise GanscopeError(f"unknown recipe {name!r}{did_you_mean(name, RECIPES)} (known: {', '.join(RECIPES)})")
    return RECIPES[name]

"""The session: the one path from sample indices (and edits) to images, activations and labels.

A ``Session`` owns a generator, a segmenter, the seed, the device and the batch size, and
checks them once when it is built. Dissection, interventions, artifact scoring, the server,
notebook widgets and Ray workers all ask it for images instead of running the generator
themselves, so sample i is always ``G(latent(seed, i))`` with the same checks everywhere.

``session.at(layer)`` is the session cut at one layer: run the generator up to the layer once
per batch, then finish it many times from edited activations (``ganscope.resume``).
"""

from __future__ import annotations

import hashlib
import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.budget import check_memory, check_span
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.images import check_finite
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.resume import Prefix, Resumer, resumer
from ganscope.sampling import batches, check_device, latents
from ganscope.segmenters import check_segmenter
from ganscope.trace import TraceDict, get_module

Images = torch.Tensor  # (B, 3, H, W) in [-1, 1]


class Session:
    """Generator + segmenter + seed + device + batch size, validated once.

    Build it from modules, ``Session(generator, segmenter, seed=0)``, or from specs,
    ``Session.from_specs("demo", "demo")``. The segmenter may be None for work that needs
    images only (rendering samples, the paint server without concept fractions).
    """

    def __init__(self, generator: nn.Module, segmenter: Any = None, *, seed: int = 0, device: str = "cpu",
                 batch_size: int = 16, model_name: str = "custom", segmenter_name: str = "custom"):
        from ganscope.models import check_generator

        _check_options(seed, batch_size)
        check_device(device)
        check_generator(generator, model_name)
        if segmenter is not None:
            check_segmenter(segmenter, segmenter_name)
            if hasattr(segmenter, "to"):
                segmenter.to(device)
        self.generator = generator.to(device).eval()
        self.segmenter = segmenter
        self._sized_labels = segmenter is not None and _takes_size(segmenter)
        self.seed, self.device, self.batch_size = seed, device, batch_size
        self.model_name, self.segmenter_name = model_name, segmenter_name

    @classmethod
    def from_specs(cls, model: str = "demo", segmenter: str | None = "demo", *, seed: int = 0,
                   device: str | None = None, batch_size: int = 16) -> Session:
        """A session on the generator and segmenter that two specs name (see ``ganscope models``)."""
        from ganscope.models import load_generator
        from ganscope.segmenters import load_segmenter

        device = device or default_device()
        check_device(device)  # before any weights are loaded
        seg = None if segmenter is None else load_segmenter(segmenter)
        return cls(load_generator(model), seg, seed=seed, device=device, batch_size=batch_size, model_name=model,
                   segmenter_name=segmenter or "none")

    def with_options(self, *, seed: int | None = None, batch_size: int | None = None) -> Session:
        """The same models with another seed or batch size (models are shared, not copied)."""
        seed = self.seed if seed is None else seed
        batch_size = self.batch_size if batch_size is None else batch_size
        _check_options(seed, batch_size)
        other = object.__new__(Session)
        other.__dict__.update(self.__dict__)
        other.seed, other.batch_size = seed, batch_size
        return other

    def __repr__(self) -> str:
        return (f"Session(model={self.model_name!r}, segmenter={self.segmenter_name!r}, seed={self.seed}, "
                f"device={self.device!r}, batch_size={self.batch_size})")

    # -- what the models are -------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        return tuple(self.generator.latent_shape)

    @property
    def concepts(self) -> list[str]:
        return list(self._segmenter().concepts)

    @property
    def categories(self) -> list[str]:
        return list(self._segmenter().categories)

    def concept(self, name: str) -> int:
        """The label index of a concept; unknown names list the known ones."""
        if name not in self.concepts[1:]:
            raise GanscopeError(f"unknown concept {name!r}; concepts are: {', '.join(self.concepts[1:])}",
                                argument="concept")
        return self.concepts.index(name)

    @cached_property
    def weights_fingerprint(self) -> str:
        """A hash of the generator's and the segmenter's weights (and buffers), computed once."""
        digest = hashlib.sha256()
        for part in (self.generator, self.segmenter):
            digest.update(type(part).__qualname__.encode())
            for module in _modules(part):
                for name, tensor in module.state_dict().items():
                    digest.update(name.encode())
                    digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
                    digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()[:16]

    # -- the corridor --------------------------------------------------------------
    def batches(self, indices: Sequence[int]) -> Iterator[list[int]]:
        return batches(indices, self.batch_size)

    def latents(self, indices: Sequence[int]) -> torch.Tensor:
        """Latents of samples (seed, i) on the session's device."""
        return latents(self.seed, indices, self.latent_shape).to(self.device)

    @torch.no_grad()
    def images(self, indices: Sequence[int] | None = None, *, z: torch.Tensor | None = None,
               edits: Sequence[Intervention] = ()) -> Images:
        """Images of samples ``indices`` (or of latents ``z``) with ``edits`` applied in order, one batch.

        Edits on the same layer chain (a later one paints over an earlier one); edits on
        several layers apply in the generator's own order.
        """
        names = list(indices) if indices is not None else list(range(len(z)))
        z = self.latents(names) if z is None else z.to(self.device)
        chains: dict[str, list[Intervention]] = defaultdict(list)
        for edit in edits:
            chains[edit.layer].append(edit)
        with TraceDict(self.generator, [], edits={layer: _chain(c) for layer, c in chains.items()}, retain=False):
            images = self._generate(z)
        what = "the generated images" if not edits else f"the images edited at {edits[-1].layer!r}"
        return _check_images(images, names, what)

    def iter_images(self, indices: Sequence[int], edits: Sequence[Intervention] = ()) -> Iterator[tuple[list[int],
                                                                                                          Images]]:
        """(batch indices, images) for consecutive batches of ``indices``."""
        for batch in self.batches(indices):
            yield batch, self.images(batch, edits=edits)

    @torch.no_grad()
    def observe(self, indices: Sequence[int], layers: Sequence[str]) -> tuple[dict[str, torch.Tensor], Images]:
        """Activations of ``layers`` (float, (B, units, h, w); vectors become 1 x 1 maps) and images."""
        for layer in layers:
            get_module(self.generator, layer)
        z = self.latents(indices)
        with TraceDict(self.generator, list(layers)) as traces:
            images = self._generate(z)
        images = _check_images(images, indices, "generator output")
        return {name: _check_activations(name, traces[name].output, indices) for name in layers}, images

    @torch.no_grad()
    def labels(self, images: Images, size: tuple[int, int] | None = None,
               indices: Sequence[int] | None = None) -> torch.Tensor:
        """Segmenter labels (B, H, W), long, checked, at ``size`` when given.

        A segmenter whose ``segment`` takes ``size`` labels at that size itself (SegFormer takes its
        argmax there); others' labels are resized with nearest neighbours.
        """
        seg = self._segmenter()
        sized = size is not None and self._sized_labels
        labels = seg.segment(images, size=tuple(size)) if sized else seg.segment(images)
        if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or labels.shape[0] != images.shape[0]:
            got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise GanscopeError(f"segmenter returned {got}; expected a LongTensor of shape (B, H, W)")
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise GanscopeError(f"segmenter returned dtype {labels.dtype}; expected integer labels")
        labels = labels.long()
        concepts = len(seg.concepts)
        if labels.numel() and (labels.min() < 0 or labels.max() >= concepts):
            names = list(indices) if indices is not None else list(range(len(images)))
            raise GanscopeError(f"segmenter returned labels outside [0, {concepts}) for samples "
                                f"{names[0]}..{names[-1]}")
        if size is not None and tuple(labels.shape[1:]) != tuple(size):
            labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
        return labels

    def fractions(self, images: Images, concept: str, footprint: torch.Tensor | None = None) -> torch.Tensor:
        """Per image, the fraction of pixels (inside ``footprint`` when given) labelled ``concept`` (a name)."""
        return fractions(self.labels(images) == self.concept(concept), footprint)

    def at(self, layer: str) -> Cut:
        """The session cut at ``layer``, for experiments that edit it many times per sample."""
        return Cut(self, layer)

    def render_samples(self, indices: Sequence[int], directory: Path) -> list[Path]:
        """Write ``directory/{index}.png`` for each sample index (skipping ones already there)."""
        from ganscope.images import save_png

        todo = [i for i in sorted(set(indices)) if not (directory / f"{i}.png").is_file()]
        for batch, images in self.iter_images(todo):
            for i, image in zip(batch, images):
                save_png(directory / f"{i}.png", image)
        return [directory / f"{i}.png" for i in indices]

    def _segmenter(self) -> Any:
        if self.segmenter is None:
            raise GanscopeError("this needs a segmenter: build the session with one", argument="segmenter")
        return self.segmenter

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        try:
            return self.generator(z)
        except RuntimeError as err:
            raise GanscopeError(f"generator failed on latents of shape {tuple(z.shape)} (latent_shape "
                                f"{self.latent_shape}): {str(err).splitlines()[0]}") from err


@dataclass
class Cut:
    """A session cut at ``layer``: prefixes run up to the layer once, ``finish`` completes them (edited)."""

    session: Session
    layer: str
    resume: Resumer = field(init=False)

    def __post_init__(self) -> None:
        self.resume = resumer(self.session.generator, self.layer)

    @property
    def segmenter(self) -> Any:
        return self.session.segmenter

    @property
    def seed(self) -> int:
        return self.session.seed

    @property
    def device(self) -> str:
        return self.session.device

    @property
    def concepts(self) -> list[str]:
        return self.session.concepts

    def concept(self, name: str) -> int:
        return self.session.concept(name)

    @torch.no_grad()
    def prefixes(self, indices: Sequence[int], progress: bool | ProgressCallback = False,
                 description: str = "samples") -> Iterator[tuple[list[int], Prefix]]:
        """(batch indices, prefix at the layer) for consecutive batches of ``indices``; ``progress`` counts
        the samples whose batch the caller has finished (the one progress display, ``ganscope.progress``)."""
        with progress_bar(progress, description, len(indices)) as update:
            done = 0
            for batch in self.session.batches(indices):
                yield batch, replace(self.resume.prepare(self.session.latents(batch)), samples=batch)
                done += len(batch)
                update(done)

    def finish(self, prefix: Prefix, acts: torch.Tensor | None = None) -> Images:
        """Images from (edited) activations; None finishes from the unedited ones.

        NaN or Inf in them (a finite but huge insertion value can overflow in later layers) is an error
        naming the sample, never a silently mislabelled image.
        """
        images = self.resume.finish(prefix, prefix.acts if acts is None else acts)
        what = "the generated images" if acts is None else f"the images edited at {self.layer!r}"
        check_finite(what, images, prefix.samples or range(len(images)))
        return images

    def edited(self, prefix: Prefix, edit: Intervention) -> Images:
        """Images with ``edit`` applied to the prefix's activations."""
        return self.finish(prefix, edit(prefix.acts))

    def labels(self, images: Images) -> torch.Tensor:
        return self.session.labels(images)

    def fractions(self, images: Images, concept: str, footprint: torch.Tensor | None = None) -> torch.Tensor:
        return self.session.fractions(images, concept, footprint)


def held_prefixes(cut: Cut, indices: range) -> list[Prefix]:
    """Every batch's prefix at the cut, kept in memory (for training loops that revisit them); priced first
    from the first batch, so that a count whose prefixes would not fit is refused before they are computed."""
    check_span("samples", indices.start, len(indices))
    batches = cut.prefixes(indices)
    first = next(batches)[1]
    per_sample = sum(t.element_size() * t.numel() for t in _tensors(first)) // max(1, len(first.acts))
    check_memory("samples", len(indices), per_sample, f"activations at {cut.layer!r}")
    return [first] + [prefix for _, prefix in batches]


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors inside a prefix (its activations and whatever state finishing needs)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        value = list(vars(value).values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def fractions(hits: torch.Tensor, footprint: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``hits`` (B, H, W) per image, over the pixels of ``footprint`` (H, W) when given."""
    hits = hits.float()
    if footprint is None:
        return hits.flatten(1).mean(1)
    footprint = footprint.to(hits)
    if tuple(footprint.shape) != tuple(hits.shape[1:]):
        footprint = F.interpolate(footprint[None, None], size=hits.shape[1:], mode="nearest")[0, 0]
    return (hits * footprint).flatten(1).sum(1) / footprint.sum().clamp(min=1)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_options(seed: int, batch_size: int) -> None:
    if batch_size < 1:
        raise GanscopeError(f"batch_size must be >= 1, got {batch_size}", argument="batch_size")
    if seed < 0:
        raise GanscopeError(f"seed must be >= 0, got {seed}", argument="seed")


def _takes_size(segmenter: Any) -> bool:
    try:
        return "size" in inspect.signature(segmenter.segment).parameters
    except (TypeError, ValueError):  # a built-in without a signature
        return False


def _modules(part: Any) -> list[nn.Module]:
    """The torch modules that hold a model's weights: itself, or the modules among its attributes."""
    if part is None:
        return []
    if isinstance(part, nn.Module):
        return [part]
    return [value for _, value in sorted(vars(part).items()) if isinstance(value, nn.Module)]


def _chain(edits: list[Intervention]) -> Callable[[torch.Tensor], torch.Tensor]:
    def apply(acts: torch.Tensor) -> torch.Tensor:
        for edit in edits:
            acts = edit(acts)
        return acts

    return apply


def _check_images(images: Any, indices: Sequence[int], what: str) -> Images:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise GanscopeError(f"generator returned {got}; expected images of shape (B, 3, H, W)")
    check_finite(what, images, indices)
    return images


def _check_activations(layer: str, acts: torch.Tensor | None, indices: Sequence[int]) -> torch.Tensor:
    if acts is None:
        raise GanscopeError(f"layer {layer!r} did not run during the generator's forward pass")
    if acts.dim() == 2:  # a vector layer: one "pixel" per unit
        acts = acts[:, :, None, None]
    if acts.dim() != 4:
        raise GanscopeError(f"layer {layer!r} output has shape {tuple(acts.shape)}; expected (B, units, h, w)")
    check_finite(f"activations of layer {layer!r}", acts, indices)
    return acts.float()

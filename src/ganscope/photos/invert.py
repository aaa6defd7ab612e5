"""Invert a photo into a generator (find its latent, then adapt the generator to it), resumably.

Step 1 optimises the latent (z; w for StyleGAN2) with a pixel loss plus a perceptual loss
(``perceptual``): ``starts`` random latents are optimised together for ``search_steps``, the best is
kept and refined for ``steps``. Step 2 fits the photo's adaptation (``adapt.PhotoGenerator``) for
``adapt_steps`` with an L2 penalty ``regularise`` on it. The optimisation runs the session's generator
module with gradients; every image shown or saved comes from ``Session.images``.

With ``out``, a checkpoint (the global step, latents, adaptation and Adam state) is written every
``checkpoint_every`` steps; a re-run with the same photo, options and weights resumes from it and
ends with the same result, and one that finds the finished inversion just loads it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open

from ganscope.budget import MAX_STEPS, check_count
from ganscope.checkpoint import resume, save_state
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.images import save_png
from ganscope.io import output_directory, save_weights, write_json
from ganscope.photos.adapt import PhotoGenerator
from ganscope.photos.composite import MARGIN, THRESHOLD, change_mask, composite, edit_limit
from ganscope.photos.images import photo_digest, read_photo
from ganscope.photos.perceptual import distance, load_perceptual
from ganscope.photos.quality import mean_iou, psnr
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.sampling import latents
from ganscope.session import Session

CHECKPOINT, WEIGHTS, METRICS = "inversion.ckpt", "inversion.safetensors", "metrics.json"
MAX_STARTS = 256  # random starting latents, optimised together as one batch


@dataclass(frozen=True)
class InvertOptions:
    """Everything that determines an inversion's result (its fingerprint)."""

    layer: str  # the layer the photo will be painted at; the layers after it are adapted
    starts: int = 8  # random starting latents, optimised together as one batch
    search_steps: int = 30  # steps on all starts before the best is kept
    steps: int = 170  # latent refinement steps of the best start (step 1)
    adapt_steps: int = 200  # steps adapting the layers after ``layer`` (step 2)
    lr: float = 0.1  # Adam's rate for the latent
    adapt_lr: float = 0.01  # Adam's rate for the adaptation
    perceptual: str = "auto"  # perceptual features: auto, none, demo or package.module:callable
    perceptual_weight: float = 1.0  # of the perceptual term, beside the pixel term's 1
    regularise: float = 0.05  # L2 weight on the adaptation
    seed: int = 0  # of the starting latents

    def check(self) -> None:
        check_count("starts", self.starts, MAX_STARTS)  # the starts run as one batch
        for name in ("search_steps", "steps", "adapt_steps"):
            check_count(name, getattr(self, name), MAX_STEPS, least=0)
        for name in ("lr", "adapt_lr", "perceptual_weight", "regularise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GanscopeError(f"{name} must be a finite number >= 0, got {value}", argument=name)

    @property
    def total(self) -> int:
        return self.search_steps + self.steps + self.adapt_steps


@dataclass
class Inversion:
    """A photo inverted into a session's generator: edit it with the same ``Intervention``s as samples."""

    session: Session  # owns the PhotoGenerator: session.images(z=inversion.latent, edits=...) works as ever
    latent: torch.Tensor  # (1, *latent_shape) in the generator's space
    photo: torch.Tensor  # (3, H, W) in [-1, 1], as prepared by ganscope.photos.images
    weights: str  # the base session's weights fingerprint: a saved inversion loads only on those weights
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def generator(self) -> PhotoGenerator:
        return self.session.generator

    def reconstruction(self) -> torch.Tensor:
        """The adapted generator's image of the latent (3, H, W)."""
        return self.session.images(z=self.latent)[0]

    def edited(self, edits: Sequence[Intervention]) -> torch.Tensor:
        """The generator's own image with ``edits`` (3, H, W), before compositing."""
        return self.session.images(z=self.latent, edits=edits)[0]

    def edit(self, edits: Sequence[Intervention], *, threshold: float = THRESHOLD,
             margin: int = MARGIN) -> torch.Tensor:
        """The photo with ``edits`` applied (3, H, W): generated pixels where the edit changed the output
        (``composite.change_mask``, cut to the edits' regions grown by ``margin``), the photo elsewhere."""
        edited, reconstruction = self.edited(edits).cpu(), self.reconstruction().cpu()
        limit = edit_limit(edits, tuple(self.photo.shape[1:]), margin)
        return composite(self.photo, edited, change_mask(reconstruction, edited, limit, threshold=threshold))

    @classmethod
    def load(cls, directory: str | Path, session: Session | None = None, device: str | None = None) -> Inversion:
        """The inversion saved in ``directory``, on ``session`` (default: rebuilt from the saved specs on
        ``device``)."""
        directory = Path(directory)
        path = directory / WEIGHTS
        if not path.is_file():
            raise GanscopeError(f"no inversion in {directory} (no {WEIGHTS}); run `ganscope invert` first",
                                argument="inversion")
        tensors, meta = _read(path)
        if session is None:
            session = Session.from_specs(meta["model"], meta["segmenter"], seed=int(meta["seed"]), device=device,
                                         batch_size=1)
        if session.weights_fingerprint != meta["weights"]:
            raise GanscopeError(f"{directory} was inverted with other generator or segmenter weights "
                                f"({meta['model']!r})", argument="inversion")
        inversion = _start(session, tensors["photo"], meta["layer"])
        inversion.generator.load_adaptation(tensors)
        inversion.latent = tensors["latent"].to(session.device)
        inversion.metrics = json.loads(meta["metrics"])
        return inversion

    def save(self, directory: str | Path, fingerprint: str = "") -> Path:
        meta = {"model": self.session.model_name, "segmenter": self.session.segmenter_name,
                "layer": self.generator.layer, "space": self.generator.space, "seed": str(self.session.seed),
                "weights": self.weights, "fingerprint": fingerprint, "metrics": json.dumps(self.metrics)}
        tensors = {"latent": self.latent, "photo": self.photo, **self.generator.adaptation()}
        return save_weights(Path(directory) / WEIGHTS, tensors, meta)


def invert(session: Session, photo: str | Path | bytes | torch.Tensor, *, layer: str, out: str | Path | None = None,
           starts: int = 8, search_steps: int = 30, steps: int = 170, adapt_steps: int = 200,
           perceptual: str = "auto", regularise: float = 0.05, seed: int = 0, checkpoint_every: int = 25,
           progress: bool | ProgressCallback = False) -> Inversion:
    """Invert ``photo`` (a path, file bytes or a (3, H, W) tensor in [-1, 1]) into ``session``'s generator,
    adapting the layers after ``layer``; see the module docstring. ``out`` saves and resumes."""
    options = InvertOptions(layer, starts, search_steps, steps, adapt_steps, perceptual=perceptual,
                            regularise=regularise, seed=seed)
    options.check()
    if checkpoint_every < 1:
        raise GanscopeError(f"checkpoint_every must be >= 1, got {checkpoint_every}", argument="checkpoint_every")
    size = session.images(z=torch.zeros(1, *session.latent_shape)).shape[-1]
    target = read_photo(photo, size) if not isinstance(photo, torch.Tensor) else _check_photo(photo, size)
    inversion = _start(session, target, layer)
    fingerprint = _fingerprint(options, session, target)
    if out is None:
        return _Run(inversion, options, fingerprint, None, checkpoint_every).run(progress)
    directory = Path(out)
    with output_directory(directory):
        if (directory / WEIGHTS).is_file() and _read(directory / WEIGHTS)[1]["fingerprint"] == fingerprint:
            return Inversion.load(directory, session)
        return _Run(inversion, options, fingerprint, directory, checkpoint_every).run(progress)


class _Run:
    """One inversion's optimisation: a global step over the three stages, checkpointed."""

    def __init__(self, inversion: Inversion, options: InvertOptions, fingerprint: str, directory: Path | None,
                 every: int):
        self.inv, self.opt, self.fingerprint, self.directory, self.every = inversion, options, fingerprint, \
            directory, every
        self.gen = inversion.generator
        self.target = inversion.photo[None].to(inversion.session.device)
        self.extract = load_perceptual(options.perceptual, inversion.session.segmenter)
        self.target_features = None if self.extract is None else [f.detach() for f in self.extract(self.target)]
        z = latents(options.seed, range(options.starts), tuple(self.gen.base.latent_shape)).to(self.target.device)
        with torch.no_grad():
            self.latent = self.gen.to_space(z).detach()
        self.step, self.step1 = 0, {}

    def run(self, progress: bool | ProgressCallback) -> Inversion:
        resumed = self._resume()
        optimiser = self._optimiser(self._stage(max(self.step - 1, 0)))  # the stage the checkpoint was taken in
        if resumed is not None:
            optimiser.load_state_dict(resumed)
        with progress_bar(progress, "inverting", self.opt.total) as update:
            while self.step < self.opt.total:
                if self.step == self.opt.search_steps and len(self.latent) > 1:
                    self._keep_best()
                    optimiser = self._optimiser(self._stage(self.step))
                if self.step == self.opt.search_steps + self.opt.steps and not self.step1:
                    self.step1 = self._metrics()
                    optimiser = self._optimiser(self._stage(self.step))
                loss = self._step(optimiser)
                self.step += 1
                update(self.step, f"{self._stage(self.step - 1)} loss {loss:.4f}")
                if self.directory is not None and (self.step % self.every == 0 or self.step == self.opt.total):
                    self._checkpoint(optimiser)
        if len(self.latent) > 1:  # no refinement steps: keep the best start all the same
            self._keep_best()
        self.inv.latent = self.latent
        self.inv.metrics = {"step1": self.step1 or self._metrics(), "step2": self._metrics(),
                            "options": asdict(self.opt)}
        if self.directory is not None:
            self._save()
        return self.inv

    def _stage(self, step: int) -> str:
        if step < self.opt.search_steps:
            return "search"
        return "refine" if step < self.opt.search_steps + self.opt.steps else "adapt"

    def _optimiser(self, stage: str) -> torch.optim.Adam:
        if stage == "adapt":
            return torch.optim.Adam([self.gen.residual, self.gen.scale, self.gen.bias], lr=self.opt.adapt_lr)
        self.latent.requires_grad_(True)
        return torch.optim.Adam([self.latent], lr=self.opt.lr)

    def _losses(self, latent: torch.Tensor) -> torch.Tensor:
        images = self.gen(latent)
        loss = F.mse_loss(images, self.target.expand_as(images), reduction="none").flatten(1).mean(1)
        if self.extract is not None:
            loss = loss + self.opt.perceptual_weight * distance(self.extract, images, self.target_features)
        return loss

    def _step(self, optimiser: torch.optim.Adam) -> float:
        stage = self._stage(self.step)
        start, count, lr = {"search": (0, self.opt.search_steps, self.opt.lr),
                            "refine": (self.opt.search_steps, self.opt.steps, self.opt.lr),
                            "adapt": (self.opt.search_steps + self.opt.steps, self.opt.adapt_steps,
                                      self.opt.adapt_lr)}[stage]
        cosine = 1.0 if stage == "search" else 0.5 * (1 + math.cos(math.pi * (self.step - start) / count))
        for group in optimiser.param_groups:
            group["lr"] = lr * cosine
        params = optimiser.param_groups[0]["params"]
        with torch.enable_grad():
            losses = self._losses(self.latent.detach() if stage == "adapt" else self.latent)
            loss = losses.sum()
            if stage == "adapt":
                loss = loss + self.opt.regularise * sum(p.pow(2).mean() for p in params)
            grads = torch.autograd.grad(loss, params)
        for param, grad in zip(params, grads):
            param.grad = grad
        optimiser.step()
        return float(losses.detach().min())

    @torch.no_grad()
    def _keep_best(self) -> None:
        best = int(self._losses(self.latent).argmin())
        self.latent = self.latent[best : best + 1].detach().clone()

    def _metrics(self) -> dict[str, float]:
        session = self.inv.session
        image = session.images(z=self.latent.detach())[0].cpu()
        metrics = {"psnr": round(psnr(self.inv.photo, image), 3)}
        if session.segmenter is not None:
            labels = session.labels(torch.stack([self.inv.photo, image]).to(session.device)).cpu()
            metrics["mean_iou"] = round(mean_iou(labels[0], labels[1]), 4)
        return metrics

    def _checkpoint(self, optimiser: torch.optim.Adam) -> None:
        save_state(self.directory / CHECKPOINT, {
            "fingerprint": self.fingerprint, "step": self.step, "latent": self.latent.detach().cpu(),
            "adaptation": {k: v.cpu() for k, v in self.gen.adaptation().items()}, "step1": self.step1,
            "optimiser": optimiser.state_dict()})

    def _resume(self) -> dict[str, Any] | None:
        """Restore a checkpoint of this very inversion; its Adam state, or None when there is none."""
        path = None if self.directory is None else self.directory / CHECKPOINT
        state = resume(path, lambda s: "" if s.get("fingerprint") == self.fingerprint else
                       "it inverts another photo, with other options or weights")
        if state is None:
            return None
        self.step, self.step1 = int(state["step"]), dict(state["step1"])
        self.latent = state["latent"].to(self.target.device)
        self.gen.load_adaptation(state["adaptation"])
        return state["optimiser"]

    def _save(self) -> None:
        self.inv.save(self.directory, self.fingerprint)
        save_png(self.directory / "photo.png", self.inv.photo)
        save_png(self.directory / "reconstruction.png", self.inv.reconstruction())
        write_json(self.directory / METRICS, self.inv.metrics)
        (self.directory / CHECKPOINT).unlink(missing_ok=True)


def _start(session: Session, photo: torch.Tensor, layer: str) -> Inversion:
    """An inversion not yet fitted: a session on ``PhotoGenerator(session.generator, layer)``."""
    base = session.generator.base if isinstance(session.generator, PhotoGenerator) else session.generator
    gen = PhotoGenerator(base, layer)
    photo_session = Session(gen, session.segmenter, seed=session.seed, device=session.device, batch_size=1,
                            model_name=session.model_name, segmenter_name=session.segmenter_name)
    return Inversion(photo_session, torch.zeros(1, *gen.latent_shape, device=session.device), photo.float().cpu(),
                     session.weights_fingerprint)


def _check_photo(photo: torch.Tensor, size: int) -> torch.Tensor:
    if photo.dim() != 3 or photo.shape[0] != 3 or tuple(photo.shape[1:]) != (size, size):
        raise GanscopeError(f"photo tensor must be (3, {size}, {size}) in [-1, 1], got {tuple(photo.shape)}; "
                            "pass a file to have it cropped and resized", argument="photo")
    if not torch.isfinite(photo).all() or photo.abs().max() > 1:
        raise GanscopeError("photo tensor must hold finite values in [-1, 1]", argument="photo")
    return photo


def _fingerprint(options: InvertOptions, session: Session, photo: torch.Tensor) -> str:
    text = json.dumps([asdict(options), session.weights_fingerprint, photo_digest(photo)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), "pt") as file:
            names = file.keys()
            return {k: file.get_tensor(k) for k in names}, dict(file.metadata() or {})
    except Exception as err:
        raise GanscopeError(f"cannot read inversion {path}: {str(err).splitlines()[0]}", argument="inversion") from err

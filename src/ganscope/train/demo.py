"""Training of the shipped demo generator and demo segmenter on the demo world.

Both loops are resumable: they checkpoint model, optimiser and step to ``run_dir``
every few steps (atomically) and continue from the last checkpoint when re-run.
Step s draws world scenes ``s * batch ... (s + 1) * batch - 1`` and latents seeded by
``(seed, s)``, so a resumed run sees the same data as an uninterrupted one.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.checkpoint import load_state, resume, save_state
from ganscope.io import save_weights
from ganscope.models.demo import DemoDiscriminator, DemoGenerator, EqualConv2d, EqualLinear, StridedDiscriminator
from ganscope.progress import progress_bar
from ganscope.segmenters import load_segmenter
from ganscope.segmenters.demo import DemoSegmenterNet
from ganscope.train.augment import diff_augment
from ganscope.train.concepts import ConceptFrequencies
from ganscope.train.projected import ProjectedDiscriminator
from ganscope.train.recipes import Recipe, get_recipe
from ganscope.world import render

WORLD_TRAIN_SEED = 1  # held-out evaluation uses other seeds


@dataclass
class TrainConfig:
    run_dir: Path
    steps: int
    batch: int = 32
    lr: float = 0.002
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 100
    export: Path | None = None  # safetensors written at every checkpoint when set


def _world_batch(step: int, batch: int, device: str, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    scenes = render(range(step * batch, (step + 1) * batch), seed=WORLD_TRAIN_SEED, size=size)
    return scenes.images.to(device), scenes.labels.to(device)


def _param_groups(modules: list[nn.Module], recipe: Recipe) -> list[dict]:
    """Adam parameter groups: one at ``recipe.lr``, or, without equalised steps, one per scaled weight.

    An equalised layer computes with ``weight * scale``; an Adam step of ``lr / scale`` on its
    weight moves the effective weight by ``lr``, as in a plain parametrisation.
    """
    trainable = [p for m in modules for p in m.parameters() if p.requires_grad]
    if recipe.equalised_lr:
        return [{"params": trainable, "lr": recipe.lr}]
    scaled = {id(m.weight): m.scale for mod in modules for m in mod.modules()
              if isinstance(m, (EqualConv2d, EqualLinear)) and m.weight.requires_grad}
    return [{"params": [p], "lr": recipe.lr / scaled.get(id(p), 1.0)} for p in trainable]


class GeneratorTrainer:
    """One demo-generator training run: models, optimisers and counters. ``step`` trains on one batch;
    ``state_dict`` / ``load_state_dict`` checkpoint and resume it (``checkpoint.save_state`` / ``resume``).

    Non-saturating GAN loss with lazy R1 on reals, Adam, EMA generator; the rest per ``recipe``. The EMA
    half-life is ``ema_kimg`` thousand images, shortened early in training to ``ema_rampup`` times the
    images seen so far (as in StyleGAN2-ADA). Instance noise or DiffAugment keeps the discriminator from
    separating real and fake by the world's fine sensor noise alone (without either, the generator collapses
    to one layout).
    """

    def __init__(self, cfg: TrainConfig, recipe: Recipe):
        self.cfg, self.recipe, self.device = cfg, recipe, cfg.device
        pixel_disc = {"resnet": DemoDiscriminator, "strided": StridedDiscriminator}[recipe.disc]
        with torch.random.fork_rng():  # initial weights depend on cfg.seed only
            torch.manual_seed(cfg.seed)
            self.gen = DemoGenerator(channels=recipe.channels, norm=recipe.generator_norm).to(self.device)
            self.discs: dict[str, nn.Module] = {"pixel": pixel_disc(recipe.disc_channels or recipe.channels)
                                                .to(self.device)}
            if recipe.projected:
                self.discs["projected"] = ProjectedDiscriminator(load_segmenter("demo").net,
                                                                 self.gen.resolution).to(self.device)
        self.ema = copy.deepcopy(self.gen).eval().requires_grad_(False)
        self.concepts = (ConceptFrequencies.of_world(WORLD_TRAIN_SEED, self.gen.resolution, self.device,
                                                     boost=dict(recipe.concept_boost))
                         if recipe.concept_weight else None)
        self.opt_g = torch.optim.Adam(_param_groups([self.gen], recipe), betas=recipe.betas)
        self.opt_d = torch.optim.Adam(_param_groups(list(self.discs.values()), recipe), betas=recipe.betas)
        self.steps, self.elapsed, self.cpu = 0, 0.0, 0.0
        self.phases = [{"recipe": recipe.describe(), "from_step": 0}]

    def mismatch(self, state: dict[str, Any]) -> str:
        """Why this run cannot continue ``state`` ("" when it can: same recipe, or the one it warm-starts from)."""
        theirs, warm = state["recipe"], self.recipe.warm_start
        if self.recipe.matches(theirs) or (warm is not None and get_recipe(warm).matches(theirs)):
            return ""
        return "it was trained with another recipe; use a new run_dir"

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue ``state``; a warm start from another recipe begins a new phase at its step."""
        self.phases = state.get("phases", [{"recipe": state["recipe"], "from_step": 0}])
        if not self.recipe.matches(state["recipe"]):
            self.phases.append({"recipe": self.recipe.describe(), "from_step": state["step"]})
        self.gen.load_state_dict(state["gen"])
        self.ema.load_state_dict(state["ema"])
        for name, disc in self.discs.items():
            disc.load_state_dict(state["disc"][name])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.steps, self.elapsed, self.cpu = state["step"], state["elapsed"], state["cpu"]

    def state_dict(self) -> dict[str, Any]:
        return {"recipe": self.recipe.describe(), "gen": self.gen.state_dict(), "ema": self.ema.state_dict(),
                "disc": {name: d.state_dict() for name, d in self.discs.items()},
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.steps,
                "elapsed": self.elapsed, "cpu": self.cpu, "batch": self.recipe.batch, "phases": self.phases}

    def step(self) -> tuple[float, float]:
        """One discriminator and one generator update on batch ``steps``; returns their losses."""
        t0, c0, recipe, step = time.perf_counter(), time.process_time(), self.recipe, self.steps
        real, _ = _world_batch(step, recipe.batch, self.device, size=self.gen.resolution)
        noise = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step)
        z = torch.randn(recipe.batch, *self.gen.latent_shape, generator=noise).to(self.device)
        fake = self.gen(z)
        d_loss = (F.softplus(self._judge(fake.detach(), noise)).mean(1).sum()
                  + F.softplus(-self._judge(real, noise)).mean(1).sum())
        if step % recipe.r1_every == 0:
            real = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.discs["pixel"](real).sum(), real, create_graph=True)
            d_loss = d_loss + recipe.r1_gamma / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean() * recipe.r1_every
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        g_loss = F.softplus(-self._judge(fake, noise)).mean(1).sum()
        if self.concepts is not None and step % recipe.concept_every == 0:
            g_loss = g_loss + recipe.concept_weight * recipe.concept_every * self.concepts.loss(fake)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._update_ema()
        self.steps += 1
        self.elapsed += time.perf_counter() - t0
        self.cpu += time.process_time() - c0
        return d_loss.item(), g_loss.item()

    def _judge(self, images: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        """Every discriminator's logit for the same augmented view, summed over discriminators' losses later."""
        if self.recipe.augment:
            images = diff_augment(images, self.recipe.augment, noise)
        if self.recipe.instance_noise:
            images = images + torch.randn(images.shape, generator=noise).to(self.device) * self.recipe.instance_noise
        return torch.stack([d(images) for d in self.discs.values()])

    @torch.no_grad()
    def _update_ema(self) -> None:
        recipe = self.recipe
        ema_images = min(recipe.ema_kimg * 1000, (self.steps + 1) * recipe.batch * recipe.ema_rampup)
        ema_beta = 0.5 ** (recipe.batch / max(ema_images, 1e-8))
        for p_ema, p in zip(self.ema.parameters(), self.gen.parameters()):
            p_ema.lerp_(p, 1 - ema_beta)
        for b_ema, b in zip(self.ema.buffers(), self.gen.buffers()):  # batch-norm statistics, as they are
            b_ema.copy_(b)


def train_generator(cfg: TrainConfig, recipe: Recipe, cpu_seconds: float | None = None) -> Path:
    """Train (or resume training) the demo generator in ``cfg.run_dir``; see ``GeneratorTrainer``.

    Training stops after ``cfg.steps`` steps or ``cpu_seconds`` of process CPU time, whichever
    comes first (CPU time, not wall time, so that recipes trained side by side or beside other
    work get equal compute).
    """
    trainer = GeneratorTrainer(cfg, recipe)
    path = cfg.run_dir / "generator.safetensors"
    state = resume(path, trainer.mismatch, strict=True)
    if state is not None:
        trainer.load_state_dict(state)

    def budget_left() -> bool:
        return trainer.steps < cfg.steps and (cpu_seconds is None or trainer.cpu < cpu_seconds)

    with progress_bar(True, "generator", cfg.steps if cpu_seconds is None else cpu_seconds) as update:
        while budget_left():
            d_loss, g_loss = trainer.step()
            update(trainer.steps if cpu_seconds is None else trainer.cpu,
                   info=f"step {trainer.steps} D {d_loss:.3f} G {g_loss:.3f}")
            if trainer.steps % cfg.checkpoint_every == 0 or not budget_left():
                save_state(path, trainer.state_dict())
                if cfg.export is not None:
                    export_generator(path, cfg.export)
    return path


def export_generator(state_path: Path, out: Path) -> None:
    """Write a training state's EMA generator to ``out`` and its pixel discriminator beside it."""
    state = load_state(state_path)
    meta = {"discriminator": state["recipe"]["disc"], "norm": state["recipe"].get("generator_norm", "pixel"),
            "steps": str(state["step"]),
            "wall_seconds": f"{state['elapsed']:.0f}", "cpu_seconds": f"{state['cpu']:.0f}",
            "batch": str(state["batch"])}
    save_weights(out, state["ema"], meta)
    save_weights(out.with_name("demo_discriminator.safetensors"), state["disc"]["pixel"], meta)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter, blur and noise so the segmenter also reads blurry GAN samples."""
    b = images.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(images.device)

    x = (images + 1) / 2
    x = x * (0.7 + 0.6 * rand(b, 1, 1, 1)) * (0.9 + 0.2 * rand(b, 3, 1, 1))  # brightness, tint
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * (0.7 + 0.6 * rand(b, 1, 1, 1))  # contrast
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * (0.6 + 0.8 * rand(b, 1, 1, 1))  # saturation
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    w = rand(b, 1, 1, 1)
    x = x * (1 - w) + blurred * w
    x = x + torch.randn(x.shape, generator=generator).to(x.device) * 0.06 * rand(b, 1, 1, 1)
    return (x.clamp(0, 1) * 2 - 1)


def train_segmenter(cfg: TrainConfig) -> Path:
    """Cross-entropy on augmented world renders, Adam with cosine decay."""
    device = cfg.device
    net = DemoSegmenterNet().to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    ckpt_path = cfg.run_dir / "segmenter.ckpt"
    start, elapsed = 0, 0.0
    if (state := resume(ckpt_path, lambda state: "")) is not None:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, elapsed = state["step"], state["elapsed"]

    with progress_bar(True, "segmenter", cfg.steps) as update:
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            images, labels = _world_batch(step, cfg.batch, device)
            images = augment(images, torch.Generator().manual_seed(cfg.seed * 1_000_003 + step))
            loss = F.cross_entropy(net(images), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            elapsed += time.perf_counter() - t0
            update(step + 1, info=f"loss {loss.item():.3f}")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                save_state(ckpt_path, {
                    "net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step + 1, "elapsed": elapsed,
                })
                if cfg.export is not None:
                    meta = {"steps": str(step + 1), "wall_seconds": f"{elapsed:.0f}", "batch": str(cfg.batch)}
                    save_weights(cfg.export, net.state_dict(), meta)
    return ckpt_path

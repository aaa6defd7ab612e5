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

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.io import load_checkpoint, save_checkpoint, save_weights
from ganscope.models.demo import DemoDiscriminator, DemoGenerator, EqualConv2d, EqualLinear, StridedDiscriminator
from ganscope.progress import progress_bar
from ganscope.segmenters import load_segmenter
from ganscope.segmenters.demo import DemoSegmenterNet
from ganscope.train.augment import diff_augment
from ganscope.train.concepts import ConceptFrequencies
from ganscope.train.projected import ProjectedDiscriminator
from ganscope.train.recipes import Recipe, get_recipe
from ganscope.train.state import load_state, save_state
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


def _resume(path: Path) -> dict | None:
    return load_checkpoint(path) if path.is_file() else None


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


def train_generator(cfg: TrainConfig, recipe: Recipe, cpu_seconds: float | None = None) -> Path:
    """Non-saturating GAN loss with lazy R1 on reals, Adam, EMA generator; the rest per ``recipe``.

    Training stops after ``cfg.steps`` steps or ``cpu_seconds`` of process CPU time, whichever
    comes first (CPU time, not wall time, so that recipes trained side by side or beside other
    work get equal compute). The EMA half-life is ``ema_kimg`` thousand images, shortened early
    in training to ``ema_rampup`` times the images seen so far (as in StyleGAN2-ADA). Instance
    noise or DiffAugment keeps the discriminator from separating real and fake by the world's
    fine sensor noise alone (without either, the generator collapses to one layout).
    """
    device = cfg.device
    pixel_disc = {"resnet": DemoDiscriminator, "strided": StridedDiscriminator}[recipe.disc]
    with torch.random.fork_rng():  # initial weights depend on cfg.seed only
        torch.manual_seed(cfg.seed)
        gen = DemoGenerator(channels=recipe.channels, norm=recipe.generator_norm).to(device)
        discs: dict[str, nn.Module] = {"pixel": pixel_disc(recipe.disc_channels or recipe.channels).to(device)}
        if recipe.projected:
            discs["projected"] = ProjectedDiscriminator(load_segmenter("demo").net, gen.resolution).to(device)
    ema = copy.deepcopy(gen).eval().requires_grad_(False)
    concepts = (ConceptFrequencies.of_world(WORLD_TRAIN_SEED, gen.resolution, device, boost=dict(recipe.concept_boost))
                if recipe.concept_weight else None)
    opt_g = torch.optim.Adam(_param_groups([gen], recipe), betas=recipe.betas)
    opt_d = torch.optim.Adam(_param_groups(list(discs.values()), recipe), betas=recipe.betas)
    path = cfg.run_dir / "generator.safetensors"
    start, elapsed, cpu = 0, 0.0, 0.0
    phases = [{"recipe": recipe.describe(), "from_step": 0}]
    if path.is_file():
        state = load_state(path)
        phases = state.get("phases", [{"recipe": state["recipe"], "from_step": 0}])
        if not recipe.matches(state["recipe"]):
            if recipe.warm_start is None or not get_recipe(recipe.warm_start).matches(state["recipe"]):
                raise GanscopeError(f"{path} was trained with another recipe; use a new run_dir")
            phases.append({"recipe": recipe.describe(), "from_step": state["step"]})
        gen.load_state_dict(state["gen"])
        ema.load_state_dict(state["ema"])
        for name, disc in discs.items():
            disc.load_state_dict(state["disc"][name])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        start, elapsed, cpu = state["step"], state["elapsed"], state["cpu"]

    def checkpoint(step: int) -> None:
        save_state(path, {
            "recipe": recipe.describe(), "gen": gen.state_dict(), "ema": ema.state_dict(),
            "disc": {name: d.state_dict() for name, d in discs.items()},
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "step": step, "elapsed": elapsed, "cpu": cpu, "batch": recipe.batch, "phases": phases,
        })
        if cfg.export is not None:
            export_generator(path, cfg.export)

    def judge(images: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        """Every discriminator's logit for the same augmented view, summed over discriminators' losses later."""
        if recipe.augment:
            images = diff_augment(images, recipe.augment, noise)
        if recipe.instance_noise:
            images = images + torch.randn(images.shape, generator=noise).to(device) * recipe.instance_noise
        return torch.stack([d(images) for d in discs.values()])

    def budget_left() -> bool:
        return step < cfg.steps and (cpu_seconds is None or cpu < cpu_seconds)

    with progress_bar(True, "generator", cfg.steps if cpu_seconds is None else cpu_seconds) as update:
        step = start
        while budget_left():
            t0, c0 = time.perf_counter(), time.process_time()
            real, _ = _world_batch(step, recipe.batch, device, size=gen.resolution)
            noise = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            z = torch.randn(recipe.batch, *gen.latent_shape, generator=noise).to(device)
            fake = gen(z)
            d_loss = (F.softplus(judge(fake.detach(), noise)).mean(1).sum()
                      + F.softplus(-judge(real, noise)).mean(1).sum())
            if step % recipe.r1_every == 0:
                real = real.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(discs["pixel"](real).sum(), real, create_graph=True)
                d_loss = d_loss + recipe.r1_gamma / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean() * recipe.r1_every
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            g_loss = F.softplus(-judge(fake, noise)).mean(1).sum()
            if concepts is not None and step % recipe.concept_every == 0:
                g_loss = g_loss + recipe.concept_weight * recipe.concept_every * concepts.loss(fake)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            ema_images = min(recipe.ema_kimg * 1000, (step + 1) * recipe.batch * recipe.ema_rampup)
            ema_beta = 0.5 ** (recipe.batch / max(ema_images, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), gen.parameters()):
                    p_ema.lerp_(p, 1 - ema_beta)
                for b_ema, b in zip(ema.buffers(), gen.buffers()):  # batch-norm statistics, as they are
                    b_ema.copy_(b)

            step += 1
            elapsed += time.perf_counter() - t0
            cpu += time.process_time() - c0
            update(step if cpu_seconds is None else cpu,
                   info=f"step {step} D {d_loss.item():.3f} G {g_loss.item():.3f}")
            if step % cfg.checkpoint_every == 0 or not budget_left():
                checkpoint(step)
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
    if (state := _resume(ckpt_path)) is not None:
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
                save_checkpoint(ckpt_path, {
                    "net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step + 1, "elapsed": elapsed,
                })
                if cfg.export is not None:
                    meta = {"steps": str(step + 1), "wall_seconds": f"{elapsed:.0f}", "batch": str(cfg.batch)}
                    save_weights(cfg.export, net.state_dict(), meta)
    return ckpt_path

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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ganscope.io import load_checkpoint, save_checkpoint, save_weights
from ganscope.models.demo import DemoDiscriminator, DemoGenerator
from ganscope.segmenters.demo import DemoSegmenterNet
from ganscope.world import render

WORLD_TRAIN_SEED = 1  # held-out evaluation uses other seeds


@dataclass
class TrainConfig:
    run_dir: Path
    steps: int
    batch: int = 32
    lr: float = 0.002
    beta1: float = 0.0
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 100
    export: Path | None = None  # safetensors written at every checkpoint when set


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
    )


def _world_batch(step: int, batch: int, device: str, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    scenes = render(range(step * batch, (step + 1) * batch), seed=WORLD_TRAIN_SEED, size=size)
    return scenes.images.to(device), scenes.labels.to(device)


def _resume(path: Path) -> dict | None:
    return load_checkpoint(path) if path.is_file() else None


def train_generator(cfg: TrainConfig, r1_gamma: float = 0.1, r1_every: int = 8, ema_kimg: float = 5.0,
                    ema_rampup: float = 0.05, instance_noise: float = 0.1) -> Path:
    """Non-saturating GAN loss with lazy R1 on reals, Adam(beta1, 0.99), EMA generator.

    The EMA half-life is ``ema_kimg`` thousand images, shortened early in training to
    ``ema_rampup`` times the images seen so far (as in StyleGAN2-ADA). The discriminator sees
    real and generated images through Gaussian ``instance_noise``: without it, it tells them
    apart by the world's fine sensor noise alone and the generator collapses to one layout.
    """
    device = cfg.device
    gen, disc = DemoGenerator().to(device), DemoDiscriminator().to(device)
    ema = copy.deepcopy(gen).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.99))
    ckpt_path = cfg.run_dir / "generator.ckpt"
    start, elapsed = 0, 0.0
    if (state := _resume(ckpt_path)) is not None:
        gen.load_state_dict(state["gen"])
        disc.load_state_dict(state["disc"])
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        start, elapsed = state["step"], state["elapsed"]

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt_path, {
            "gen": gen.state_dict(), "disc": disc.state_dict(), "ema": ema.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step, "elapsed": elapsed,
        })
        if cfg.export is not None:
            export_generator(ckpt_path, cfg.export)

    with _progress() as bar:
        task = bar.add_task("generator", total=cfg.steps, completed=start, info="")
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            real, _ = _world_batch(step, cfg.batch, device)
            noise = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            z = torch.randn(cfg.batch, *gen.latent_shape, generator=noise).to(device)

            noisy = [torch.randn(real.shape, generator=noise).to(device) * instance_noise for _ in range(3)]
            real = real + noisy[0]
            fake = gen(z)
            d_loss = F.softplus(disc(fake.detach() + noisy[1])).mean() + F.softplus(-disc(real)).mean()
            if step % r1_every == 0:
                real.requires_grad_(True)
                (grad,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
                d_loss = d_loss + r1_gamma / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean() * r1_every
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            g_loss = F.softplus(-disc(fake + noisy[2])).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            ema_images = min(ema_kimg * 1000, (step + 1) * cfg.batch * ema_rampup)
            ema_beta = 0.5 ** (cfg.batch / max(ema_images, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), gen.parameters()):
                    p_ema.lerp_(p, 1 - ema_beta)

            elapsed += time.perf_counter() - t0
            bar.update(task, advance=1, info=f"D {d_loss.item():.3f} G {g_loss.item():.3f}")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                checkpoint(step + 1)
    return ckpt_path


def export_generator(checkpoint: Path, out: Path) -> None:
    """Write a checkpoint's EMA generator to ``out`` and its discriminator beside it (safetensors)."""
    state = load_checkpoint(checkpoint)
    meta = {"steps": str(state["step"]), "wall_seconds": f"{state['elapsed']:.0f}"}
    save_weights(out, state["ema"], meta)
    save_weights(out.with_name("demo_discriminator.safetensors"), state["disc"], meta)


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

    with _progress() as bar:
        task = bar.add_task("segmenter", total=cfg.steps, completed=start, info="")
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
            bar.update(task, advance=1, info=f"loss {loss.item():.3f}")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                save_checkpoint(ckpt_path, {
                    "net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step + 1, "elapsed": elapsed,
                })
                if cfg.export is not None:
                    meta = {"steps": str(step + 1), "wall_seconds": f"{elapsed:.0f}", "batch": str(cfg.batch)}
                    save_weights(cfg.export, net.state_dict(), meta)
    return ckpt_path

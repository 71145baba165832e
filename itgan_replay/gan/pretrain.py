"""Conditional GAN pretraining: projection discriminator, hinge loss, DiffAugment, EMA generator.

The recipe follows DiffAugment's BigGAN-CIFAR setting (preset ``paper``); preset
``cpu`` is a narrow network that trains on two CPU cores, ``cpu64`` the same for 64 x 64 photos. :class:`GANTrainer`
checkpoints atomically and resumes bit-exactly (models, optimisers, EMA, RNG, iteration),
rolls back to the last good checkpoint with a halved discriminator learning rate when the
discriminator collapses, and freezes the EMA generator with batch-norm statistics
recomputed for the EMA weights ("standing statistics").
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm
from tqdm import tqdm

from itgan_replay.condensation.augment import diff_augment
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig
from itgan_replay.memory.files import load_checked, save_checked
from itgan_replay.settings import setting

CHECKPOINT_KIND = "gan-checkpoint"
CHECKPOINT_VERSION = 2


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite, or the discriminator collapsed more often than allowed;
    the last good checkpoint is kept."""


@dataclass(frozen=True)
class PretrainConfig:
    """Every setting of a pretraining run (each one is a command-line option)."""

    ch: int = setting(64, "generator channel width (the paper's CIFAR setting: 64)")
    d_ch: int = setting(64, "discriminator channel width")
    z_dim: int = setting(128, "latent dimension")
    batch_size: int = setting(50, "images per batch")
    d_steps: int = setting(4, "discriminator steps per generator step")
    lr_g: float = setting(2e-4, "generator Adam learning rate")
    lr_d: float = setting(2e-4, "discriminator Adam learning rate")
    beta1: float = setting(0.0, "Adam beta1")
    beta2: float = setting(0.999, "Adam beta2")
    ema_decay: float = setting(0.9999, "decay of the exponential moving average of G (what is saved)")
    ema_start: int = setting(1000, "iteration from which the EMA averages (before it, it copies G)")
    iterations: int = setting(100_000, "total generator iterations")
    diffaug: bool = setting(True, "DiffAugment (translation + cutout) on real and fake images for D (1 on, 0 off)")
    checkpoint_every: int = setting(1000, "iterations between checkpoints and sample grids")
    snapshot_every: int = setting(0, "iterations between snapshots of the frozen EMA generator (a generator file each, "
                                     "workdir/snapshots/iter_NNNNNN.pt, iteration 0 included), to score its quality "
                                     "over training; 0: none")
    log_every: int = setting(50, "iterations between progress/TensorBoard updates and discriminator-collapse checks")
    max_rollbacks: int = setting(3, "how often a collapsed discriminator may be rolled back to the last checkpoint "
                                    "with lr_d halved")
    standing_batches: int = setting(16, "batches of random latents that recompute G_ema's batch-norm statistics "
                                        "before freezing")
    seed: int = setting(0, "random seed (weights, batches, latents, augmentation)")
    amp: bool = setting(False, "mixed precision: bfloat16 autocast of G's and D's forward passes (1 on, 0 off; "
                               "weights stay float32; for GPUs and CPUs with native bf16)")

    def __post_init__(self) -> None:
        for name in ("ch", "d_ch", "z_dim", "batch_size", "d_steps", "iterations", "checkpoint_every", "log_every",
                     "standing_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        for name in ("ema_start", "max_rollbacks", "snapshot_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)}")


RESUMABLE_SETTINGS = frozenset({"iterations", "checkpoint_every", "log_every", "max_rollbacks", "snapshot_every"})


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX, as oneDNN reports it). Without it, bfloat16
    autocast is emulated: measured 22-38x slower than float32 in the one measurement (docs/benchmarks.md)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def emulates_bf16(device: str | torch.device) -> bool:
    """Whether bfloat16 on ``device`` would be emulated: a CPU without native bfloat16 (where pretraining refuses
    bfloat16 autocast)."""
    return torch.device(device).type == "cpu" and not cpu_has_native_bf16()


class NoNativeBF16Error(ValueError):
    """bfloat16 autocast was asked for on a CPU without native bfloat16."""

PRESETS: dict[str, PretrainConfig] = {
    "paper": PretrainConfig(),
    "cpu": PretrainConfig(ch=8, d_ch=16, batch_size=64, d_steps=2, lr_g=2e-4, lr_d=2e-4, ema_decay=0.998, ema_start=500,
                          iterations=3500, checkpoint_every=250, log_every=25),
}
# 64 x 64 photos on 2 CPU cores with native bfloat16 (AVX-512 BF16 / AMX): the cpu networks (one more up-sampling
# block in G, one narrow down-sampling block in D), bfloat16 autocast (2.0x the float32 step at 64 px on 2 idle cores,
# benchmarks/results/pretrain_step_64.json) and more iterations for the larger images
PRESETS["cpu64"] = replace(PRESETS["cpu"], iterations=5000, amp=True)


class DBlock(nn.Module):
    """Residual down-sampling block of the discriminator."""

    def __init__(self, in_ch: int, out_ch: int, down: bool, preactivation: bool) -> None:
        super().__init__()
        self.conv1 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1)) if (in_ch != out_ch or down) else None
        self.down, self.preactivation = down, preactivation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x) if self.preactivation else x)))
        s = x if self.shortcut is None else self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class Discriminator(nn.Module):
    """BigGAN-CIFAR projection discriminator: 4 residual blocks (2 down-sampling), sum pooling.

    Above 32 x 32 it first halves the image with narrow blocks (``ch`` channels, halved again per further
    doubling), so that its wide ``4 * ch`` blocks always see 32 x 32 maps: a 64-pixel D costs little more
    than a 32-pixel one."""

    def __init__(self, n_classes: int, ch: int = 64, img_size: int = 32) -> None:
        super().__init__()
        width = 4 * ch
        n_stem = max(0, (img_size // 32).bit_length() - 1)
        stem = [3] + [max(1, ch >> (n_stem - 1 - i)) for i in range(n_stem)]  # 64 px: 3 -> ch; 128 px: 3 -> ch/2 -> ch
        blocks = [DBlock(c_in, c_out, True, i > 0) for i, (c_in, c_out) in enumerate(zip(stem, stem[1:]))]
        blocks += [DBlock(stem[-1], width, True, n_stem > 0), DBlock(width, width, True, True),
                   DBlock(width, width, False, True), DBlock(width, width, False, True)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_norm(nn.Linear(width, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, width))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (N, 4 * ch) sum-pooled features after the last ReLU; all zero means a dead D."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def head(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Projection score of features ``h`` for labels ``y``."""
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), y)


def init_normal_(net: nn.Module, std: float = 0.02) -> nn.Module:
    """BigGAN's ``N02`` init: every conv, linear and embedding weight from N(0, std), biases kept.

    Under spectral norm the raw weight is re-drawn and the power-iteration vectors are
    re-estimated for it (15 iterations, as at construction)."""
    with torch.no_grad():
        for module in net.modules():
            if not isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                continue
            if parametrize.is_parametrized(module, "weight"):
                module.parametrizations.weight.original.normal_(0, std)
                sn = module.parametrizations.weight[0]
                sn._power_method(sn._reshape_weight_to_matrix(module.parametrizations.weight.original), 15)
            else:
                module.weight.normal_(0, std)
    return net


def standing_statistics_(generator: Generator, n_batches: int, batch_size: int, rng: torch.Generator) -> Generator:
    """Replace every batch-norm running mean/variance of ``generator`` by its average over
    ``n_batches`` batches of random latents and labels, computed with the generator's own weights
    (spectral-norm vectors untouched). Returns ``generator``, in eval mode."""
    generator.eval()
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    device = next(generator.parameters()).device
    with torch.no_grad():
        for _ in range(n_batches):
            z = torch.randn(batch_size, generator.config.z_dim, generator=rng).to(device)
            y = torch.randint(generator.config.n_classes, (batch_size,), generator=rng).to(device)
            generator(z, y)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
        m.eval()
    return generator


class ScalarWriter(Protocol):
    def add_scalar(self, tag: str, value: float, step: int) -> None: ...
    def add_image(self, tag: str, image: torch.Tensor, step: int) -> None: ...


class GANTrainer:
    """Trains a :class:`Generator` and :class:`Discriminator` on uint8 images.

    Args:
        images: (N, 3, S, S) uint8 training images; the generator and discriminator are built for S x S.
        labels: (N,) class indices.
        class_names: one name per class.
        mean, std: the dataset's normalisation, stored with the generator.
        config: the run's settings.
        workdir: holds ``checkpoint.pt`` and ``samples/``.
        writer: optional TensorBoard-like writer.
        device: where the networks train; all randomness comes from one seeded CPU generator.
        about: what each snapshot file records about the run beside its iteration and config (e.g. ``dataset``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: list[str],
                 mean: tuple[float, ...], std: tuple[float, ...], config: PretrainConfig,
                 workdir: str | os.PathLike, writer: ScalarWriter | None = None,
                 device: str | torch.device = "cpu", about: dict | None = None) -> None:
        self.images, self.labels = images, labels
        self.about = dict(about or {})
        self.class_names, self.mean, self.std = class_names, mean, std
        self.config, self.workdir, self.writer = config, Path(workdir), writer
        n_classes = len(class_names)
        torch.manual_seed(config.seed)
        self.device = torch.device(device)
        size = images.shape[-1]
        self.G = init_normal_(Generator(GeneratorConfig(n_classes=n_classes, ch=config.ch, z_dim=config.z_dim,
                                                        img_size=size))).to(self.device)
        self.D = init_normal_(Discriminator(n_classes, config.d_ch, size)).to(self.device)
        # channels-last tensors (with no D weight gradients in G's step) measured 1.04x at d_ch 16 and 1.20x
        # at d_ch 8 on this 2-core CPU (benchmarks/pretrain_step.py)
        self.G.to(memory_format=torch.channels_last)
        self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self._ema_pairs = [(self.G_ema.get_parameter(name), p) for name, p in self.G.named_parameters()]
        self._buffer_pairs = [(self.G_ema.get_buffer(name), b) for name, b in self.G.named_buffers()]
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr_d, betas=betas)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.iteration = 0
        self.rollbacks = 0
        self.train_seconds = 0.0
        self.images_per_s: float | None = None  # of the stretch this process trained; None before its first log
        self.fixed_z = torch.randn(8 * n_classes, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 1))
        self.fixed_y = torch.arange(n_classes).repeat_interleave(8)

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        """Write the full training state atomically to ``workdir/checkpoint.pt``."""
        save_checked(self.checkpoint_path, CHECKPOINT_KIND, CHECKPOINT_VERSION, {
            "config": asdict(self.config), "iteration": self.iteration, "class_names": self.class_names,
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "rng": self.rng.get_state(),
            "rollbacks": self.rollbacks, "train_seconds": self.train_seconds, "n_images": len(self.labels),
            "image_size": self.images.shape[-1],
        })

    def load_checkpoint(self) -> None:
        """Restore the state saved by :meth:`save_checkpoint`; the run's config must match it
        (except the :data:`RESUMABLE_SETTINGS`, which may change on resume)."""
        _, state = load_checked(self.checkpoint_path, CHECKPOINT_KIND, CHECKPOINT_VERSION)
        saved = {"amp": False} | {k: v for k, v in state["config"].items() if k not in RESUMABLE_SETTINGS}  # amp: newer
        mine = {k: v for k, v in asdict(self.config).items() if k not in RESUMABLE_SETTINGS}
        saved_size = state.get("image_size", 32)  # image_size: newer; older checkpoints are all 32 px
        if saved_size != self.images.shape[-1]:
            raise ValueError(f"{self.checkpoint_path} was trained on {saved_size}-pixel images, this run has "
                             f"{self.images.shape[-1]}-pixel ones; use the same --image-size or another --workdir")
        if state.get("n_images", len(self.labels)) != len(self.labels):  # n_images: newer
            raise ValueError(f"{self.checkpoint_path} was trained on {state['n_images']} images, this run has "
                             f"{len(self.labels)} (another dataset or validation hold-out); use the same or another --workdir")
        if saved != mine or state["class_names"] != self.class_names:
            diff = {k: (saved.get(k), mine.get(k)) for k in mine if saved.get(k) != mine.get(k)}
            raise ValueError(f"{self.checkpoint_path} was written by a different run (setting: (saved, now) = "
                             f"{diff or 'class names differ'}); use the same settings or another --workdir")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self.iteration = state["iteration"]
        self.rollbacks = state["rollbacks"]
        self.train_seconds = state["train_seconds"]

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.labels), (self.config.batch_size,), generator=self.rng)
        x = self.images[idx].to(self.device).float() / 127.5 - 1
        return x.contiguous(memory_format=torch.channels_last), self.labels[idx].to(self.device)

    def _fake_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(self.config.batch_size, self.config.z_dim, generator=self.rng)
        y = torch.randint(len(self.class_names), (self.config.batch_size,), generator=self.rng)
        return z.to(self.device), y.to(self.device)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        x = diff_augment(x, self.rng) if self.config.diffaug else x
        return x.contiguous(memory_format=torch.channels_last)

    def step(self) -> dict[str, float]:
        """One iteration: ``d_steps`` discriminator updates, one generator update, EMA.

        Returns the losses, D's output spread on the last real batch (max - min score; 0 when D
        is dead) and the fraction of its last features that are active (> 0) on that batch."""
        cfg = self.config
        self.G.train()
        self.D.train()
        autocast = lambda: torch.autocast(self.device.type, torch.bfloat16, enabled=cfg.amp)  # noqa: E731
        for _ in range(cfg.d_steps):
            x, y = self._real_batch()
            z, y_fake = self._fake_inputs()
            with torch.no_grad(), autocast():
                fake = self.G(z, y_fake)
            with autocast():
                h = self.D.features(self._augment(x))
                d_real = self.D.head(h, y).float()
                d_fake = self.D(self._augment(fake), y_fake).float()
            loss_d_real = F.relu(1 - d_real).mean()
            loss_d_fake = F.relu(1 + d_fake).mean()
            self.opt_d.zero_grad(set_to_none=True)
            (loss_d_real + loss_d_fake).backward()
            self.opt_d.step()
        z, y_fake = self._fake_inputs()
        self.D.requires_grad_(False)  # G's step needs no gradient of D's weights
        with autocast():
            loss_g = -self.D(self._augment(self.G(z, y_fake)), y_fake).float().mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        self.iteration += 1
        self._update_ema()
        losses = {"loss/d_real": loss_d_real.item(), "loss/d_fake": loss_d_fake.item(), "loss/g": loss_g.item(),
                  "d/output_spread": (d_real.max() - d_real.min()).item(),
                  "d/active_units": (h > 0).float().mean().item()}
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingDivergedError(
                f"non-finite loss at iteration {self.iteration}: {losses}. The last good checkpoint "
                f"{self.checkpoint_path} is kept; resume from it with a lower --lr-g/--lr-d or another --seed")
        return losses

    @torch.no_grad()
    def _update_ema(self) -> None:
        """Average G's parameters into G_ema; copy its buffers (spectral-norm vectors, batch-norm
        statistics), which are not weights (:meth:`frozen` recomputes the statistics)."""
        decay = self.config.ema_decay if self.iteration >= self.config.ema_start else 0.0
        torch._foreach_lerp_([e for e, _ in self._ema_pairs], [p for _, p in self._ema_pairs], 1 - decay)
        for ema, cur in self._buffer_pairs:
            ema.copy_(cur)

    def frozen(self, chunk_size: int = 500) -> FrozenGenerator:
        """The EMA generator with standing statistics (``standing_batches`` batches of random
        latents through the EMA weights), frozen, with this dataset's normalisation."""
        ema = copy.deepcopy(self.G_ema)
        rng = torch.Generator().manual_seed(self.config.seed + 2)
        standing_statistics_(ema, self.config.standing_batches, self.config.batch_size, rng)
        return FrozenGenerator(ema, self.mean, self.std, self.class_names, chunk_size)

    def sample_grid(self) -> torch.Tensor:
        """A (3, H, W) grid in [0, 1]: one row of 8 EMA samples per class (fixed latents)."""
        from torchvision.utils import make_grid

        g = self.frozen()
        return make_grid(g.denormalize(g.generate(self.fixed_z, self.fixed_y)), nrow=8)

    def snapshot_path(self, iteration: int) -> Path:
        """Where :meth:`train` writes the frozen EMA generator of ``iteration`` (``snapshot_every``)."""
        return self.workdir / "snapshots" / f"iter_{iteration:06d}.pt"

    def _snapshot(self) -> None:
        self.frozen().save(self.snapshot_path(self.iteration),
                           extra=self.about | {"iteration": self.iteration, "config": asdict(self.config)})

    def _checkpoint_and_samples(self) -> None:
        from torchvision.utils import save_image

        self.save_checkpoint()
        grid = self.sample_grid()
        samples = self.workdir / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        tmp = samples / f".iter_{self.iteration:06d}.png.tmp"
        save_image(grid, tmp, format="png")
        os.replace(tmp, samples / f"iter_{self.iteration:06d}.png")
        if self.writer:
            self.writer.add_image("samples", grid, self.iteration)

    def train(self, progress: bool = True) -> None:
        """Run until ``config.iterations``; checkpoint every ``checkpoint_every`` and on Ctrl-C.

        When D gives every real image the same score at two log points in a row (it is dead:
        G gets no gradient), the run rolls back to the last checkpoint with ``lr_d`` halved,
        at most ``max_rollbacks`` times; then it raises :class:`TrainingDivergedError`.
        Checkpoints are written only while D is alive, so the last one is always good.

        Raises:
            NoNativeBF16Error: iterations are left to train with ``amp`` on a CPU without native bfloat16 (a run with
                none left, e.g. resumed with ``iterations`` at its checkpoint's, finishes on any CPU).
        """
        cfg = self.config
        if self.iteration < cfg.iterations and cfg.amp and emulates_bf16(self.device):
            end = f", or end it at its checkpoint (--iterations {self.iteration})" if self.iteration else ""
            raise NoNativeBF16Error(
                "--amp 1 (bfloat16 autocast) needs a CPU with native bfloat16 (AVX-512 BF16 or AMX); this one has none, "
                "and emulated bfloat16 runs 22-38x slower than float32. Start a new run with --amp 0 (another --workdir) "
                f"or resume this one on a CPU with native bfloat16{end}")
        bar = tqdm(total=cfg.iterations, initial=self.iteration, disable=not progress, desc="pretrain", unit="it")
        if not self.checkpoint_path.exists():
            self.save_checkpoint()  # a collapse before the first interval rolls back to the start
        if cfg.snapshot_every and self.iteration == 0 and not self.snapshot_path(0).exists():
            self._snapshot()  # the random init
        start, start_it, dead_logs = time.time(), self.iteration, 0
        try:
            while self.iteration < cfg.iterations:
                step_start = time.time()
                losses = self.step()
                self.train_seconds += time.time() - step_start
                bar.update(1)
                if self.iteration % cfg.log_every == 0:
                    self.images_per_s = (self.iteration - start_it) * cfg.batch_size / max(1e-9, time.time() - start)
                    self._log(losses, bar, progress)
                    dead_logs = dead_logs + 1 if losses["d/output_spread"] == 0 else 0
                    if dead_logs == 2:
                        self._roll_back(bar)
                        start, start_it, dead_logs = time.time(), self.iteration, 0
                        continue
                if (self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations) and dead_logs == 0:
                    self._checkpoint_and_samples()
                if cfg.snapshot_every and self.iteration % cfg.snapshot_every == 0:
                    self._snapshot()
        except KeyboardInterrupt:
            bar.write(f"interrupted: saving a checkpoint at iteration {self.iteration} to {self.checkpoint_path}")
            self.save_checkpoint()
            raise
        finally:
            bar.close()

    def _log(self, losses: dict[str, float], bar: tqdm, progress: bool) -> None:
        stats = {k.split("/")[1]: f"{v:.3f}" for k, v in losses.items()} | {"img/s": f"{self.images_per_s:.0f}"}
        bar.set_postfix(stats)
        if not progress:
            print(f"iteration {self.iteration}/{self.config.iterations} {stats}", flush=True)
        if self.writer:
            for k, v in losses.items():
                self.writer.add_scalar(k, v, self.iteration)
            self.writer.add_scalar("speed/images_per_s", self.images_per_s, self.iteration)

    def _roll_back(self, bar: tqdm) -> None:
        """Reload the last (good) checkpoint and halve D's learning rate once more."""
        dead_at, rollbacks, seconds = self.iteration, self.rollbacks + 1, self.train_seconds
        if rollbacks > self.config.max_rollbacks:
            raise TrainingDivergedError(
                f"the discriminator collapsed again at iteration {dead_at} (every real image gets the same score) "
                f"after {self.rollbacks} rollbacks with halved lr_d. The last good checkpoint {self.checkpoint_path} "
                "is kept; start again with a lower --lr-d, a wider --d-ch or another --seed")
        self.load_checkpoint()
        self.rollbacks, self.train_seconds = rollbacks, seconds  # the dead iterations took time too
        lr = self.config.lr_d * 0.5 ** rollbacks
        for group in self.opt_d.param_groups:
            group["lr"] = lr
        bar.write(f"the discriminator collapsed at iteration {dead_at} (every real image gets the same score): rolled "
                  f"back to iteration {self.iteration} with lr_d {lr:g} (rollback {rollbacks} of at most "
                  f"{self.config.max_rollbacks})")
        bar.n = self.iteration
        bar.refresh()
        if self.writer:
            self.writer.add_scalar("d/rollbacks", rollbacks, dead_at)

"""GAN inversion (Eq. 1): one latent per real image, found by gradient descent.

    z* = argmin_z  1/d_f ||phi(G(z)) - phi(x)||^2  +  lambda_pixel/d_l ||G(z) - x||^2
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.files import load_checked, save_checked, state_fingerprint
from itgan_replay.settings import setting

ProgressFn = Callable[[int, int, float], None]


class NonFiniteLossError(RuntimeError):
    """An optimisation produced a NaN or infinite loss."""


@dataclass(frozen=True)
class InversionConfig:
    """Settings of :func:`invert` as used to initialise condensation."""

    steps: int = setting(300, "GAN inversion steps (Eq. 1) per latent batch")
    lr: float = setting(0.05, "Adam learning rate of the inversion")
    lambda_pixel: float = setting(1.0, "weight of the pixel term beside the feature term in Eq. 1")
    batch_size: int = setting(500, "latents inverted together")


def inversion_loss(generated: torch.Tensor, real: torch.Tensor, feature_net: nn.Module | None,
                   lambda_pixel: float, real_features: torch.Tensor | None) -> torch.Tensor:
    """Per-image Eq. 1 loss, shape (N,): mean squared feature distance + lambda_pixel * mean squared pixel distance.

    ``real_features``: ``feature_net.embed(real)``, computed once by the caller (the frozen net's never
    change); ``None`` without a feature net.
    """
    loss = lambda_pixel * (generated - real).flatten(1).pow(2).mean(1)
    if feature_net is not None:
        loss = loss + (feature_net.embed(generated) - real_features).pow(2).mean(1)
    return loss


def invert(generator: FrozenGenerator, images: torch.Tensor, labels: torch.Tensor,
           feature_net: nn.Module | None = None, steps: int = 300, lr: float = 0.05, lambda_pixel: float = 1.0,
           batch_size: int = 500, seed: int = 0, progress: ProgressFn | None = None) -> torch.Tensor:
    """Invert normalised ``images`` of classes ``labels`` into latents (N, z_dim), on the generator's device.

    Latents start from N(0, I) (seeded) and are optimised with Adam in independent
    batches of ``batch_size`` (per-image losses, so the batch size only bounds memory).
    ``feature_net`` (anything with ``.embed``) supplies phi; without it only pixels are matched.
    ``progress(step, steps * n_batches, loss)`` is called after every step.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    device = generator.device
    z_all = torch.randn(len(images), generator.config.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    if feature_net is not None:
        feature_net = feature_net.to(device).eval().requires_grad_(False)
    out, done, total = [], 0, steps * math.ceil(len(images) / batch_size)
    for z0, x, y in zip(z_all.split(batch_size), images.split(batch_size), labels.split(batch_size)):
        z = z0.clone().requires_grad_(True)
        x, y = x.to(device), y.to(device)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.no_grad():
            features = feature_net.embed(x) if feature_net is not None else None
        for _ in range(steps):
            loss = inversion_loss(generator(z, y), x, feature_net, lambda_pixel, features).sum()
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"inversion loss became {loss.item()}; lower the inversion lr (now {lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if progress:
                progress(done, total, loss.item() / len(z))
        out.append(z.detach())
    return torch.cat(out) if out else z_all


class InversionStore:
    """Inverted latents kept in a folder, one file per inversion, so that methods inverting the same
    photos the same way (``inversion`` and ``itgan`` in one main job) invert them once.

    A file is found by :meth:`key`, a digest of everything :func:`invert` reads: the generator's
    weights as stored, the device type, the settings, the feature net's weights, the images, the
    label and the seed. So a stored inversion is reused only where inverting again would compute
    it from the same inputs; anything else misses and inverts. Files are written atomically and
    checked on reading (:class:`~itgan_replay.memory.files.StoredFileError` for a corrupt one).
    """

    KIND, VERSION = "inversion", 1

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(generator: FrozenGenerator, config: InversionConfig, feature_net: nn.Module | None,
            images: torch.Tensor, label: int, seed: int) -> str:
        """The digest that names the inversion of ``images`` (all of class ``label``) with these inputs."""
        spec = {"generator": generator.fingerprint, "storage": str(generator.storage_dtype),
                "device": generator.device.type, "config": asdict(config), "label": label, "seed": seed,
                "feature_net": state_fingerprint(feature_net.state_dict()) if feature_net is not None else None,
                "images": state_fingerprint({"images": images})}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def load(self, key: str) -> torch.Tensor | None:
        """The latents stored under ``key``, or ``None`` if there are none."""
        path = self.path(key)
        return load_checked(path, self.KIND, self.VERSION)[1]["latents"] if path.is_file() else None

    def save(self, key: str, latents: torch.Tensor) -> None:
        save_checked(self.path(key), self.KIND, self.VERSION, {"latents": latents.detach().cpu()})

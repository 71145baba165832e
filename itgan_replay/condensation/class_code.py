"""Class codes: a class the generator never saw gets a learned conditioning vector.

A ``shared``-conditioning generator takes its class through one ``shared_dim`` embedding. For a new class,
:func:`fit_class_code` finds such a vector, its **class code**, by inversion on the class's photos: the code and one
latent per photo are optimised together so that ``G(z_i, code)`` matches photo ``i`` (Eq. 1's loss: pixels, plus
features where a feature net is given). The latents are then dropped; condensation builds the memory's latents
through the code (:meth:`~itgan_replay.gan.generator.FrozenGenerator.with_codes`), and the memory stores the code.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from itgan_replay.condensation.inversion import NonFiniteLossError, inversion_loss, invert
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.class_codes import ClassCodes
from itgan_replay.settings import check_choices, setting


@dataclass(frozen=True)
class CodeConfig:
    """How :func:`fit_class_code` fits a class code."""

    steps: int = setting(100, "steps of the code's inversion")
    lr: float = setting(0.05, "Adam learning rate of the code and the photos' latents")
    photos: int = setting(64, "photos of the class the code is fitted on (a seeded draw; all if fewer)")
    init: str = setting("mean", "where the code starts: mean (the mean of the generator's class embeddings) or zeros",
                        ("mean", "zeros"))
    lambda_pixel: float = setting(1.0, "weight of the pixel term beside the feature term")

    def __post_init__(self) -> None:
        check_choices(self)
        if self.steps < 0 or self.photos < 1 or not self.lr > 0:
            raise ValueError(f"steps must be >= 0, photos >= 1 and lr positive; got {self.steps}, {self.photos}, {self.lr}")


def fit_class_code(generator: FrozenGenerator, images: torch.Tensor, config: CodeConfig = CodeConfig(), seed: int = 0,
                   feature_net: nn.Module | None = None) -> torch.Tensor:
    """The class code (shared_dim,) of one class, from its ``images`` (normalised as the generator's images).

    Raises:
        ValueError: no image, or a generator without the shared conditioning.
        NonFiniteLossError: the loss became NaN or infinite.
    """
    if not len(images):
        raise ValueError("a class code needs at least one photo of its class")
    if generator.config.conditioning != "shared":
        raise ValueError("class codes need the shared conditioning (a shared class embedding)")
    rng = torch.Generator().manual_seed(seed)
    device = generator.device
    x = images[torch.randperm(len(images), generator=rng)[:config.photos]].to(device)
    table = generator.folded.shared.weight.detach().float()
    start = table.mean(0) if config.init == "mean" else torch.zeros(generator.config.shared_dim)
    code = start.clone().to(device).requires_grad_(True)
    z = torch.randn(len(x), generator.config.z_dim, generator=rng).to(device).requires_grad_(True)
    if feature_net is not None:
        feature_net = feature_net.to(device).eval().requires_grad_(False)
    with torch.no_grad():
        features = feature_net.embed(x) if feature_net is not None else None
    opt = torch.optim.Adam([code, z], lr=config.lr)
    for _ in range(config.steps):
        generated = generator.images_from_vectors(z, code.expand(len(z), -1))
        loss = inversion_loss(generated, x, feature_net, config.lambda_pixel, features).mean()
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"class-code loss became {loss.item()}; lower the code lr (now {config.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return code.detach().cpu()


def held_out_error(generator: FrozenGenerator, images: torch.Tensor, label: int, steps: int, lr: float,
                   seed: int = 0) -> torch.Tensor:
    """Per-photo mean squared pixel error (N,) of ``images`` (normalised as the generator's) inverted through the
    generator's ``label`` alone (a class, or a code of :meth:`~itgan_replay.gan.generator.FrozenGenerator.with_codes`),
    latents only, pixels only: how near a class's conditioning reaches photos it was not fitted on."""
    labels = torch.full((len(images),), label, dtype=torch.long)
    z = invert(generator, images, labels, steps=steps, lr=lr, seed=seed)
    with torch.no_grad():
        return inversion_loss(generator(z, labels), images.to(generator.device), None, 1.0, None).cpu()


CLASS_CODE_MODES = ("auto", "all", "off")
"""When a class gets a code: auto (only a class the generator lacks), all (every class), off (none: a class the
generator lacks is an error)."""


def plan_class_codes(generator: FrozenGenerator, classes: Sequence[int], class_names: Sequence[str] | None,
                     mode: str) -> dict[int, int | None]:
    """For each of ``classes`` (labels), the generator class it is drawn as: the one of its name
    (``class_names[label]``; without names, the class of the same index), or ``None`` for a class code, as ``mode``
    (:data:`CLASS_CODE_MODES`) says.

    Raises:
        ValueError: an unknown ``mode``, or with ``mode="off"`` classes the generator lacks (named).
    """
    if mode not in CLASS_CODE_MODES:
        raise ValueError(f"class codes must be one of {', '.join(CLASS_CODE_MODES)}, got {mode!r}")
    plan, missing = {}, []
    for label in classes:
        if class_names is None:
            own = label if label < generator.config.n_classes else None
        else:
            own = generator.class_names.index(class_names[label]) if class_names[label] in generator.class_names else None
        if own is None:
            missing.append(class_names[label] if class_names is not None else f"label {label}")
        plan[int(label)] = None if mode == "all" else own
    if missing and mode == "off":
        raise ValueError(f"the generator has no class {', '.join(missing[:5])}{'…' if len(missing) > 5 else ''} "
                         f"({len(missing)} of the {len(plan)} classes) and class codes are off; turn them on (auto) or "
                         "use a generator of these classes")
    return plan


def condition_new_classes(codes: ClassCodes, plan: dict[int, int | None], images: torch.Tensor, labels: torch.Tensor,
                          config: CodeConfig = CodeConfig(), seed: int = 0) -> list[int]:
    """Carry out a :func:`plan_class_codes` plan for labels new to ``codes``: assign each its generator class, or fit
    its code on its ``images`` (normalised as the generator's images). Returns the labels that got codes."""
    coded = []
    for label, own in plan.items():
        if own is None:
            codes.add_code(label, fit_class_code(codes.base, images[labels == label], config, seed * 1009 + label))
            coded.append(label)
        else:
            codes.assign(label, own)
    return coded

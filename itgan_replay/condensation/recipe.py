"""The one entry point that builds latents for classes: the embedding nets, the inversion net, the
real images in latent order, the jobs and the run."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from itgan_replay.condensation.class_code import CodeConfig
from itgan_replay.condensation.condense import (CondenseConfig, Condenser, CondenseJob, JobProgressFn, class_image_sets,
                                                plan_jobs, run_jobs)
from itgan_replay.condensation.inversion import InversionConfig, InversionStore
from itgan_replay.condensation.nets import EmbeddingSampler, build_pool, trained_net
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.codecs import LatentCodec
from itgan_replay.settings import check_choices, setting

Runner = Callable[[Condenser, list[CondenseJob], dict[int, torch.Tensor], JobProgressFn | None], dict[int, torch.Tensor]]


@dataclass(frozen=True)
class LatentRecipe:
    """How latents are built for classes: their initialisation, the nets, and condensation."""

    init: str = setting("inversion", "inversion: latents start as GAN inversions of real images (Eq. 1); random: N(0, I)",
                        ("inversion", "random"))
    condense: CondenseConfig = CondenseConfig(iterations=200, subset_size=500)
    inversion: InversionConfig = InversionConfig(steps=100)
    code: CodeConfig = CodeConfig()  # how a class code is fitted, for a class the generator lacks
    inversion_net: str = setting("trained", "feature net phi of the inversion: trained (on the images being condensed "
                                            "only) or random (untrained)", ("trained", "random"))
    inversion_net_epochs: int = setting(5, "training epochs of the trained inversion net")
    embedding: str = setting("random", "embedding nets of condensation: random (a new one every step) or pool (nets "
                                       "trained briefly on the images being condensed)", ("random", "pool"))
    embedding_arch: str = setting("convnet", "architecture of the inversion and embedding nets", ("convnet", "resnet18"))
    embedding_width: int | None = setting(None, "width of the inversion and embedding nets (the architecture's default "
                                                "if unset)")
    pool_size: int = setting(5, "nets in the pool (embedding=pool)")
    pool_epochs: int = setting(1, "training epochs of each pooled net")

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class BuiltLatents:
    """What :func:`build_latents` made: each class's latents, the real images they pair with (latent
    ``i`` with image ``i``; an inverted latent started from it), and the seconds each part took."""

    latents: dict[int, torch.Tensor]
    sources: dict[int, torch.Tensor]
    seconds: dict[str, float]
    inversions_reused: int = 0  # jobs whose inversion came from the store


def build_latents(generator: FrozenGenerator, images: torch.Tensor, labels: torch.Tensor, classes: list[int],
                  per_class: int, recipe: LatentRecipe, seed: int, codec: LatentCodec | None = None,
                  progress: JobProgressFn | None = None, runner: Runner = run_jobs,
                  inversion_store: InversionStore | None = None) -> BuiltLatents:
    """Build up to ``per_class`` latents for each of ``classes`` from ``images``/``labels`` (normalised as
    the generator's images, on the CPU), as ``recipe`` says: the pooled embedding nets and the trained
    inversion net see these images only. ``codec``: how the latents will be stored (condensation then
    optimises through the stored rounding). ``runner`` runs the jobs (:func:`run_jobs`, or e.g. the
    distributed runner with its shard folder bound). ``inversion_store``: inversions computed before from
    the same inputs are read from it instead of inverting again, and new ones kept in it."""
    device, n_classes = generator.device, generator.n_labels  # its classes, and class codes if it has any
    pool = None
    if recipe.embedding == "pool":
        pool = build_pool(images, labels, n_classes, recipe.pool_size, recipe.pool_epochs, recipe.embedding_arch,
                          recipe.embedding_width, seed)
    sources = class_image_sets(images, labels, classes, seed)
    sampler = EmbeddingSampler(recipe.embedding_arch, n_classes, recipe.embedding_width, pool, device,
                               generator.config.img_size)
    inversion = recipe.inversion if recipe.init == "inversion" else None
    start, inversion_net = time.perf_counter(), None
    if inversion is not None and recipe.inversion_net == "trained":
        inversion_net = trained_net(images, labels, n_classes, recipe.inversion_net_epochs, recipe.embedding_arch,
                                    recipe.embedding_width, seed, device)
    seconds = {"inversion_net": time.perf_counter() - start}
    condenser = Condenser(generator, sampler, recipe.condense, inversion=inversion, inversion_net=inversion_net, codec=codec,
                          inversion_store=inversion_store)
    jobs = plan_jobs({c: min(per_class, len(sources[c])) for c in classes}, recipe.condense, seed)
    start = time.perf_counter()
    latents = runner(condenser, jobs, sources, progress)
    seconds["inversion"] = condenser.inversion_seconds
    seconds["condensation"] = time.perf_counter() - start - condenser.inversion_seconds
    return BuiltLatents(latents, sources, seconds, condenser.inversions_reused)

"""The replay methods compared at one byte budget, built from Avalanche parts and the IT-GAN plugin."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from avalanche.core import SupervisedPlugin

from itgan_replay.data import ImageStats
from itgan_replay.gan.generator import FrozenGenerator

from .generative_replay import GenerativeReplayPlugin
from .itgan_plugin import ITGANReplayConfig, ITGANReplayPlugin
from .jpeg_buffer import JPEGClassBalancedBuffer
from .replay import BufferReplayPlugin, MemoryUse, RawClassBalancedBuffer

LATENT_METHODS = {
    "itgan": "IT-GAN: inversion init + condensation",
    "inversion": "GAN inversion latents (no condensation)",
    "gan-stored": "GAN replay from stored random latents (no inversion, no condensation)",
    "itgan-random": "IT-GAN condensation from random latents instead of inversions: no latent starts from a photo "
                    "(a privacy option; not run unless named in --methods)",
}
GENERATOR_METHODS = {
    **LATENT_METHODS,
    "gan-fresh": "deep generative replay: fresh random latents every batch, class-balanced labels (stores the generator only)",
}
METHODS = {
    **GENERATOR_METHODS,
    "exemplar": "raw-exemplar replay, class-balanced buffer (height x width x 3 bytes per image)",
    "jpeg": "JPEG-exemplar replay, class-balanced by bytes (one shared header, each image's scan)",
    "jpeg32": "JPEG exemplars stored downsampled to 32x32 and upsampled at replay (for streams above 32 px)",
    "naive": "no replay (fine-tuning)",
    "joint": "joint training on all data (upper bound)",
}
OPT_IN_METHODS = ("itgan-random",)
"""Methods a run leaves out unless they are named."""


def memory_use(plugins: list) -> MemoryUse:
    """What the first replay plugin in ``plugins`` (a strategy's ``plugins``) stores; zero if none."""
    for plugin in plugins:
        if hasattr(plugin, "memory_use"):
            return plugin.memory_use()
    return MemoryUse(0, 0)


def latent_config(name: str, base: ITGANReplayConfig) -> ITGANReplayConfig:
    """The plugin settings of a latent method: ``gan-stored`` and ``inversion`` skip condensation; ``gan-stored`` and
    ``itgan-random`` start from random latents."""
    recipe = base.recipe
    if name == "itgan":
        return base
    if name == "itgan-random":
        return replace(base, recipe=replace(recipe, init="random"))
    return replace(base, recipe=replace(recipe, init="random" if name == "gan-stored" else "inversion",
                                        condense=replace(recipe.condense, iterations=0)))


def build_method(name: str, budget_bytes: int, n_classes: int, generator: FrozenGenerator | None = None,
                 itgan: ITGANReplayConfig | None = None, replay_batch_size: int | None = None, jpeg_quality: int = 50,
                 image_stats: ImageStats = ((0.5,) * 3, (0.5,) * 3),
                 seed: int = 0, image_size: int = 32, memory_path: str | os.PathLike | None = None,
                 jpeg32_quality: int = 50, inversion_store: str | os.PathLike | None = None,
                 class_names: Sequence[str] | None = None) -> list[SupervisedPlugin]:
    """The plugins of ``name`` (one of :data:`METHODS`) at ``budget_bytes`` (read what they store with
    :func:`memory_use`); ``joint`` and ``naive`` have none. Images are ``image_size`` pixels square.
    ``image_stats`` (mean, std) is the stream's normalisation: ``exemplar`` and ``jpeg`` undo it to store pixels, and
    the generator methods map their images into it, so that every method's classifier sees one normalisation.
    ``memory_path``: where a latent method saves its memory after every experience (the last one included).
    ``inversion_store``: a folder where latent methods share their inversions (see ``ITGANReplayPlugin``).
    ``jpeg32`` stores at quality ``jpeg32_quality`` and needs images above 32 pixels. ``class_names``: the stream's, by
    label, which the generator methods match to the generator's classes (or give class codes, as ``itgan.class_codes``
    says)."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; choose from {', '.join(METHODS)}")
    if name in GENERATOR_METHODS and (generator is None or itgan is None):
        raise ValueError(f"method '{name}' needs a generator and an ITGANReplayConfig")
    if name == "gan-fresh":
        return [GenerativeReplayPlugin(generator, budget_bytes, itgan.generator_dtype, replay_batch_size, itgan.seed,
                                       image_stats, class_names, itgan.class_codes, itgan.recipe.code)]
    if name in LATENT_METHODS:
        config = latent_config(name, replace(itgan, budget_bytes=budget_bytes, latents_per_class=None,
                                             total_classes=n_classes, replay_batch_size=replay_batch_size))
        return [ITGANReplayPlugin(generator, config, memory_path=memory_path, inversion_store=inversion_store,
                                  image_stats=image_stats, class_names=class_names)]
    if name == "exemplar":
        policy = RawClassBalancedBuffer(budget_bytes, 3 * image_size * image_size, n_classes, *image_stats)
        return [BufferReplayPlugin(policy.max_size, batch_size_mem=replay_batch_size, storage_policy=policy)]
    if name in ("jpeg", "jpeg32"):
        if name == "jpeg32" and image_size <= 32:
            raise ValueError(f"jpeg32 stores photos downsampled to 32x32; these are {image_size}x{image_size}: use jpeg")
        quality, stored = (jpeg_quality, image_size) if name == "jpeg" else (jpeg32_quality, 32)
        policy = JPEGClassBalancedBuffer(budget_bytes, n_classes, quality, *image_stats, image_size, seed, stored)
        return [BufferReplayPlugin(policy.max_size, batch_size_mem=replay_batch_size, storage_policy=policy)]
    return []

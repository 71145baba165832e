"""The replay methods compared at one byte budget, built from Avalanche parts and the IT-GAN plugin."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from avalanche.core import SupervisedPlugin
from avalanche.training.plugins import ReplayPlugin
from avalanche.training.storage_policy import ClassBalancedBuffer

from itgan_replay.generator import FrozenGenerator

from .itgan_plugin import ITGANReplayConfig, ITGANReplayPlugin
from .jpeg_buffer import JPEGClassBalancedBuffer

IMAGE_BYTES = 32 * 32 * 3  # one stored uint8 CIFAR image
LATENT_METHODS = {
    "itgan": "IT-GAN: inversion init + condensation",
    "inversion": "GAN inversion latents (no condensation)",
    "gan": "GAN replay with random latents (no inversion, no condensation)",
}
METHODS = {
    **LATENT_METHODS,
    "exemplar": "raw-exemplar replay, class-balanced buffer (3,072 bytes per image)",
    "jpeg": "JPEG-exemplar replay, class-balanced by bytes (one shared header, each image's scan)",
    "naive": "no replay (fine-tuning)",
    "joint": "joint training on all data (upper bound)",
}


class Method:
    """A method's plugins, ways to read how many bytes and samples it stores (``generator_bytes`` of
    the bytes are a generator's fixed weights) and a report of where its time went."""

    def __init__(self, name: str, plugins: list[SupervisedPlugin], stored_bytes: Callable[[], int],
                 stored_samples: Callable[[], int] = lambda: 0, generator_bytes: int = 0,
                 seconds: Callable[[], dict[str, float]] = dict) -> None:
        self.name, self.plugins, self.stored_bytes, self.stored_samples = name, plugins, stored_bytes, stored_samples
        self.generator_bytes, self.seconds = generator_bytes, seconds


def latent_config(name: str, base: ITGANReplayConfig) -> ITGANReplayConfig:
    """The plugin settings of a latent method: ``gan`` and ``inversion`` skip condensation."""
    if name == "itgan":
        return base
    no_condense = replace(base.condense, iterations=0)
    return replace(base, init="random" if name == "gan" else "inversion", condense=no_condense)


def build_method(name: str, budget_bytes: int, n_classes: int, generator: FrozenGenerator | None = None,
                 itgan: ITGANReplayConfig | None = None, replay_batch_size: int | None = None, jpeg_quality: int = 50,
                 image_stats: tuple[tuple[float, ...], tuple[float, ...]] = ((0.5,) * 3, (0.5,) * 3),
                 seed: int = 0) -> Method:
    """Plugins for ``name`` (one of :data:`METHODS`) at ``budget_bytes``; ``joint`` and ``naive`` have none.
    ``image_stats`` (mean, std) is the stream's normalisation, which ``jpeg`` undoes to encode pixels."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; choose from {', '.join(METHODS)}")
    if name in LATENT_METHODS:
        if generator is None or itgan is None:
            raise ValueError(f"method '{name}' needs a generator and an ITGANReplayConfig")
        config = latent_config(name, replace(itgan, budget_bytes=budget_bytes, latents_per_class=None,
                                             total_classes=n_classes, replay_batch_size=replay_batch_size))
        plugin = ITGANReplayPlugin(generator, config)
        return Method(name, [plugin], lambda: plugin.memory.total_bytes, lambda: len(plugin.memory),
                      plugin.memory.generator_bytes, lambda: dict(plugin.seconds))
    if name == "exemplar":
        mem_size = budget_bytes // IMAGE_BYTES
        policy = ClassBalancedBuffer(mem_size, adaptive_size=False, total_num_classes=n_classes)
        plugin = ReplayPlugin(mem_size, batch_size_mem=replay_batch_size, storage_policy=policy)
        return Method(name, [plugin], lambda: len(policy.buffer) * IMAGE_BYTES, lambda: len(policy.buffer))
    if name == "jpeg":
        policy = JPEGClassBalancedBuffer(budget_bytes, n_classes, jpeg_quality, *image_stats, seed=seed)
        plugin = ReplayPlugin(policy.max_size, batch_size_mem=replay_batch_size, storage_policy=policy)
        return Method(name, [plugin], lambda: policy.total_bytes, lambda: len(policy.buffer))
    return Method(name, [], lambda: 0)


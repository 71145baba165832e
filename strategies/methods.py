"""The replay methods compared at one byte budget, built from Avalanche parts and the IT-GAN plugin."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from avalanche.core import SupervisedPlugin
from avalanche.training.storage_policy import ClassBalancedBuffer

from itgan_replay.generator import FrozenGenerator

from .itgan_plugin import ITGANReplayConfig, ITGANReplayPlugin
from .jpeg_buffer import JPEGClassBalancedBuffer
from .replay import BufferReplayPlugin

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


@dataclass(frozen=True)
class MemoryUse:
    """What a method's replay memory holds: ``generator_bytes`` of ``stored_bytes`` are a generator's
    fixed weights; ``seconds`` says where the memory's build time went."""

    stored_bytes: int
    stored_samples: int
    generator_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def memory_use(plugins: list) -> MemoryUse:
    """The memory of the first replay plugin in ``plugins`` (a strategy's ``plugins``); zero if none."""
    for plugin in plugins:
        if isinstance(plugin, ITGANReplayPlugin):
            memory = plugin.memory
            return MemoryUse(memory.total_bytes, len(memory), memory.generator_bytes, dict(plugin.seconds))
        if isinstance(plugin, BufferReplayPlugin):
            policy = plugin.storage_policy
            held = len(policy.buffer)
            return MemoryUse(policy.total_bytes if isinstance(policy, JPEGClassBalancedBuffer) else held * IMAGE_BYTES, held)
    return MemoryUse(0, 0)


def latent_config(name: str, base: ITGANReplayConfig) -> ITGANReplayConfig:
    """The plugin settings of a latent method: ``gan`` and ``inversion`` skip condensation."""
    if name == "itgan":
        return base
    no_condense = replace(base.condense, iterations=0)
    return replace(base, init="random" if name == "gan" else "inversion", condense=no_condense)


def build_method(name: str, budget_bytes: int, n_classes: int, generator: FrozenGenerator | None = None,
                 itgan: ITGANReplayConfig | None = None, replay_batch_size: int | None = None, jpeg_quality: int = 50,
                 image_stats: tuple[tuple[float, ...], tuple[float, ...]] = ((0.5,) * 3, (0.5,) * 3),
                 seed: int = 0) -> list[SupervisedPlugin]:
    """The plugins of ``name`` (one of :data:`METHODS`) at ``budget_bytes`` (read what they store with
    :func:`memory_use`); ``joint`` and ``naive`` have none.
    ``image_stats`` (mean, std) is the stream's normalisation, which ``jpeg`` undoes to encode pixels."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; choose from {', '.join(METHODS)}")
    if name in LATENT_METHODS:
        if generator is None or itgan is None:
            raise ValueError(f"method '{name}' needs a generator and an ITGANReplayConfig")
        config = latent_config(name, replace(itgan, budget_bytes=budget_bytes, latents_per_class=None,
                                             total_classes=n_classes, replay_batch_size=replay_batch_size))
        return [ITGANReplayPlugin(generator, config)]
    if name == "exemplar":
        mem_size = budget_bytes // IMAGE_BYTES
        policy = ClassBalancedBuffer(mem_size, adaptive_size=False, total_num_classes=n_classes)
        return [BufferReplayPlugin(mem_size, batch_size_mem=replay_batch_size, storage_policy=policy)]
    if name == "jpeg":
        policy = JPEGClassBalancedBuffer(budget_bytes, n_classes, jpeg_quality, *image_stats, seed=seed)
        return [BufferReplayPlugin(policy.max_size, batch_size_mem=replay_batch_size, storage_policy=policy)]
    return []


"""Deep generative replay with a frozen generator: fresh random latents for every replay batch."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from avalanche.core import SupervisedPlugin

from itgan_replay.data import ImageStats, renormalize
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.latent import require_generator_fits

from .replay import MemoryUse

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


class GenerativeReplayPlugin(SupervisedPlugin):
    """Appends ``replay_batch_size`` generated images to every training mini-batch: latents drawn
    fresh from N(0, I), labels class-balanced over the classes seen so far. It stores nothing but
    the generator, rounded to ``generator_dtype`` and counted in those bytes. Images are mapped into the
    stream's normalisation ``image_stats`` (mean, std; by default the generator's own).

    Raises:
        BudgetError: the generator alone does not fit ``budget_bytes``.
    """

    def __init__(self, generator: FrozenGenerator, budget_bytes: int, generator_dtype: str = "float32",
                 replay_batch_size: int | None = None, seed: int = 0, image_stats: ImageStats | None = None) -> None:
        super().__init__()
        if generator_dtype not in GENERATOR_STORAGE_DTYPES:
            raise ValueError(f"generator_dtype must be one of {list(GENERATOR_STORAGE_DTYPES)}, got '{generator_dtype}'")
        self.generator = generator.stored_as(GENERATOR_STORAGE_DTYPES[generator_dtype])
        require_generator_fits(self.generator, budget_bytes)
        self.generator_stats: ImageStats = (generator.mean_values, generator.std_values)
        self.image_stats: ImageStats = image_stats or self.generator_stats
        self.replay_batch_size = replay_batch_size
        self.seen: list[int] = []
        self._rng = torch.Generator().manual_seed(seed)

    def memory_use(self) -> MemoryUse:
        return MemoryUse(self.generator.param_bytes, 0, self.generator.param_bytes)

    def before_training_exp(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        self.generator.to(strategy.device)

    def before_forward(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        if not self.seen:
            return
        n = self.replay_batch_size or strategy.train_mb_size
        seen = torch.tensor(self.seen)
        offset = int(torch.randint(len(seen), (1,), generator=self._rng))
        y = seen[(torch.arange(n) + offset) % len(seen)]  # every seen class n // k or n // k + 1 times
        z = torch.randn(n, self.generator.config.z_dim, generator=self._rng)
        x = renormalize(self.generator.generate(z.to(self.generator.device), y.to(self.generator.device)),
                        self.generator_stats, self.image_stats)
        mbatch = strategy.mbatch
        mbatch[0] = torch.cat([mbatch[0], x.to(mbatch[0].device, mbatch[0].dtype)])
        mbatch[1] = torch.cat([mbatch[1], y.to(mbatch[1].device, mbatch[1].dtype)])
        if len(mbatch) > 2:
            mbatch[-1] = torch.cat([mbatch[-1], torch.zeros_like(y, device=mbatch[-1].device, dtype=mbatch[-1].dtype)])

    def after_training_exp(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        self.seen = sorted(set(self.seen) | set(int(c) for c in strategy.experience.classes_in_this_experience))

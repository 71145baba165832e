"""Deep generative replay with a frozen generator: fresh random latents for every replay batch."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from avalanche.core import SupervisedPlugin

from itgan_replay.condensation.class_code import CodeConfig, condition_new_classes, plan_class_codes
from itgan_replay.data import ImageStats, renormalize
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.class_codes import ClassCodes
from itgan_replay.memory.latent import BudgetError, require_generator_fits

from .itgan_plugin import experience_seed, experience_tensors, is_last_experience
from .replay import MemoryUse

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


class GenerativeReplayPlugin(SupervisedPlugin):
    """Appends ``replay_batch_size`` generated images to every training mini-batch: latents drawn
    fresh from N(0, I), labels class-balanced over the classes seen so far. It stores nothing but
    the generator, rounded to ``generator_dtype`` and counted in those bytes. Images are mapped into the
    stream's normalisation ``image_stats`` (mean, std; by default the generator's own). A class is drawn as the
    generator's class of its name (``class_names``, the stream's by label; without them, label ``i`` is class ``i``),
    or through a class code fitted on its photos when its experience ends (``class_codes``: see
    :data:`~itgan_replay.condensation.class_code.CLASS_CODE_MODES`), stored and counted in the budget; being fitted on
    the stream's photos, codes are not the generator's bytes (as in ``itgan``'s memory).

    Raises:
        BudgetError: the generator alone does not fit ``budget_bytes`` (at once), or the class codes an experience
            needs do not fit beside it (when the experience ends, before any is fitted).
    """

    def __init__(self, generator: FrozenGenerator, budget_bytes: int, generator_dtype: str = "float32",
                 replay_batch_size: int | None = None, seed: int = 0, image_stats: ImageStats | None = None,
                 class_names: Sequence[str] | None = None, class_codes: str = "auto", code: CodeConfig = CodeConfig()) -> None:
        super().__init__()
        if generator_dtype not in GENERATOR_STORAGE_DTYPES:
            raise ValueError(f"generator_dtype must be one of {list(GENERATOR_STORAGE_DTYPES)}, got '{generator_dtype}'")
        self.generator = generator.stored_as(GENERATOR_STORAGE_DTYPES[generator_dtype])
        require_generator_fits(self.generator, budget_bytes)
        self.budget_bytes = budget_bytes
        self.generator_stats: ImageStats = (generator.mean_values, generator.std_values)
        self.image_stats: ImageStats = image_stats or self.generator_stats
        self.replay_batch_size = replay_batch_size
        self.class_names, self.class_codes, self.code, self.seed = class_names, class_codes, code, seed
        self.codes = ClassCodes(self.generator)
        self.seen: list[int] = []
        self._rng = torch.Generator().manual_seed(seed)

    def memory_use(self) -> MemoryUse:
        return MemoryUse(self.generator.param_bytes + self.codes.code_bytes, 0, self.generator.param_bytes)

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
        generator = self.codes.generator
        x = renormalize(generator.generate(z.to(generator.device), self.codes.generator_labels(y).to(generator.device)),
                        self.generator_stats, self.image_stats)
        mbatch = strategy.mbatch
        mbatch[0] = torch.cat([mbatch[0], x.to(mbatch[0].device, mbatch[0].dtype)])
        mbatch[1] = torch.cat([mbatch[1], y.to(mbatch[1].device, mbatch[1].dtype)])
        if len(mbatch) > 2:
            mbatch[-1] = torch.cat([mbatch[-1], torch.zeros_like(y, device=mbatch[-1].device, dtype=mbatch[-1].dtype)])

    def _require_room_for_codes(self, n_codes: int) -> None:
        needed = self.generator.param_bytes + self.codes.code_bytes + n_codes * self.codes.bytes_per_code
        if needed > self.budget_bytes:
            raise BudgetError(f"budget of {self.budget_bytes:,} bytes cannot hold the {self.generator.param_bytes:,}-byte "
                              f"generator and {len(self.codes.codes) + n_codes} class codes of "
                              f"{self.codes.bytes_per_code} bytes ({needed:,} bytes); raise the budget, store the "
                              "generator in fewer bits (generator_dtype) or use a generator that knows these classes")

    def after_training_exp(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        new = sorted(set(int(c) for c in strategy.experience.classes_in_this_experience) - set(self.seen))
        plan = plan_class_codes(self.generator, new, self.class_names, self.class_codes)
        images = labels = torch.empty(0)
        if is_last_experience(strategy.experience):  # nothing is replayed after it: no code to fit
            plan = {c: own for c, own in plan.items() if own is not None}
        self._require_room_for_codes(sum(own is None for own in plan.values()))
        if None in plan.values():
            images, labels = experience_tensors(strategy.experience.dataset)
            images = renormalize(images, self.image_stats, self.generator_stats)
        condition_new_classes(self.codes, plan, images, labels, self.code,
                              experience_seed(self.seed, strategy.experience.current_experience))
        self.seen = sorted(set(self.seen) | set(new))

"""IT-GAN latent replay as an Avalanche plugin.

After each training experience the plugin condenses every class that is new in
that experience into latents of a frozen generator (inversion init, then the
core's per-class, per-subset condensation jobs), using only that experience's
data. While training on later experiences it regenerates labelled replay
images on the strategy's device and appends them to every mini-batch. After the
stream's last experience it condenses only if the memory is kept (``memory_path``),
since nothing would rehearse those classes.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from avalanche.core import SupervisedPlugin
from torch.utils.data import DataLoader
from tqdm import tqdm

from itgan_replay.condensation.class_code import CLASS_CODE_MODES, condition_new_classes, plan_class_codes
from itgan_replay.condensation.inversion import InversionStore
from itgan_replay.condensation.recipe import LatentRecipe, build_latents
from itgan_replay.data import ImageStats, renormalize
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.latent import STORAGE_DTYPES, BudgetError, LatentMemory
from itgan_replay.settings import check_choices, setting

from .replay import MemoryUse

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


@dataclass(frozen=True)
class ITGANReplayConfig:
    """Settings of :class:`ITGANReplayPlugin`.

    ``recipe`` says how each experience's latents are built (from its data only). Exactly one of
    ``latents_per_class`` and ``budget_bytes`` is set (the plugin checks). With a budget
    (which counts the generator's bytes) each new class gets an equal share of the
    room (among ``total_classes`` if known, else among the classes seen so far; then
    older classes are shrunk to keep the memory class-balanced).
    """

    recipe: LatentRecipe = LatentRecipe()  # how latents are built, from each experience's data only
    latents_per_class: int | None = setting(None, "latents of every class (or set budget_bytes)")
    budget_bytes: int | None = setting(None, "bytes of the whole memory, the generator's included (or set latents_per_class)")
    total_classes: int | None = setting(None, "with a budget: share it among this many classes from the start")
    replay_batch_size: int | None = setting(None, "regenerated images added to each mini-batch (default: the "
                                                  "strategy's train_mb_size)")
    regenerate: str = setting("batch", "batch: regenerate every replay batch; experience: regenerate the whole memory "
                                       "once per experience", ("batch", "experience"))
    storage_dtype: str = setting("float32", "how latents are stored and counted (bytes each at z_dim 128): float32 (512), "
                                            "float16 (256), int8 (132: codes, a float16 scale and offset) or int4 (68: "
                                            "codes two to a byte); condensation optimises through the stored rounding",
                                   tuple(STORAGE_DTYPES))
    generator_dtype: str = setting("float32", "how the generator's weights are stored and counted: float32, float16, "
                                              "bfloat16 or int8 (per output channel, the rest float16); condensation "
                                              "and replay use exactly the stored weights", tuple(GENERATOR_STORAGE_DTYPES))
    class_codes: str = setting("auto", "class codes: auto (a learned code for each class the generator lacks, matched "
                                       "by name), all (a code for every class), off (a class the generator lacks is an "
                                       "error)", CLASS_CODE_MODES)
    seed: int = setting(0, "seed of condensation and replay sampling")
    progress: bool = setting(True, "progress bars while condensing")

    def check_size(self) -> None:
        """Checks that exactly one of ``latents_per_class`` and ``budget_bytes`` is set (a plugin needs one)."""
        if (self.latents_per_class is None) == (self.budget_bytes is None):
            raise ValueError("set exactly one of latents_per_class and budget_bytes")

    def __post_init__(self) -> None:
        if self.latents_per_class is not None and self.latents_per_class < 1:
            raise ValueError(f"latents_per_class must be >= 1, got {self.latents_per_class}")
        check_choices(self)


def experience_tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All (eval-transformed) images and labels of an Avalanche dataset, on the CPU."""
    data = dataset.eval() if hasattr(dataset, "eval") else dataset
    xs, ys = [], []
    for batch in DataLoader(data, batch_size=512, shuffle=False):
        xs.append(batch[0])
        ys.append(torch.as_tensor(batch[1]))
    return torch.cat(xs), torch.cat(ys)


def experience_seed(seed: int, experience: int) -> int:
    """The seed the plugin builds an experience's latents with."""
    return seed * 7919 + experience


def is_last_experience(experience) -> bool:
    """Whether ``experience`` is the last of the stream it came from (False if that is unknown)."""
    stream = getattr(experience, "origin_stream", None)
    return stream is not None and experience.current_experience == len(stream) - 1


class ITGANReplayPlugin(SupervisedPlugin):
    """Replay from a :class:`LatentMemory` of condensed latents plus a frozen generator.

    Args:
        generator: the frozen, pretrained float32 generator (its classes are the dataset's labels).
        config: plugin settings (:class:`ITGANReplayConfig`).
        memory: an existing memory to continue from (e.g. ``LatentMemory.load``).
        memory_path: if given, the memory is saved there (atomically) after each experience, and the
            classes of the stream's last experience are condensed too; without it they are not.
        inversion_store: a folder of inversions shared with other plugins (e.g. ``inversion`` and ``itgan``
            in one run): an inversion made before from the same inputs is read, not recomputed.
        image_stats: the stream's normalisation (mean, std): the experiences' images are in this space, and
            replayed images are mapped into it, whatever the generator's own statistics (by default the
            generator's ``mean_values`` and ``std_values``: a stream normalised as the generator was).
        class_names: the stream's class names, by label: each class is drawn as the generator's class of that name,
            or (``config.class_codes``) through a class code fitted on its photos. Without names, label ``i`` is the
            generator's class ``i``.
        prepared: latents made in advance, of this generator and storage (e.g. the IT-GAN authors' latents,
            ``experiments/import_latents.py``): when an experience ends, each of its new classes takes its first
            latents from here instead of being condensed, so no class is replayed before its experience. A new
            class that ``prepared`` lacks is an error.

    Condensation and replay both use ``memory.generator``: the generator rounded to
    ``config.generator_dtype``, as the memory stores and counts it.
    """

    def __init__(self, generator: FrozenGenerator, config: ITGANReplayConfig,
                 memory: LatentMemory | None = None, memory_path: str | os.PathLike | None = None,
                 inversion_store: str | os.PathLike | None = None, image_stats: ImageStats | None = None,
                 prepared: LatentMemory | None = None, class_names: Sequence[str] | None = None) -> None:
        super().__init__()
        config.check_size()
        self.config = config
        self.memory = memory or LatentMemory(generator, config.storage_dtype,
                                             GENERATOR_STORAGE_DTYPES[config.generator_dtype])
        for held in (self.memory, prepared):
            stored = held.generator if held is not None else None
            if stored is not None and (stored.fingerprint != generator.fingerprint or held.storage_dtype != config.storage_dtype
                                       or stored.storage_dtype != GENERATOR_STORAGE_DTYPES[config.generator_dtype]):
                raise ValueError(f"a memory holds generator {stored.fingerprint[:12]}… stored as {stored.storage_dtype} with "
                                 f"{held.storage_dtype} latents, not {generator.fingerprint[:12]}… as {config.generator_dtype} "
                                 f"with {config.storage_dtype} latents; load it with this generator and settings")
        self.generator = self.memory.generator
        self.prepared = prepared
        self.class_names = list(class_names) if class_names is not None else None
        self.generator_stats: ImageStats = (generator.mean_values, generator.std_values)
        self.image_stats: ImageStats = image_stats or self.generator_stats
        if config.budget_bytes is not None:
            self.memory.capacity(config.budget_bytes)  # BudgetError now, before any training
        self.memory_path = memory_path
        self.inversion_store = None if inversion_store is None else InversionStore(inversion_store)
        self.condensed: list[dict] = []  # one record per condensed class: experience, class, images used
        self.seconds = {"inversion_net": 0.0, "inversion": 0.0, "condensation": 0.0}  # time spent, summed over experiences
        self.inversions_reused = 0  # condensation jobs whose inversion was read from inversion_store
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self._rng = torch.Generator().manual_seed(config.seed)

    def memory_use(self) -> MemoryUse:
        """The memory's bytes (latents and generator), latents, and the time its building took."""
        return MemoryUse(self.memory.total_bytes, len(self.memory), self.memory.generator_bytes, dict(self.seconds),
                         self.inversions_reused)

    # ---- life cycle -------------------------------------------------------------------
    def before_training_exp(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        self.generator.to(strategy.device)
        self._cache = None
        if self.config.regenerate == "experience" and len(self.memory):
            x, y = self.memory.generate(*self.memory.all(), strategy.device)
            self._cache = renormalize(x, self.generator_stats, self.image_stats), y

    def before_forward(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        if not len(self.memory):
            return
        n = self.config.replay_batch_size or strategy.train_mb_size
        if self._cache is not None:
            idx = torch.randint(len(self._cache[1]), (n,), generator=self._rng).to(strategy.device)
            x, y = self._cache[0][idx], self._cache[1][idx]
        else:
            x, y = self.memory.sample(n, strategy.device, rng=self._rng)
            x = renormalize(x, self.generator_stats, self.image_stats)
        mbatch = strategy.mbatch
        mbatch[0] = torch.cat([mbatch[0], x.to(mbatch[0].dtype)])
        mbatch[1] = torch.cat([mbatch[1], y.to(mbatch[1].dtype)])
        if len(mbatch) > 2:
            mbatch[-1] = torch.cat([mbatch[-1], torch.zeros_like(y, dtype=mbatch[-1].dtype)])

    def after_training_exp(self, strategy: "SupervisedTemplate", **kwargs) -> None:
        if self.memory_path is None and is_last_experience(strategy.experience):
            return  # nothing trains after it, and the memory is not kept
        images, labels = experience_tensors(strategy.experience.dataset)
        new = sorted(set(labels.tolist()) - set(self.memory.classes))
        self.add_classes(images, labels, new, strategy.experience.current_experience)
        self._cache = None
        if self.memory_path is not None:
            self.memory.save(self.memory_path)

    # ---- condensation -----------------------------------------------------------------
    def _latents_per_class(self, n_new: int) -> int:
        if self.config.latents_per_class is not None:
            return self.config.latents_per_class
        n_classes = self.config.total_classes or len(self.memory.classes) + n_new
        per_class = self.memory.capacity(self.config.budget_bytes) // n_classes
        if per_class < 1:
            raise BudgetError(f"budget of {self.config.budget_bytes:,} bytes leaves no room for one latent per class "
                              f"for {n_classes} classes beside the {self.memory.generator_bytes:,}-byte generator")
        return per_class

    def add_classes(self, images: torch.Tensor, labels: torch.Tensor, classes: list[int], experience: int = 0) -> None:
        """Condense ``classes`` from ``images``/``labels`` (CPU, normalised by ``image_stats``) and store them.
        Condensation compares them with generated images in the generator's own normalisation."""
        if not classes:
            return
        cfg = self.config
        per_class = self._latents_per_class(len(classes))
        if self.prepared is not None:
            self._add_prepared(classes, per_class, experience)
            return
        images = renormalize(images, self.image_stats, self.generator_stats)
        plan = plan_class_codes(self.memory.generator, classes, self.class_names, cfg.class_codes)
        coded = condition_new_classes(self.memory.class_codes, plan, images, labels, cfg.recipe.code,
                                      experience_seed(cfg.seed, experience))
        drawn = dict(zip(classes, self.memory.generator_labels(torch.tensor(classes)).tolist()))  # class -> generator label
        with tqdm(total=cfg.recipe.condense.iterations, disable=not cfg.progress, leave=False, unit="it",
                  desc=f"condense experience {experience + 1} ({len(classes)} classes)") as bar:  # jobs step together
            built = build_latents(self.memory.drawing_generator, images, self.memory.generator_labels(labels),
                                  list(drawn.values()), per_class, cfg.recipe,
                                  experience_seed(cfg.seed, experience), self.memory.condense_codec,
                                  progress=lambda job, step, loss: bar.update(max(0, step - bar.n)),
                                  inversion_store=self.inversion_store)
        for key, value in built.seconds.items():
            self.seconds[key] += value
        self.inversions_reused += built.inversions_reused
        for c in classes:
            self.condensed.append({"experience": experience, "class": c, "real_images": len(built.sources[drawn[c]]),
                                   "latents": len(built.latents[drawn[c]]), "class_code": c in coded})
        for c in classes:
            self.memory.add(c, built.latents[drawn[c]])
        self._fit_budget()

    def _add_prepared(self, classes: list[int], per_class: int, experience: int) -> None:
        """Store the first ``per_class`` prepared latents of each of ``classes``."""
        if missing := [c for c in classes if c not in self.prepared.classes]:
            raise ValueError(f"classes {missing} of experience {experience + 1} have no prepared latents; import them too")
        for c in classes:
            stored = self.memory.add_from(self.prepared, c, per_class)
            self.condensed.append({"experience": experience, "class": c, "real_images": 0, "latents": stored})
        self._fit_budget()

    def _fit_budget(self) -> None:
        if self.config.budget_bytes is not None:
            self.memory.shrink_to(self.config.budget_bytes)

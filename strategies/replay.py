"""Avalanche's replay parts with exact byte accounting: what every replay method stores."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from avalanche.benchmarks.utils.classification_dataset import _make_taskaware_classification_dataset
from avalanche.training.plugins import ReplayPlugin
from avalanche.training.storage_policy import ClassBalancedBuffer

from itgan_replay.data import ImageTensors, to_pixels


@dataclass(frozen=True)
class MemoryUse:
    """What a method's replay memory holds: ``generator_bytes`` of ``stored_bytes`` are a generator's
    fixed weights; ``seconds`` says where the memory's build time went, not counting the work of
    the ``inversions_reused`` inversions that another method made first."""

    stored_bytes: int
    stored_samples: int
    generator_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    inversions_reused: int = 0


class RawClassBalancedBuffer(ClassBalancedBuffer):
    """Avalanche's ``ClassBalancedBuffer`` of raw uint8 images within a byte budget: it holds
    ``budget_bytes // image_bytes`` images (``image_bytes``: channels x height x width).

    After each update every class keeps a copy of its exemplars' uint8 pixels, normalised on access
    with the stream's ``mean`` and ``std`` (the same floats the stream gives), instead of Avalanche's
    subsets of the stream: so the buffer, and a checkpoint of the strategy, hold what it counts,
    not the whole stream.
    """

    def __init__(self, budget_bytes: int, image_bytes: int, total_num_classes: int,
                 mean: Sequence[float] = (0.5,) * 3, std: Sequence[float] = (0.5,) * 3) -> None:
        super().__init__(budget_bytes // image_bytes, adaptive_size=False, total_num_classes=total_num_classes)
        self.image_bytes, self.mean, self.std = image_bytes, tuple(mean), tuple(std)

    @property
    def total_bytes(self) -> int:
        return len(self.buffer) * self.image_bytes

    def post_adapt(self, agent, exp) -> None:
        """Avalanche's update, then the exemplars of ``exp``'s classes copied out of the stream (same order;
        the other classes already hold copies, which Avalanche's resize only subsets)."""
        super().post_adapt(agent, exp)
        for c in {int(t) for t in exp.dataset.targets}:
            group = self.buffer_groups[c]
            data = group.buffer.eval()
            items = [data[i] for i in range(len(data))]
            labels = torch.tensor([int(item[1]) for item in items], dtype=torch.long)
            pixels = to_pixels(torch.stack([item[0] for item in items]), self.mean, self.std)
            group.buffer = _make_taskaware_classification_dataset(
                ImageTensors(pixels, labels, [], self.mean, self.std), targets=labels.tolist(), task_labels=0)


class BufferReplayPlugin(ReplayPlugin):
    """Avalanche's ``ReplayPlugin`` over a storage policy that counts its ``total_bytes``, updating
    the policy with ``post_adapt``.

    Avalanche 0.6's ``ReplayPlugin`` calls the policy's deprecated ``update``, which only forwards to
    ``post_adapt`` and emits a DeprecationWarning after resetting the warning filters (so no filter
    can silence it); this calls ``post_adapt`` itself. Everything else is the stock plugin.
    """

    def after_training_exp(self, strategy, **kwargs) -> None:
        self.storage_policy.post_adapt(strategy, strategy.experience)

    def memory_use(self) -> MemoryUse:
        return MemoryUse(self.storage_policy.total_bytes, len(self.storage_policy.buffer))

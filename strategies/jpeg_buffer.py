"""JPEG exemplars as an Avalanche storage policy, for ``ReplayPlugin`` (or :class:`BufferReplayPlugin`).

    policy = JPEGClassBalancedBuffer(budget_bytes, total_num_classes=10, quality=50, mean=..., std=...)
    plugin = ReplayPlugin(mem_size=policy.max_size, storage_policy=policy)

``max_size`` is the byte budget (``ReplayPlugin`` only checks that it equals ``mem_size``).
The codec's shared JPEG header is counted once; every class gets an equal share of the rest
and keeps, in a seeded random order, as many of its images as their scans fit in that share.
Replay decodes the stored bytes on access. With ``stored_size`` below the image size, photos are
stored downsampled (antialiased bicubic) and upsampled (bicubic) back when replayed.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from avalanche.benchmarks.utils.classification_dataset import _make_taskaware_classification_dataset
from avalanche.training.storage_policy import ExemplarsBuffer
from torch.utils.data import Dataset

from itgan_replay.data import normalize, to_pixels
from itgan_replay.memory.jpeg import JPEGCodec, fill_share
from itgan_replay.memory.latent import BudgetError

from .itgan_plugin import experience_tensors


def resized(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images (N, 3, H, W) resized to ``size`` square: bicubic, antialiased when shrinking, rounded."""
    if images.shape[-1] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=size < images.shape[-1], align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


class _DecodedExemplars(Dataset):
    """Stored scans, decoded, resized to ``image_size`` and normalised on access."""

    def __init__(self, codec: JPEGCodec, scans: list[bytes], labels: list[int], mean: Sequence[float],
                 std: Sequence[float], image_size: int) -> None:
        self.codec, self.scans, self.targets, self.mean, self.std = codec, scans, labels, mean, std
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.scans)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        pixels = resized(self.codec.decode(self.scans[i])[None], self.image_size)[0]
        return normalize(pixels, self.mean, self.std), self.targets[i]


class JPEGClassBalancedBuffer(ExemplarsBuffer):
    """Class-balanced exemplars stored as JPEG scans within a byte budget.

    Args:
        budget_bytes: bytes the memory may hold, shared header included.
        total_num_classes: classes the budget is shared among (fixed from the start).
        quality: JPEG quality (1-100).
        mean, std: per-channel normalisation of the stream's images, to recover their uint8 pixels.
        image_size: side of the square images.
        seed: seed of each class's random order.
        stored_size: side at which photos are stored (``None``: ``image_size``); smaller sizes are
            upsampled back to ``image_size`` when replayed.

    Raises:
        BudgetError: the budget leaves no bytes per class beside the header (at construction), or a
            class's share cannot hold one of its images (when the class arrives).
    """

    def __init__(self, budget_bytes: int, total_num_classes: int, quality: int, mean: Sequence[float],
                 std: Sequence[float], image_size: int = 32, seed: int = 0, stored_size: int | None = None) -> None:
        super().__init__(budget_bytes)
        stored_size = image_size if stored_size is None else stored_size
        if not 8 <= stored_size <= image_size:
            raise ValueError(f"stored_size must lie in [8, image_size = {image_size}], got {stored_size}")
        self.codec, self.image_size = JPEGCodec(quality, stored_size), image_size
        self.total_num_classes, self.seed = total_num_classes, seed
        self.mean, self.std = tuple(mean), tuple(std)
        self.class_scans: dict[int, list[bytes]] = {}
        if self.share < 1:
            raise BudgetError(f"a budget of {budget_bytes:,} bytes leaves nothing beside the {len(self.codec.header)}-byte "
                              f"JPEG header for {total_num_classes} classes; raise the budget")

    @property
    def share(self) -> int:
        """Bytes of scans each class may keep."""
        return (self.max_size - len(self.codec.header)) // self.total_num_classes

    @property
    def total_bytes(self) -> int:
        """The shared header (once) plus every stored scan."""
        return len(self.codec.header) + sum(len(s) for scans in self.class_scans.values() for s in scans)

    def post_adapt(self, agent, exp) -> None:
        """Store the new classes of ``exp``: encode them, keep each class's share."""
        images, labels = experience_tensors(exp.dataset)
        pixels = to_pixels(images, self.mean, self.std)
        for c in sorted(set(labels.tolist()) - set(self.class_scans)):
            mine = resized(pixels[labels == c], self.codec.image_size)
            order = torch.randperm(len(mine), generator=torch.Generator().manual_seed(self.seed * 100_003 + c))
            scans = self.codec.encode(mine[order])
            keep = fill_share([len(s) for s in scans], self.share)
            if keep == 0:
                raise BudgetError(f"class {c}'s share of {self.share:,} bytes holds none of its JPEG images (the first "
                                  f"takes {len(scans[0]):,} bytes at quality {self.codec.quality}); raise the budget "
                                  "or lower the quality")
            self.class_scans[c] = scans[:keep]
        self._rebuild()

    def resize(self, strategy, new_size: int) -> None:
        """Change the byte budget: each class keeps the first of its scans that fit its new share."""
        self.max_size = new_size
        self.class_scans = {c: s[:fill_share([len(x) for x in s], self.share)] for c, s in self.class_scans.items()}
        self._rebuild()

    def _rebuild(self) -> None:
        scans = [s for c in sorted(self.class_scans) for s in self.class_scans[c]]
        labels = [c for c in sorted(self.class_scans) for _ in self.class_scans[c]]
        self.buffer = _make_taskaware_classification_dataset(
            _DecodedExemplars(self.codec, scans, labels, self.mean, self.std, self.image_size), targets=labels, task_labels=0)

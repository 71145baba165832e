"""Class-incremental streams from in-memory datasets, with Avalanche 0.6's benchmark API."""
from __future__ import annotations

import torch
from avalanche.benchmarks.scenarios.supervised import class_incremental_benchmark
from torch.utils.data import Dataset


def seeded_class_order(n_classes: int, seed: int) -> list[int]:
    """The class order of ``seed``: a permutation drawn from a generator seeded with it (the same
    order Avalanche's older ``nc_benchmark(seed=seed)`` drew, without touching the global RNG)."""
    return torch.randperm(n_classes, generator=torch.Generator().manual_seed(seed)).tolist()


def class_incremental_stream(train: Dataset, test: Dataset, n_experiences: int, class_order: list[int]):
    """An Avalanche benchmark with ``train_stream`` and ``test_stream`` of ``n_experiences``
    experiences, taking the classes in ``class_order`` (the datasets need a ``targets`` list)."""
    return class_incremental_benchmark({"train": train, "test": test}, class_order=list(class_order),
                                       num_experiences=n_experiences)

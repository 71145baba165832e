"""Resuming a strategy in the middle of a stream: Avalanche's checkpointing, written atomically.

:func:`save_strategy` stores everything Avalanche's ``save_checkpoint`` stores (the strategy with
its model, optimiser, plugins and their memories, the evaluator's metric history, and the global
RNG states) through a temporary file and a rename, so a run killed while saving keeps its previous
checkpoint. dill cannot pickle torch 2.14's optimiser classes by value, so optimisers are pickled
by their import name and state instead.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import dill
import torch
from avalanche.checkpointing import maybe_load_checkpoint, save_checkpoint

from itgan_replay.io import StoredFileError


def _rebuild_optimizer(qualified_name: str, state: dict) -> torch.optim.Optimizer:
    module, name = qualified_name.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    optimizer = cls.__new__(cls)
    optimizer.__setstate__(state)
    return optimizer


def _pickle_optimizer(pickler, optimizer: torch.optim.Optimizer) -> None:
    cls = type(optimizer)
    pickler.save_reduce(_rebuild_optimizer, (f"{cls.__module__}.{cls.__qualname__}", optimizer.__getstate__()),
                        obj=optimizer)


def save_strategy(strategy, path: str | os.PathLike) -> None:
    """Checkpoint ``strategy`` after a training experience (never inside ``train`` or ``eval``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if type(strategy.optimizer) not in dill.Pickler.dispatch:
        dill.register(type(strategy.optimizer))(_pickle_optimizer)
    tmp = path.with_name(path.name + ".tmp")
    save_checkpoint(strategy, tmp)
    tmp.replace(path)


def load_strategy(strategy, path: str | os.PathLike):
    """``(strategy, next experience)`` from the checkpoint at ``path``; ``(strategy, 0)`` if there is none.

    Raises:
        StoredFileError: the file is not a readable checkpoint (remove it to start over).
    """
    try:
        return maybe_load_checkpoint(strategy, str(path))
    except Exception as err:  # torch.load/dill raise many kinds on a truncated or foreign file
        raise StoredFileError(f"{path} is not a readable strategy checkpoint ({type(err).__name__}: {err}); "
                              "remove it to restart this method from its first experience") from err

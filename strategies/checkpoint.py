"""Resuming a strategy in the middle of a stream: Avalanche's checkpointing in a checked, atomic file.

:func:`save_strategy` stores everything Avalanche's ``save_checkpoint`` stores (the strategy with
its model, optimiser, plugins and their memories, the evaluator's metric history, and the global
RNG states) inside the project's file container (kind ``strategy-ckpt``, a version and a checksum),
written through a uniquely named temporary file, fsync and a rename, so a run killed while saving
keeps its previous checkpoint, and a truncated or corrupt file is refused before anything is
unpickled. The run settings are stored beside the strategy as plain data, so a resume checks them
(:func:`checkpoint_settings`) without unpickling. Bare Avalanche checkpoints (no version, no
checksum: what earlier itgan-replay wrote) are refused with a message.

Security: the strategy inside is a dill pickle, and loading it runs code from the file. The
container's checksum detects corruption, not tampering: load only checkpoints you wrote yourself
or that come from a source you trust.

dill cannot pickle torch 2.14's optimiser classes by value, so optimisers are pickled by their
import name and state instead.
"""
from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import dill
import torch
from avalanche.checkpointing import maybe_load_checkpoint, save_checkpoint

from itgan_replay.memory.files import MAGIC, StoredFileError, load_checked, save_checked

CHECKPOINT_KIND = "strategy-ckpt"
CHECKPOINT_VERSION = 1


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


def save_strategy(strategy, path: str | os.PathLike, run_settings: dict) -> None:
    """Checkpoint ``strategy`` after a training experience (never inside ``train`` or ``eval``), with
    the ``run_settings`` (plain data) that a resume must match."""
    if type(strategy.optimizer) not in dill.Pickler.dispatch:
        dill.register(type(strategy.optimizer))(_pickle_optimizer)
    buf = io.BytesIO()
    save_checkpoint(strategy, buf)
    save_checked(path, CHECKPOINT_KIND, CHECKPOINT_VERSION,
                 {"run_settings": run_settings, "avalanche_checkpoint": buf.getvalue()})


def _read(path: Path) -> dict:
    try:
        return load_checked(path, CHECKPOINT_KIND, CHECKPOINT_VERSION)[1]
    except StoredFileError as err:
        old = path.read_bytes()[:len(MAGIC)] != MAGIC
        why = "it has no version and checksum (a bare Avalanche checkpoint, as older itgan-replay wrote)" if old else err
        raise StoredFileError(f"{path} cannot be resumed: {why}; remove it to restart this method from its first "
                              "experience") from err


def checkpoint_settings(path: str | os.PathLike) -> dict | None:
    """The run settings saved with the checkpoint at ``path`` (None if there is no file), read and
    checked (format, version, checksum) without unpickling anything.

    Raises:
        StoredFileError: the file is truncated, corrupt, or of another kind or version.
    """
    path = Path(path)
    return _read(path)["run_settings"] if path.exists() else None


def load_strategy(strategy, path: str | os.PathLike):
    """``(strategy, next experience)`` from the checkpoint at ``path``; ``(strategy, 0)`` if there is none.

    Unpickles the strategy, which runs code from the file: use only checkpoints from a trusted source.

    Raises:
        StoredFileError: the file is truncated, corrupt, of another kind or version, or not a
            readable strategy checkpoint (remove it to start over).
    """
    path = Path(path)
    if not path.exists():
        return strategy, 0
    payload = _read(path)
    try:
        return maybe_load_checkpoint(strategy, io.BytesIO(payload["avalanche_checkpoint"]))
    except Exception as err:  # dill raises many kinds on a foreign payload (e.g. moved modules)
        raise StoredFileError(f"{path} is not a readable strategy checkpoint ({type(err).__name__}: {err}); "
                              "remove it to restart this method from its first experience") from err

"""Condensation jobs spread over processes and machines with ``torch.distributed``.

A (class, subset) :class:`~itgan_replay.condensation.condense.CondenseJob` gets the same latents
whichever jobs run beside it (its steps are keyed by the run's seed, the step and the
job), so ranks split the job list deterministically, run their share one job at a
time, and rank 0 gathers the latents: the result equals a single-process
:func:`run_jobs` bit for bit on CPU (with the same number of intra-op threads). Each
rank records its finished jobs in its own shard file (rewritten atomically after every
job), so a restarted run skips them and a killed rank loses only the job it was running.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch
import torch.distributed as dist

from itgan_replay.condensation.condense import CondenseJob, Condenser, JobProgressFn, assemble
from itgan_replay.memory.files import KeyedFile, state_fingerprint

SHARD_KIND = "condense-shard"
SHARD_VERSION = 3  # 2: steps keyed by (seed, step); 3: a KeyedFile. Shards of earlier code are refused


class ShardMergeError(ValueError):
    """Shards do not cover the planned jobs exactly once."""


def assign(jobs: Sequence[CondenseJob], world_size: int) -> list[list[CondenseJob]]:
    """Deterministic, size-balanced split: largest jobs first, each to the least-loaded rank (lowest rank on ties)."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    shares: list[list[CondenseJob]] = [[] for _ in range(world_size)]
    load = [0] * world_size
    for job in sorted(jobs, key=lambda j: (-len(j.indices), j.key)):
        rank = min(range(world_size), key=lambda r: (load[r], r))
        shares[rank].append(job)
        load[rank] += len(job.indices)
    return shares


def plan_digest(condenser: Condenser, jobs: Sequence[CondenseJob]) -> str:
    """Identifies the work: generator (and how it is stored), the embedding nets' shapes, the pool's and the
    inversion net's weights, condensation, inversion and latent storage settings, and every job."""
    nets = {"embedding": [list(t.shape) for t in condenser.sampler.net.state_dict().values()],
            "pool": [state_fingerprint(net) for net in condenser.sampler.pool or []],
            "inversion_net": state_fingerprint(condenser.inversion_net.state_dict()) if condenser.inversion_net else None}
    spec = {"generator": condenser.generator.fingerprint, "generator_storage": str(condenser.generator.storage_dtype),
            "codec": condenser.codec.name if condenser.codec else None, "config": asdict(condenser.config), **nets,
            "inversion": asdict(condenser.inversion) if condenser.inversion else None,
            "jobs": [[j.label, j.subset, list(j.indices), j.seed] for j in jobs]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _key(job_key: tuple[int, int]) -> str:
    return f"{job_key[0]}:{job_key[1]}"


def merge_shards(shards: Sequence[dict[str, torch.Tensor]], jobs: Sequence[CondenseJob]) -> dict[tuple[int, int], torch.Tensor]:
    """Combine shard contents into one result per job.

    Raises:
        ShardMergeError: a job found in several shards, a job missing, or a job not in the plan.
    """
    planned = {_key(j.key): j.key for j in jobs}
    merged: dict[tuple[int, int], torch.Tensor] = {}
    for shard in shards:
        for key, latents in shard.items():
            if key not in planned:
                raise ShardMergeError(f"job {key} is in a shard but not in the plan")
            if planned[key] in merged:
                raise ShardMergeError(f"job {key} is in more than one shard; remove stale shard files and rerun")
            merged[planned[key]] = latents
    missing = [k for k, v in planned.items() if v not in merged]
    if missing:
        raise ShardMergeError(f"{len(missing)} job(s) have no result: {missing[:5]}; rerun to finish them")
    return merged


def run_distributed(condenser: Condenser, jobs: Sequence[CondenseJob], real: dict[int, torch.Tensor],
                    shard_dir: str | os.PathLike, progress: JobProgressFn | None = None
                    ) -> tuple[dict[int, torch.Tensor] | None, int]:
    """Run this rank's share of ``jobs`` and gather everything on rank 0.

    Uses the default process group when one is initialised (else runs as the only rank).
    Returns ``(latents per class on rank 0 / None elsewhere, number of jobs run in this call)``.
    """
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    shard = KeyedFile(Path(shard_dir) / f"shard-rank{rank:04d}-of{world:04d}.pt", SHARD_KIND, SHARD_VERSION,
                      {"plan": plan_digest(condenser, jobs)}, "use a new --shard-dir or remove the old shards")
    done = shard.load()
    ran = 0
    for job in assign(jobs, world)[rank]:
        if _key(job.key) in done:
            continue
        done[_key(job.key)] = condenser.run_job(job, real[job.label], progress)
        shard.save(done)
        ran += 1
    gathered: list[dict[str, torch.Tensor]] | None = [done]
    if world > 1:
        gathered = [{} for _ in range(world)] if rank == 0 else None
        dist.gather_object(done, gathered, dst=0)
        dist.barrier()  # every rank leaves together: none tears its connections down while rank 0 still reads them
    if rank != 0:
        return None, ran
    return assemble(jobs, merge_shards(gathered, jobs)), ran

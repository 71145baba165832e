r"""Condense a whole dataset into a latent memory, on one process or many (torchrun).

    python experiments/condense_dataset.py --generator G.pt --dataset imagefolder:PATH --out memory.pt
    torchrun --nproc_per_node=N experiments/condense_dataset.py --generator G.pt --dataset cifar100 --out memory.pt
    torchrun --nnodes=2 --node_rank=R --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \
        experiments/condense_dataset.py ...

The (class, subset) jobs are split over the ranks deterministically and balanced by
size; rank 0 writes the merged LatentMemory. Finished jobs are kept in per-rank shard
files under --shard-dir, so rerunning the same command after a crash skips them.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from experiments.cli import (HelpFormatter, UsageError, add_config_options, add_dataset_options, add_recipe_options,
                             config_from_args, load_dataset_from_args, recipe_from_args, require_at_least,
                             require_generator_of)
from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.distributed import ShardMergeError, run_distributed
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.recipe import LatentRecipe, build_latents
from itgan_replay.data import DatasetError
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError
from itgan_replay.memory.latent import LatentMemory
from strategies.itgan_plugin import ITGANReplayConfig

RECIPE_OPTIONS = ("init", "inversion_net", "inversion_net_epochs", "embedding_arch", "embedding_width")
STORAGE_OPTIONS = ("storage_dtype", "generator_dtype")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--generator", type=Path, required=True, help="generator file from experiments/pretrain_generator.py")
    add_dataset_options(p)
    p.add_argument("--out", type=Path, required=True, help="latent memory file written by rank 0")
    p.add_argument("--shard-dir", type=Path, help="per-rank shards of finished jobs (default: OUT + '.shards')")
    p.add_argument("--latents-per-class", type=int, default=100, help="latents per class (capped at the class's image count)")
    add_recipe_options(p, only=RECIPE_OPTIONS)
    add_config_options(p, ITGANReplayConfig, only=STORAGE_OPTIONS)
    p.add_argument("--backend", choices=["gloo", "nccl"], help="torch.distributed backend (default: nccl on GPUs, else gloo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the image order and of every job")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def checked_config(args: argparse.Namespace) -> ITGANReplayConfig:
    """The settings of ``args`` (the main job's config classes and option names), every option checked
    before anything loads (ValueError)."""
    require_at_least(args, {"latents_per_class": 1, "embedding_width": 1, "inversion_steps": 0})
    base = LatentRecipe(condense=CondenseConfig(), inversion=InversionConfig())  # the classes' defaults (the paper's)
    recipe = recipe_from_args(args, base, only=RECIPE_OPTIONS)
    return config_from_args(args, ITGANReplayConfig(recipe), only=STORAGE_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = checked_config(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    distributed = "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    device = "cpu"
    if backend == "nccl":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if distributed:
        dist.init_process_group(backend)
    rank = dist.get_rank() if distributed else 0
    try:
        generator = FrozenGenerator.load(args.generator, device=device).stored_as(GENERATOR_STORAGE_DTYPES[config.generator_dtype])
        train, _ = load_dataset_from_args(args)
        require_generator_of(generator, train)
        train = train.with_stats(generator.mean_values, generator.std_values)
        classes = list(range(len(train.class_names)))
        memory = LatentMemory(generator, config.storage_dtype, generator.storage_dtype)
        shard_dir = args.shard_dir or args.out.with_name(args.out.name + ".shards")
        ran = []

        def distributed_runner(condenser, jobs, real, progress):
            latents, n = run_distributed(condenser, jobs, real, shard_dir, progress=progress)
            ran.append(n)
            return latents

        with tqdm(disable=args.no_progress or rank != 0, desc="condense", unit="step") as bar:  # steps of all jobs
            built = build_latents(generator, train.normalize(train.images), train.labels, classes, args.latents_per_class,
                                  config.recipe, args.seed, memory.condense_codec,
                                  progress=lambda job, step, loss: bar.update(1), runner=distributed_runner)
        latents = built.latents  # None on the ranks that do not gather
        print(f"rank {rank}: ran {ran[0]} job(s)", flush=True)
        if latents is not None:
            for c, z in latents.items():
                memory.add(c, z)
            memory.save(args.out)
            print(f"wrote {args.out}: {len(memory)} latents of {len(classes)} classes, {memory.latent_bytes:,} latent bytes "
                  f"+ {memory.generator_bytes:,} generator bytes")
        return 0
    except (UsageError, DatasetError, StoredFileError, ShardMergeError, FileNotFoundError) as err:
        print(f"error (rank {rank}): {err}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())

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

from experiments.cli import add_dataset_options, require_at_least
from itgan_replay.condensation.condense import PRECISIONS, CondenseConfig, Condenser, class_image_sets, plan_jobs
from itgan_replay.condensation.distributed import ShardMergeError, run_distributed
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.nets import EmbeddingSampler
from itgan_replay.data import DatasetError, load_dataset
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError
from itgan_replay.memory.latent import STORAGE_DTYPES, LatentMemory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", type=Path, required=True, help="generator file from experiments/pretrain_generator.py")
    add_dataset_options(p)
    p.add_argument("--out", type=Path, required=True, help="latent memory file written by rank 0")
    p.add_argument("--shard-dir", type=Path, help="per-rank shards of finished jobs (default: OUT + '.shards')")
    p.add_argument("--latents-per-class", type=int, default=100, help="latents per class (capped at the class's image count)")
    p.add_argument("--iterations", type=int, default=5000, help="condensation iterations per job (paper: 5,000)")
    p.add_argument("--subset-size", type=int, default=500, help="latents per job (paper: 500 on CIFAR-100, 1,250 on CIFAR-10)")
    p.add_argument("--split", default="fixed", choices=["fixed", "random"], help="fixed subsets, or re-split every step")
    p.add_argument("--lam", type=float, default=0.0, help="weight of the paired regulariser R (Eq. 4)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the latents")
    p.add_argument("--real-batch", type=int, default=256, help="real images per step")
    p.add_argument("--init", default="inversion", choices=["inversion", "random"], help="latent initialisation")
    p.add_argument("--inversion-steps", type=int, default=300, help="GAN inversion steps")
    p.add_argument("--embedding-width", type=int, default=128, help="ConvNet embedding width")
    p.add_argument("--real-dtype", default="float32", choices=list(PRECISIONS),
                   help="precision of the real images' embeddings (the matching targets, no gradient); bfloat16 is "
                        "faster where bf16 is native (GPUs, AVX512-BF16/AMX CPUs) and many times slower elsewhere")
    p.add_argument("--input-grad-dtype", default="float32", choices=list(PRECISIONS),
                   help="precision of the operands of the embedding net's convolution input gradients (float32 sums); "
                        "bfloat16: as --real-dtype")
    p.add_argument("--compile", action="store_true",
                   help="run the embedding nets through torch.compile (needs a C++ compiler on CPU; compiling takes "
                        "about half a minute)")
    p.add_argument("--storage-dtype", default="float32", choices=list(STORAGE_DTYPES), help="how latents are stored")
    p.add_argument("--generator-dtype", default="float32", choices=list(GENERATOR_STORAGE_DTYPES),
                   help="how the memory stores (and counts) the generator's weights; latents are condensed against "
                        "exactly those rounded weights")
    p.add_argument("--backend", choices=["gloo", "nccl"], help="torch.distributed backend (default: nccl on GPUs, else gloo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the image order and of every job")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def checked_config(args: argparse.Namespace) -> CondenseConfig:
    """The condensation settings of ``args``, every option checked before anything loads (ValueError)."""
    require_at_least(args, {"latents_per_class": 1, "embedding_width": 1, "inversion_steps": 0})
    return CondenseConfig(iterations=args.iterations, lr=args.lr, lam=args.lam, real_batch=args.real_batch,
                          subset_size=args.subset_size, split=args.split, real_dtype=args.real_dtype,
                          input_grad_dtype=args.input_grad_dtype, compile=args.compile)


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
        generator = FrozenGenerator.load(args.generator, device=device).stored_as(GENERATOR_STORAGE_DTYPES[args.generator_dtype])
        train, _ = load_dataset(args.dataset, args.data_root)
        train = train.with_stats(generator.mean_values, generator.std_values)
        classes = list(range(len(train.class_names)))
        real = class_image_sets(train.normalize(train.images), train.labels, classes, args.seed)
        jobs = plan_jobs({c: min(args.latents_per_class, len(real[c])) for c in classes}, config, args.seed)
        memory = LatentMemory(generator, args.storage_dtype, generator.storage_dtype)
        condenser = Condenser(generator, EmbeddingSampler("convnet", len(classes), args.embedding_width, device=device),
                              config, inversion=InversionConfig(args.inversion_steps) if args.init == "inversion" else None,
                              codec=memory.condense_codec)
        with tqdm(total=len(jobs) * args.iterations, disable=args.no_progress or rank != 0, desc="condense") as bar:
            latents, ran = run_distributed(condenser, jobs, real, args.shard_dir or args.out.with_name(args.out.name + ".shards"),
                                           progress=lambda job, step, loss: bar.update(1))
        print(f"rank {rank}: ran {ran} job(s)", flush=True)
        if latents is not None:
            for c, z in latents.items():
                memory.add(c, z)
            memory.save(args.out)
            print(f"wrote {args.out}: {len(memory)} latents of {len(classes)} classes, {memory.latent_bytes:,} latent bytes "
                  f"+ {memory.generator_bytes:,} generator bytes")
        return 0
    except (DatasetError, StoredFileError, ShardMergeError, FileNotFoundError) as err:
        print(f"error (rank {rank}): {err}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())

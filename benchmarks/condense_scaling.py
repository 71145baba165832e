"""Condensation wall time on 1 and 2 (or more) processes for the same jobs, via torch.distributed.

    python benchmarks/condense_scaling.py [--procs 1 2] [--classes 4] [--latents 100] [--subset 50] [--iterations 5]

Each process uses one intra-op thread, so N processes use N cores. The jobs are timed
between two barriers (process start-up excluded), and the merged latents of every
process count are checked to be identical to the 1-process result.
On a GPU node: ``--backend nccl`` puts one process on each GPU (``--procs`` up to the
GPU count); for several nodes use experiments/condense_dataset.py under torchrun instead.
"""
from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benchmarks.common import report
from itgan_replay.condensation.condense import CondenseConfig, Condenser, plan_jobs
from itgan_replay.condensation.distributed import run_distributed
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.nets import EmbeddingSampler
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig


def worker(rank: int, world: int, port: int, args: argparse.Namespace, out: Path) -> None:
    torch.set_num_threads(1)
    device = f"cuda:{rank}" if args.backend == "nccl" else "cpu"
    if args.backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(args.backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    generator = FrozenGenerator(Generator(GeneratorConfig(n_classes=args.classes, ch=args.ch)), (0.5,) * 3, (0.5,) * 3,
                                device=device)
    g = torch.Generator().manual_seed(1)
    real = {c: torch.randn(max(args.latents, args.real), 3, 32, 32, generator=g) for c in range(args.classes)}
    config = CondenseConfig(iterations=args.iterations, real_batch=args.real, subset_size=args.subset)
    condenser = Condenser(generator, EmbeddingSampler("convnet", args.classes, args.width, device=device), config,
                          inversion=InversionConfig(steps=args.inversion_steps))
    jobs = plan_jobs({c: args.latents for c in range(args.classes)}, config)
    dist.barrier()
    start = time.perf_counter()
    latents, _ = run_distributed(condenser, jobs, real, out / "shards")
    dist.barrier()
    if rank == 0:
        torch.save({"seconds": time.perf_counter() - start, "latents": latents, "jobs": len(jobs)}, out / "result.pt")
    dist.destroy_process_group()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts to time")
    p.add_argument("--classes", type=int, default=4, help="classes")
    p.add_argument("--latents", type=int, default=100, help="latents per class")
    p.add_argument("--subset", type=int, default=50, help="latents per job")
    p.add_argument("--iterations", type=int, default=5, help="condensation iterations per job")
    p.add_argument("--inversion-steps", type=int, default=5, help="inversion steps per job")
    p.add_argument("--real", type=int, default=128, help="real images per step")
    p.add_argument("--ch", type=int, default=8, help="generator width")
    p.add_argument("--width", type=int, default=64, help="ConvNet embedding width")
    p.add_argument("--backend", default="gloo", choices=["gloo", "nccl"], help="gloo (CPU) or nccl (one GPU per process)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/condense_scaling.json"), help="JSON output")
    args = p.parse_args()
    rows, first = [], None
    for n in args.procs:
        with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            mp.spawn(worker, args=(n, port, args, Path(tmp)), nprocs=n)
            result = torch.load(Path(tmp) / "result.pt", weights_only=True)
        first = first or result
        same = all(torch.equal(result["latents"][c], first["latents"][c]) for c in first["latents"])
        rows.append({"procs": n, "jobs": result["jobs"], "seconds": result["seconds"],
                     "speedup": first["seconds"] / result["seconds"], "identical_to_first": same})
        print(f"  {n} process(es): {result['seconds']:.1f} s", flush=True)
    report(rows, ["procs", "jobs", "seconds", "speedup", "identical_to_first"], args.out,
           vars(args))


if __name__ == "__main__":
    main()

"""Condensation step time: 10 classes x 100 latents, 256 real images per class, ConvNet-128 embeddings.

    python benchmarks/condense_step.py [--ch 8] [--steps 3] [--subset-sizes 25 50 100 200] [--out benchmarks/results/condense.json]

Row ``all-classes``: seconds for one condensation step of every class (10 jobs of 100
latents, run one after another). Rows ``subset=N``: seconds per step of one job of N
latents, and that time relative to the 100-latent job measured in the same run.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.common import add_network_options, report
from itgan_replay.condensation.condense import CondenseConfig, Condenser, plan_jobs, run_jobs
from itgan_replay.condensation.nets import EmbeddingSampler
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig


def step_seconds(condenser: Condenser, sizes: dict[int, int], real: dict[int, torch.Tensor]) -> float:
    """Seconds per condensation step of all the jobs of ``sizes`` (random initial latents), after a warm-up job."""
    jobs = plan_jobs(sizes, condenser.config)
    run_jobs(condenser, jobs[:1], real)
    start = time.perf_counter()
    run_jobs(condenser, jobs, real)
    return (time.perf_counter() - start) / condenser.config.iterations


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_options(p, 128, "ConvNet embedding width")
    p.add_argument("--classes", type=int, default=10, help="classes")
    p.add_argument("--latents", type=int, default=100, help="latents per class")
    p.add_argument("--real", type=int, default=256, help="real images per class and per step")
    p.add_argument("--steps", type=int, default=3, help="timed steps per job (after one warm-up job)")
    p.add_argument("--subset-sizes", type=int, nargs="+", default=[25, 50, 100, 200], help="latents per job for scaling")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where to run")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/condense.json"), help="JSON output")
    args = p.parse_args()
    torch.manual_seed(0)
    generator = FrozenGenerator(Generator(GeneratorConfig(n_classes=args.classes, ch=args.ch, img_size=args.image_size)), (0.5,) * 3, (0.5,) * 3,
                                device=args.device)
    config = CondenseConfig(iterations=args.steps, real_batch=args.real, subset_size=max(args.subset_sizes + [args.latents]))
    condenser = Condenser(generator, EmbeddingSampler("convnet", args.classes, args.width, device=args.device,
                                                          image_size=args.image_size), config,
                          inversion=None)
    real = {c: torch.randn(max(args.real, max(args.subset_sizes)), 3, args.image_size, args.image_size)
            for c in range(args.classes)}
    rows = [{"case": "all-classes", "latents_per_job": args.latents, "jobs": args.classes,
             "s_per_step": step_seconds(condenser, {c: args.latents for c in range(args.classes)}, real)}]
    for n in args.subset_sizes:
        rows.append({"case": f"subset={n}", "latents_per_job": n, "jobs": 1,
                     "s_per_step": step_seconds(condenser, {0: n}, real)})
    ref = next((r["s_per_step"] for r in rows[1:] if r["latents_per_job"] == args.latents), None)
    for r in rows[1:]:
        r["relative_to_%d" % args.latents] = r["s_per_step"] / ref if ref else None
    report(rows, ["case", "latents_per_job", "jobs", "s_per_step", f"relative_to_{args.latents}"], args.out, vars(args))


if __name__ == "__main__":
    main()

"""Condensation step time of the project (IT-GAN, latents) against the reference DM implementation (pixels).

    python benchmarks/condense_vs_dm.py --reference PATH/TO/DatasetCondensation [--ipc 50] [--steps 5]

The reference is a checkout of https://github.com/VICO-UoE/DatasetCondensation (kept outside this
project; nothing of it is copied here). Its ``main_DM.py`` runs unchanged in a child process: only
``utils.get_dataset`` is replaced by generated data (the reference downloads CIFAR-10 otherwise),
and ``utils.get_network`` is wrapped to take a timestamp, because ``main_DM.py`` draws one fresh
ConvNet per step: a step's time is the gap between two draws (median over the timed steps).

Both sides do the same work per step: ``--classes`` classes, ``--ipc`` synthetic images (latents)
per class, ``--real`` real images per class, a freshly drawn ConvNet-128 (instance norm), DSA, and
distribution matching of mean embeddings. The reference optimises pixels and loops over the
classes inside one step with one backward pass; the project condenses one job per class together
(one embedding net per step for all of them, each job's images in chunks of its own), and every job
also runs the generator forward and backward. Without ``--reference`` the comparison is skipped, and
the table says so.

One row per ``--variants`` entry: the embedding net ``eager`` or ``compiled`` by ``torch.compile``
(``CondenseConfig.compile``), optionally with ``+bf16-targets`` (the real images' embeddings, which
take no gradient, in bfloat16: ``CondenseConfig.real_dtype``) and ``+bf16-grads`` (the convolutions'
input gradients of the synthetic branch from bfloat16 operands: ``CondenseConfig.input_grad_dtype``).
The reference runs as it is (eager, float32).

The machine's speed drifts by about 10% over minutes, so the sides alternate: ``--rounds`` rounds,
each timing every variant and then the reference, and each ratio is the median over the rounds of
that round's ratio (the per-round values are in the JSON). ``setup_and_warmup_s`` is the first
round's untimed warm-up job, which includes compiling (less when inductor's on-disk cache is warm).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import child_json, report
from benchmarks.condense_step import step_seconds
from itgan_replay.condensation.condense import CondenseConfig, Condenser
from itgan_replay.condensation.nets import EmbeddingSampler
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig

VARIANTS = ["eager", "compiled", "compiled+bf16-targets", "compiled+bf16-targets+bf16-grads"]
CHOICES = [base + flags for base in ("eager", "compiled") for flags in ("", "+bf16-targets", "+bf16-grads", "+bf16-targets+bf16-grads")]
REFERENCE_PLACEHOLDER = "PATH/TO/DatasetCondensation (a checkout of VICO-UoE/DatasetCondensation)"


def reference_worker(reference: Path, classes: int, ipc: int, real: int, steps: int) -> dict:
    """Run the reference ``main_DM.py`` for ``steps`` iterations on generated data; return its step times."""
    sys.path.insert(0, str(reference))
    import utils  # the reference's module

    draws: list[float] = []
    get_network = utils.get_network

    def timed_get_network(*args, **kwargs):
        draws.append(time.perf_counter())
        return get_network(*args, **kwargs)

    def generated_dataset(dataset, data_path):
        g = torch.Generator().manual_seed(0)
        train = utils.TensorDataset(torch.randn(classes * real, 3, 32, 32, generator=g), torch.arange(classes).repeat(real))
        test = utils.TensorDataset(torch.randn(classes, 3, 32, 32, generator=g), torch.arange(classes))
        loader = torch.utils.data.DataLoader(test, batch_size=256, shuffle=False)
        return 3, (32, 32), classes, [str(c) for c in range(classes)], [0.5] * 3, [0.5] * 3, train, test, loader

    utils.get_network, utils.get_dataset = timed_get_network, generated_dataset
    import main_DM  # binds the replaced functions

    work = tempfile.mkdtemp(prefix="dm-reference-")
    os.chdir(work)
    sys.argv = ["main_DM.py", "--dataset", "CIFAR10", "--model", "ConvNet", "--ipc", str(ipc), "--batch_real", str(real),
                "--Iteration", str(steps), "--num_exp", "1", "--num_eval", "1", "--epoch_eval_train", "0",
                "--eval_mode", "SS", "--data_path", work, "--save_path", work]
    main_DM.main()
    # draws: one evaluation net at iteration 0, then one net per step (steps + 1 of them)
    gaps = [b - a for a, b in zip(draws[2:], draws[3:])]
    return {"s_per_step": statistics.median(gaps), "timed_steps": len(gaps)}


def reference_seconds(args: argparse.Namespace) -> dict:
    """The reference's median step time and how many steps it timed, from a child process."""
    cmd = [sys.executable, __file__, "--worker", "--reference", str(args.reference), "--classes", str(args.classes),
           "--ipc", str(args.ipc), "--real", str(args.real), "--steps", str(args.steps)]
    return child_json(cmd, f"the reference main_DM.py at {args.reference}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", type=Path, help="checkout of VICO-UoE/DatasetCondensation (skipped when not given)")
    p.add_argument("--classes", type=int, default=10, help="classes")
    p.add_argument("--ipc", type=int, default=50, choices=[1, 10, 20, 30, 40, 50],
                   help="synthetic images (latents) per class (the reference's main_DM.py accepts only these)")
    p.add_argument("--real", type=int, default=256, help="real images per class and step")
    p.add_argument("--steps", type=int, default=5, help="timed steps on each side")
    p.add_argument("--ch", type=int, default=8, help="project generator width (8: the cpu pretraining preset)")
    p.add_argument("--variants", nargs="+", default=VARIANTS, choices=CHOICES, metavar="VARIANT",
                   help="one row each: 'eager' or 'compiled' embedding net (CondenseConfig.compile), then optionally "
                        "'+bf16-targets' (CondenseConfig.real_dtype) and '+bf16-grads' (CondenseConfig.input_grad_dtype); "
                        "bfloat16 pays off only where it is native. Choices: " + ", ".join(CHOICES))
    p.add_argument("--rounds", type=int, default=3, help="rounds that alternate our variants and the reference (median)")
    p.add_argument("--device", default="cpu", help="where this project's side runs (the reference picks cuda when it can)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/condense_vs_dm.json"), help="JSON output")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(reference_worker(args.reference, args.classes, args.ipc, args.real, args.steps)))
        return
    if args.rounds < 1:
        raise SystemExit(f"error: --rounds must be >= 1, got {args.rounds}")
    if args.reference is not None and not (args.reference / "main_DM.py").is_file():
        raise SystemExit(f"error: no main_DM.py in {args.reference}; pass a checkout of VICO-UoE/DatasetCondensation")
    torch.manual_seed(0)
    generator = FrozenGenerator(Generator(GeneratorConfig(n_classes=args.classes, ch=args.ch)), (0.5,) * 3, (0.5,) * 3,
                                device=args.device)
    real = {c: torch.randn(max(args.real, args.ipc), 3, 32, 32, device=args.device)  # latent i pairs image i
            for c in range(args.classes)}
    condensers = {variant: Condenser(generator, EmbeddingSampler("convnet", args.classes, 128, device=args.device),
                                     variant_config(variant, args), inversion=None) for variant in args.variants}
    sizes = {c: args.ipc for c in range(args.classes)}
    ours: dict[str, list[float]] = {variant: [] for variant in args.variants}
    reference_runs: list[dict] = []
    setup: dict[str, float] = {}
    for _ in range(args.rounds):
        for variant, condenser in condensers.items():
            start = time.perf_counter()
            ours[variant].append(step_seconds(condenser, sizes, real))
            setup.setdefault(variant, time.perf_counter() - start - args.steps * ours[variant][-1])
        if args.reference is not None:
            reference_runs.append(reference_seconds(args))
    reference = [run["s_per_step"] for run in reference_runs]
    rows = [{"implementation": f"itgan-replay {variant} (latents, generator ch={args.ch})",
             "s_per_step": statistics.median(steps),
             "ratio_to_reference": statistics.median(s / r for s, r in zip(steps, reference)) if reference else None,
             "rounds_s_per_step": steps, "setup_and_warmup_s": setup[variant]} for variant, steps in ours.items()]
    rows.append({"implementation": "DatasetCondensation main_DM.py (pixels)",
                 "s_per_step": statistics.median(reference) if reference else None,
                 "ratio_to_reference": 1.0 if reference else None, "rounds_s_per_step": reference,
                 "note": None if reference else "skipped: no --reference checkout given"})
    report(rows, ["implementation", "s_per_step", "ratio_to_reference", "setup_and_warmup_s", "note"], args.out,
           {k: v for k, v in vars(args).items() if k != "worker"}
           | {"reference": REFERENCE_PLACEHOLDER if args.reference else None,  # the checkout's path is this machine's
              "reference_timed_steps": reference_runs[-1]["timed_steps"] if reference_runs else None})


def variant_config(variant: str, args: argparse.Namespace) -> CondenseConfig:
    """The condensation settings a ``--variants`` entry names (see the module docstring)."""
    base, *flags = variant.split("+")
    return CondenseConfig(iterations=args.steps, real_batch=args.real, subset_size=args.ipc, compile=base == "compiled",
                          real_dtype="bfloat16" if "bf16-targets" in flags else "float32",
                          input_grad_dtype="bfloat16" if "bf16-grads" in flags else "float32")

if __name__ == "__main__":
    main()

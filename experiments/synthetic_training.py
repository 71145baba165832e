r"""Train classifiers from scratch on generated images only: Table 1 and Fig. 5 of the paper, in small.

    python experiments/synthetic_training.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt --per-class 10 50 --seeds 0 1 2

For every images-per-class count and seed it builds four training sets of the same size:
``real`` (real images), ``gan`` (random latents), ``inversion`` (inverted latents of those
real images) and ``itgan`` (the inverted latents after condensation), trains each architecture
on each set and tests it on the real test set. Writes ``<out>/results.json`` (every run),
``<out>/summary.json`` (mean and std over seeds) and ``<out>/accuracy.png``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from cli import add_dataset_options, save_figure
from itgan_replay.condense import CondenseConfig, Condenser, assemble, class_image_sets, plan_jobs
from itgan_replay.data import DatasetError, load_dataset
from itgan_replay.generator import FrozenGenerator
from itgan_replay.inversion import InversionConfig
from itgan_replay.io import StoredFileError, atomic_write_bytes
from itgan_replay.nets import EmbeddingSampler, accuracy, build_net, train_classifier

SOURCES = ("real", "gan", "inversion", "itgan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file of this dataset")
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 50], help="images (latents) per class")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (image choice, latents, training)")
    p.add_argument("--archs", nargs="+", default=["convnet"], help="classifiers to train: convnet, resnet18")
    p.add_argument("--width", type=int, default=64, help="classifier width")
    p.add_argument("--epochs", type=int, default=50, help="classifier training epochs")
    p.add_argument("--iterations", type=int, default=100, help="condensation iterations per job")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the latents in condensation (paper: 1e-3)")
    p.add_argument("--inversion-steps", type=int, default=100, help="inversion steps")
    p.add_argument("--lam", type=float, default=0.0, help="weight of the paired regulariser R")
    p.add_argument("--embedding-width", type=int, default=128, help="ConvNet embedding width for inversion/condensation")
    p.add_argument("--real-batch", type=int, default=256, help="real images per condensation step")
    p.add_argument("--out", type=Path, default=Path("runs/synthetic-training"), help="output folder")
    return p.parse_args(argv)


def training_sets(generator: FrozenGenerator, real: dict[int, torch.Tensor], n: int, seed: int,
                  args: argparse.Namespace) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The four same-size training sets of ``n`` images per class."""
    classes = sorted(real)
    labels = torch.arange(len(classes)).repeat_interleave(n)
    config = CondenseConfig(iterations=args.iterations, lr=args.lr, subset_size=n, real_batch=args.real_batch, lam=args.lam)
    condenser = Condenser(generator, EmbeddingSampler("convnet", len(classes), args.embedding_width), config,
                          inversion=InversionConfig(steps=args.inversion_steps))
    jobs = plan_jobs({c: n for c in classes}, config, seed)
    inverted = {job.key: condenser.initial_latents(job, real[job.label]) for job in jobs}
    condensed = {job.key: condenser.run_job(job, real[job.label], initial=inverted[job.key]) for job in jobs}
    z_random = torch.randn(len(labels), generator.config.z_dim, generator=torch.Generator().manual_seed(seed))
    latents = {"gan": z_random, "inversion": torch.cat([assemble(jobs, inverted)[c] for c in classes]),
               "itgan": torch.cat([assemble(jobs, condensed)[c] for c in classes])}
    sets = {"real": (torch.cat([real[c][:n] for c in classes]), labels)}
    sets |= {name: (generator.generate(z, labels).cpu(), labels) for name, z in latents.items()}
    return sets


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len({r["arch"] for r in summary}), figsize=(6, 4), squeeze=False)
    for ax, arch in zip(axes[0], sorted({r["arch"] for r in summary})):
        for source in SOURCES:
            rows = sorted((r for r in summary if r["arch"] == arch and r["source"] == source), key=lambda r: r["per_class"])
            ax.errorbar([r["per_class"] for r in rows], [r["mean"] for r in rows], [r["std"] for r in rows],
                        marker="o", capsize=3, label=source)
        ax.set(xscale="log", xlabel="images per class", ylabel="test accuracy", title=arch)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        generator = FrozenGenerator.load(args.generator)
        train, test = (d.with_stats(generator.mean_values, generator.std_values) for d in load_dataset(args.dataset, args.data_root))
    except (DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    test_x = test.normalize(test.images)
    results = []
    for n in args.per_class:
        for seed in args.seeds:
            start = time.time()
            real = class_image_sets(train.normalize(train.images), train.labels, range(len(train.class_names)), seed)
            sets = training_sets(generator, real, n, seed, args)
            build_s = time.time() - start
            for arch in args.archs:
                for source, (x, y) in sets.items():
                    torch.manual_seed(seed)
                    net = train_classifier(build_net(arch, len(train.class_names), args.width), x, y, args.epochs,
                                           rng=torch.Generator().manual_seed(seed))
                    results.append({"per_class": n, "seed": seed, "arch": arch, "source": source,
                                    "accuracy": accuracy(net, test_x, test.labels), "build_s": build_s})
                    print(f"n={n} seed={seed} {arch} {source}: {results[-1]['accuracy']:.4f}", flush=True)
    summary = []
    for key in sorted({(r["per_class"], r["arch"], r["source"]) for r in results}):
        accs = [r["accuracy"] for r in results if (r["per_class"], r["arch"], r["source"]) == key]
        summary.append({"per_class": key[0], "arch": key[1], "source": key[2], "mean": statistics.mean(accs),
                        "std": statistics.stdev(accs) if len(accs) > 1 else 0.0, "seeds": len(accs)})
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "results.json", json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                              "runs": results}, indent=1).encode())
    atomic_write_bytes(args.out / "summary.json", json.dumps(summary, indent=1).encode())
    plot(summary, args.out / "accuracy.png")
    for row in summary:
        print(f"{row['per_class']:>5} {row['arch']:<9} {row['source']:<10} {100 * row['mean']:.1f} ± {100 * row['std']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

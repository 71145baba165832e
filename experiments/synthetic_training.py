r"""Train classifiers from scratch on generated images only: Table 1, Fig. 5 and the ablations of the paper, in small.

    python experiments/synthetic_training.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt --per-class 10 50 --seeds 0 1 2

For every images-per-class count and seed it builds training sets of the same size:
``real`` (real images), ``gan`` (random latents), ``inversion`` (inverted latents of those
real images), ``itgan`` (the inverted latents after condensation) and IT-GAN ablations such
as ``itgan+random+lam0.01`` (all from the same inverted latents), trains each architecture on
each set and tests it on the real test set. Writes ``<out>/results.json`` after every trained
model (a rerun with the same settings skips what it holds, so more sizes, seeds, sources or
architectures can be added later), ``<out>/summary.json`` (mean and std over seeds) and
``<out>/accuracy.png``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from tqdm import tqdm

from experiments.cli import (HelpFormatter, add_dataset_options, add_recipe_options, code_version, load_dataset_from_args, recipe_from_args,
                             require_at_least, require_generator_of, save_figure)
from itgan_replay.condensation.condense import CondenseConfig, class_image_sets
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.nets import accuracy, build_net, train_classifier
from itgan_replay.condensation.recipe import LatentRecipe, build_latents
from itgan_replay.data import DatasetError
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes
from itgan_replay.seeds import over_seeds

SOURCES = ("real", "gan", "inversion", "itgan")
MODIFIERS = ("random (re-split the latents at random every step), lamX (paired regulariser weight X), pool (pooled "
             "embedding nets), bf16 (real images' embeddings in bfloat16), bf16grads (the embedding net's input gradients "
             "from bfloat16 operands), compiled (torch.compile'd embedding nets)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file of this dataset")
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 50], help="images (latents) per class")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (image choice, latents, training)")
    p.add_argument("--sources", nargs="+", default=list(SOURCES),
                   help=f"training sets: {', '.join(SOURCES)}, or an IT-GAN ablation itgan+MOD[+MOD] with MOD one of: "
                        f"{MODIFIERS}")
    p.add_argument("--archs", nargs="+", default=["convnet"], help="classifiers to train: convnet, resnet18")
    p.add_argument("--width", type=int, default=64, help="ConvNet classifier width")
    p.add_argument("--resnet-width", type=int, default=64, help="ResNet-18 classifier width (64: the standard ResNet-18)")
    p.add_argument("--epochs", type=int, default=50, help="classifier training epochs")
    p.add_argument("--batch-size", type=int, default=256, help="classifier mini-batch size")
    add_recipe_options(p, skip=("init", "embedding"), presets={"this script": BASE})
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", type=Path, default=Path("runs/synthetic-training"),
                   help="output folder; a rerun with the same settings skips the runs already in its results.json")
    return p.parse_args(argv)


BASE = LatentRecipe(condense=CondenseConfig(iterations=100, lr=1e-3, subset_size=500, real_batch=256),
                    inversion=InversionConfig(steps=100), embedding_width=128, pool_epochs=2)
"""The script's latent recipe (its options change it): subsets of 500 hold all of a class's latents at the sizes run."""


def recipe_of(source: str, base: LatentRecipe) -> LatentRecipe:
    """The recipe that builds the latents of ``source``: ``gan`` (random, as they are), ``inversion`` (inverted,
    not condensed), ``itgan`` (``base``) or ``itgan+MOD[+MOD]``. Latents inverted with one seed start every
    inverted source from the same latents."""
    uncondensed = replace(base.condense, iterations=0)
    if source == "gan":
        return replace(base, init="random", condense=uncondensed)
    if source == "inversion":
        return replace(base, condense=uncondensed)
    name, *mods = source.split("+")
    if name != "itgan":
        raise ValueError(f"unknown source '{source}'; use {', '.join(SOURCES)} or itgan+MOD ({MODIFIERS})")
    recipe, condense = base, base.condense
    for mod in mods:
        if mod == "random":
            condense = replace(condense, split="random")
        elif mod == "pool":
            recipe = replace(recipe, embedding="pool")
        elif mod == "bf16":
            condense = replace(condense, real_dtype="bfloat16")
        elif mod == "bf16grads":
            condense = replace(condense, input_grad_dtype="bfloat16")
        elif mod == "compiled":
            condense = replace(condense, compile=True)
        elif mod.startswith("lam") and re.fullmatch(r"[0-9.]+(e-?[0-9]+)?", mod[3:]):
            condense = replace(condense, lam=float(mod[3:]))
        else:
            raise ValueError(f"unknown modifier '{mod}' in '{source}'; choose from: {MODIFIERS}")
    return replace(recipe, condense=condense)


def training_sets(generator: FrozenGenerator, images: torch.Tensor, labels: torch.Tensor, n: int, seed: int,
                  sources: list[str], recipe: LatentRecipe, progress: bool) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The same-size training sets (``n`` images per class of ``images``) of ``sources``: each latent source
    built by :func:`~itgan_replay.condensation.recipe.build_latents` with the same seed, so that the real
    images and the inverted starts are the same for all."""
    classes = sorted(set(labels.tolist()))
    y = torch.tensor(classes).repeat_interleave(n)
    sets = {}
    if "real" in sources:
        real = class_image_sets(images, labels, classes, seed)
        sets["real"] = (torch.cat([real[c][:n] for c in classes]), y)
    for source in sources:
        if source == "real":
            continue
        with tqdm(disable=not progress, desc=f"n={n} seed={seed} {source}", unit="step", leave=False) as bar:
            built = build_latents(generator, images, labels, classes, n, recipe_of(source, recipe), seed,
                                  progress=lambda job, step, loss: bar.update(1))
        sets[source] = (generator.generate(torch.cat([built.latents[c] for c in classes]), y).cpu(), y)
    return sets


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs = sorted({r["arch"] for r in summary})
    fig, axes = plt.subplots(1, len(archs), figsize=(6 * len(archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        rows = [r for r in summary if r["arch"] == arch]
        ax.set_title(f"{arch} (width {rows[0]['width']})")
        sizes = sorted({r["per_class"] for r in rows})
        if len(sizes) == 1:  # one size (an ablation): one row per source
            ax.errorbar([100 * r["mean"] for r in rows], range(len(rows)), xerr=[100 * r["std"] for r in rows],
                        fmt="o", capsize=3)
            ax.set_yticks(range(len(rows)), [r["source"] for r in rows])
            ax.set(xlabel=f"test accuracy (%) at {sizes[0]} images per class")
            ax.invert_yaxis()
            ax.grid(axis="x", alpha=0.3)
            continue
        for source in sorted({r["source"] for r in rows}):
            line = sorted((r for r in rows if r["source"] == source), key=lambda r: r["per_class"])
            ax.errorbar([r["per_class"] for r in line], [100 * r["mean"] for r in line], [100 * r["std"] for r in line],
                        marker="o", capsize=3, label=source)
        ax.set(xscale="log", xlabel="images per class", ylabel="test accuracy (%)")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds of every (images per class, arch, source)."""
    summary = []
    for key in sorted({(r["per_class"], r["arch"], r["width"], r["source"]) for r in runs}):
        accs = [r["accuracy"] for r in runs if (r["per_class"], r["arch"], r["width"], r["source"]) == key]
        summary.append({"per_class": key[0], "arch": key[1], "width": key[2], "source": key[3], "seeds": len(accs)}
                       | over_seeds(accs))
    return summary


def settings_of(args: argparse.Namespace, generator: FrozenGenerator, recipe: LatentRecipe) -> dict:
    """What makes runs comparable: the data, the generator, the classifiers' training and the latent recipe
    (not which sizes, seeds, sources and classifiers are run)."""
    kept = ("dataset", "image_size", "resize", "epochs", "batch_size")
    return {k: getattr(args, k) for k in kept} | {"recipe": asdict(recipe), "code": code_version()} | generator.provenance


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_at_least(args, {"per_class": 1, "width": 1, "resnet_width": 1, "epochs": 1, "batch_size": 1})
        recipe = recipe_from_args(args, BASE, skip=("init", "embedding"))
        [recipe_of(source, recipe) for source in args.sources if source != "real"]  # checks every source
        generator = FrozenGenerator.load(args.generator)
        train, test = (d.with_stats(generator.mean_values, generator.std_values) for d in load_dataset_from_args(args))
        require_generator_of(generator, train)
        settings = settings_of(args, generator, recipe)
        results_path = args.out / "results.json"
        runs = []
        if results_path.exists():
            saved = json.loads(results_path.read_text())
            if saved.get("settings") != settings:
                raise ValueError(f"{results_path} holds runs of other settings; pass another --out or remove it")
            runs = saved["runs"]
    except (DatasetError, StoredFileError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    widths = {"convnet": args.width, "resnet18": args.resnet_width}
    done = {(r["per_class"], r["seed"], r["arch"], r["width"], r["source"]) for r in runs}
    test_x, images = test.normalize(test.images), train.normalize(train.images)
    args.out.mkdir(parents=True, exist_ok=True)
    for n in args.per_class:
        for seed in args.seeds:
            todo = [(arch, source) for arch in args.archs for source in args.sources
                    if (n, seed, arch, widths[arch], source) not in done]
            if not todo:
                print(f"n={n} seed={seed}: already done")
                continue
            start = time.time()
            sets = training_sets(generator, images, train.labels, n, seed, sorted({s for _, s in todo}), recipe,
                                 not args.no_progress)
            build_s = time.time() - start
            for arch, source in todo:
                x, y = sets[source]
                train_start = time.time()
                torch.manual_seed(seed)
                net = train_classifier(build_net(arch, len(train.class_names), widths[arch], train.image_size), x, y, args.epochs,
                                       batch_size=args.batch_size, rng=torch.Generator().manual_seed(seed))
                runs.append({"per_class": n, "seed": seed, "arch": arch, "width": widths[arch], "source": source,
                             "accuracy": accuracy(net, test_x, test.labels), "build_s": build_s,
                             "train_s": time.time() - train_start})
                atomic_write_bytes(results_path, json.dumps({"settings": settings, "generator_file": str(args.generator),
                                                             "runs": runs}, indent=1).encode())
                print(f"n={n} seed={seed} {arch}-{widths[arch]} {source}: {runs[-1]['accuracy']:.4f}", flush=True)
    summary = summarise(runs)
    atomic_write_bytes(args.out / "summary.json", json.dumps(summary, indent=1).encode())
    plot(summary, args.out / "accuracy.png")
    for row in summary:
        print(f"{row['per_class']:>5} {row['arch']:<9} {row['width']:>3} {row['source']:<22} "
              f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} ({row['seeds']} seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

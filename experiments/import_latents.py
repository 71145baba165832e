r"""Import latents released by the IT-GAN authors as an itgan-replay latent memory file.

    python experiments/import_latents.py EfficientGAN_final_CIFAR10_ConvNet_lrz0.001_exp0.pt \
        --generator generators/itgan-cifar10-exp0.pt --labels cifar10 --per-class 10 --out memories/itgan-cifar10-10.pt

The file (``z_eff_all``: IT-GAN's latents; ``z_inverse_all``: GAN inversions) holds one latent per training
image in torchvision's training-set order. ``--labels`` gives those images' labels: ``cifar10`` or ``cifar100``
(read through torchvision from ``--data-root``), or a text file of integer labels, one a line. Each chosen
class keeps ``--per-class`` latents: the first ones, or a draw seeded by ``--draw-seed``.

The authors learned these latents with every class at once, from the generator's whole training set. A
continual run may replay a class's latents only after that class's experience: give the memory to
``ITGANReplayPlugin(prepared=...)``, which adds each class when its experience ends, without condensing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from experiments.cli import HelpFormatter, UsageError
from itgan_replay.data import DatasetError, load_dataset
from itgan_replay.gan.biggan import LATENT_KEYS, latents_by_class, read_latents
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError
from itgan_replay.memory.latent import STORAGE_DTYPES, LatentMemory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("source", type=Path, help="the authors' latent file (GANInversion_final_*.pt or EfficientGAN_final_*.pt)")
    p.add_argument("--key", choices=LATENT_KEYS, help="the tensor to read (omitted: whichever of the two the file holds)")
    p.add_argument("--generator", type=Path, required=True, help="the imported generator file the latents belong to "
                                                                 "(import_generator.py)")
    p.add_argument("--labels", required=True, help="the training labels in torchvision order: cifar10, cifar100, or a text "
                                                   "file of integer labels, one a line")
    p.add_argument("--data-root", default="data", help="where torchvision's CIFAR files are (read for the labels of cifar10 and cifar100)")
    p.add_argument("--classes", default="all", help="comma-separated class indices to keep, or all")
    p.add_argument("--per-class", type=int, required=True, help="latents kept of each class")
    p.add_argument("--draw-seed", type=int, help="draw each class's latents at random with this seed (omitted: the first "
                                                 "--per-class of each class, in the dataset's order)")
    p.add_argument("--storage-dtype", default="float16", choices=STORAGE_DTYPES, help="how the memory stores its latents")
    p.add_argument("--generator-dtype", default="float16", choices=tuple(GENERATOR_STORAGE_DTYPES),
                   help="how the memory stores (and counts) the generator")
    p.add_argument("--out", type=Path, required=True, help="the latent memory file to write (atomically)")
    return p.parse_args(argv)


def training_labels(spec: str, data_root: str, generator: FrozenGenerator) -> torch.Tensor:
    """The labels that ``--labels`` names, checked against the generator's classes."""
    if spec in ("cifar10", "cifar100"):
        train, _ = load_dataset(spec, data_root)
        if train.class_names != generator.class_names:
            raise UsageError(f"the generator's classes are {generator.class_names[:3]}…, {spec}'s {train.class_names[:3]}…; "
                             "import the generator with the matching --classes")
        return train.labels
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"--labels {spec}: neither cifar10, cifar100 nor a file of labels")
    try:
        labels = torch.tensor([int(line) for line in path.read_text().split()])
    except ValueError as err:
        raise UsageError(f"--labels {path}: not one integer label a line ({err})") from err
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < generator.config.n_classes:
        raise UsageError(f"--labels {path}: labels run {int(labels.min())}..{int(labels.max())}, outside the generator's "
                         f"{generator.config.n_classes} classes")
    return labels


def import_latents(args: argparse.Namespace) -> LatentMemory:
    """Write the latent memory that the options describe, and return it."""
    generator = FrozenGenerator.load(args.generator)
    labels = training_labels(args.labels, args.data_root, generator)
    n_classes = generator.config.n_classes
    try:
        classes = list(range(n_classes)) if args.classes == "all" else [int(c) for c in args.classes.split(",")]
    except ValueError as err:
        raise UsageError(f"--classes {args.classes}: comma-separated integers or all") from err
    if bad := [c for c in classes if not 0 <= c < n_classes]:
        raise UsageError(f"--classes: {bad} outside the generator's {n_classes} classes")
    try:
        chosen = latents_by_class(read_latents(args.source, args.key), labels, classes, args.per_class, args.draw_seed)
    except ValueError as err:
        raise UsageError(str(err)) from err
    memory = LatentMemory(generator, args.storage_dtype, GENERATOR_STORAGE_DTYPES[args.generator_dtype])
    for label, latents in chosen.items():
        memory.add(label, latents)
    memory.save(args.out)
    return memory


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        memory = import_latents(args)
    except (UsageError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(memory)} latents of {len(memory.classes)} classes; {memory.latent_bytes:,} bytes of latents "
          f"({args.storage_dtype}) + {memory.generator_bytes:,} of generator ({args.generator_dtype}) = {memory.total_bytes:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

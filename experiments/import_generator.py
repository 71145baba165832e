r"""Import a generator released by the IT-GAN authors as an itgan-replay generator file.

    python experiments/import_generator.py --format itgan-biggan --classes cifar10 G_Pretrained_CIFAR10_exp0.pth \
        --out generators/itgan-cifar10-exp0.pt
    python experiments/split_cifar100.py --dataset cifar10 --preset paper --generator generators/itgan-cifar10-exp0.pt

The authors' files (VICO-UoE/IT-GAN's readme links them; nothing is downloaded here) are state dicts of a
BigGAN-CIFAR generator (G_ch 64, per-norm class embeddings). The imported file makes the same images in eval
mode, ``(G(z, y) + 1) / 2``, normalised by the dataset's statistics. ``--classes`` names the classes in the
order of the generator's labels: ``cifar10`` or ``cifar100`` (torchvision's names, and the statistics of the
authors' ``utils.get_dataset``), or a text file of names, one a line, with ``--mean`` and ``--std``.

The authors trained these generators on the whole training set of their dataset, so a stream of that dataset
replays a generator that has seen the stream's own photos; the file records it, and results say so.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from experiments.cli import HelpFormatter, UsageError
from itgan_replay.gan.biggan import KNOWN_DATASETS, generator_from_biggan, read_tensor_file
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES
from itgan_replay.memory.files import StoredFileError

FORMATS = ("itgan-biggan",)
STORAGE_BYTES = ("float32", "float16", "int8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("source", type=Path, help="the authors' generator file (G_Pretrained_*.pth)")
    p.add_argument("--format", required=True, choices=FORMATS, help="the file's format: itgan-biggan, the IT-GAN authors' "
                                                                    "BigGAN-CIFAR state dict")
    p.add_argument("--classes", required=True,
                   help="cifar10, cifar100, or a text file of class names (one a line, in the generator's label order)")
    p.add_argument("--mean", type=float, nargs=3, help="per-channel mean of the dataset in [0, 1] units (with a names "
                                                       "file; cifar10 and cifar100 have theirs)")
    p.add_argument("--std", type=float, nargs=3, help="per-channel standard deviation, as --mean")
    p.add_argument("--out", type=Path, required=True, help="the generator file to write (atomically)")
    return p.parse_args(argv)


def classes_and_stats(args: argparse.Namespace) -> tuple[list[str], tuple, tuple, str]:
    """The class names, mean, std and dataset name that ``--classes``, ``--mean`` and ``--std`` give."""
    if args.classes in KNOWN_DATASETS:
        if args.mean or args.std:
            raise UsageError(f"--classes {args.classes} has its own statistics; --mean and --std go with a names file")
        names, mean, std = KNOWN_DATASETS[args.classes]
        return list(names), mean, std, args.classes
    path = Path(args.classes)
    if not path.is_file():
        raise UsageError(f"--classes {args.classes}: neither {' nor '.join(KNOWN_DATASETS)} nor a file of class names")
    if not (args.mean and args.std):
        raise UsageError("--classes with a names file needs --mean and --std (the dataset's per-channel statistics)")
    if min(args.std) <= 0:
        raise UsageError(f"--std must be positive, got {args.std}")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise UsageError(f"--classes {path}: class names repeat")
    return names, tuple(args.mean), tuple(args.std), path.stem


def import_generator(args: argparse.Namespace) -> dict:
    """Write the imported generator; return what is printed about it."""
    names, mean, std, dataset = classes_and_stats(args)
    try:
        generator = generator_from_biggan(read_tensor_file(args.source), names, mean, std)
    except StoredFileError as err:
        raise StoredFileError(f"{args.source}: {err}" if str(args.source) not in str(err) else str(err)) from err
    digest = hashlib.sha256(args.source.read_bytes()).hexdigest()
    generator.save(args.out, extra={
        "dataset": dataset, "format": args.format, "source_file": args.source.name, "source_sha256": digest,
        "trained_on": f"the whole training set of {dataset} (by the IT-GAN authors), the photos of any stream of it included",
        "saw_stream_photos": True,
    })
    return {"classes": generator.config.n_classes, "ch": generator.config.ch, "fingerprint": generator.fingerprint,
            "bytes": {dtype: generator.stored_as(GENERATOR_STORAGE_DTYPES[dtype]).param_bytes for dtype in STORAGE_BYTES}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        info = import_generator(args)
    except (UsageError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{n:,} bytes in {dtype}" for dtype, n in info["bytes"].items())
    print(f"wrote {args.out}: {info['classes']} classes, G_ch {info['ch']}, fingerprint {info['fingerprint'][:12]}…; {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

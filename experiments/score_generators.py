r"""Score generator files by CAS on held-out photos: pretraining snapshots, or generators to compare.

    python experiments/score_generators.py generators/NAME.work/snapshots \
        --dataset imagefolder:../shared/data/imagenette-64-more --out docs/runs/NAME/cas.json

CAS (classification accuracy score): a classifier trained only on a generator's images (random latents,
``--cas-per-class`` a class) is scored on real photos, once per ``--cas-seeds`` seed. The photos are the
``--validation-per-class`` training photos per class that pretraining held out (the same seeded draw as
``pretrain_generator.py``), and the test photos. Each argument is a generator file or a folder of them
(``*.pt``, in name order). The JSON is written after every generator; a rerun with the same settings
skips the generators already in it (by fingerprint), and refuses a file of other settings.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from experiments.cli import (HelpFormatter, UsageError, add_cas_options, add_dataset_options, code_version,
                             load_dataset_from_args, require_at_least, require_generator_of)
from itgan_replay.data import DatasetError, normalize, split_validation
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.gan.quality import cas_over_seeds
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes, differences


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("generators", nargs="+", type=Path, help="generator files, or folders of them (*.pt)")
    add_dataset_options(p)
    p.add_argument("--validation-per-class", type=int, default=100,
                   help="the training photos per class that pretraining held out (default: %(default)s, as "
                        "pretrain_generator.py); 0 scores on the test photos alone")
    add_cas_options(p)
    p.add_argument("--out", type=Path, required=True, help="JSON file of the scores (written after every generator)")
    return p.parse_args(argv)


def generator_files(paths: list[Path]) -> list[Path]:
    """The files named, folders expanded to their ``*.pt`` in name order (UsageError for a missing path or an
    empty folder)."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.pt"))
            if not found:
                raise UsageError(f"{path}: no generator files (*.pt) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return files


def score(args: argparse.Namespace) -> dict:
    """Score every generator of ``args`` not yet in ``args.out``; return the file's contents."""
    try:
        require_at_least(args, {"cas_per_class": 1, "cas_epochs": 1, "cas_seeds": 1, "validation_per_class": 0})
    except ValueError as err:
        raise UsageError(str(err)) from err
    files = generator_files(args.generators)
    settings = {"dataset": args.dataset, "validation_per_class": args.validation_per_class,
                "cas_per_class": args.cas_per_class, "cas_epochs": args.cas_epochs, "cas_seeds": args.cas_seeds,
                "code": code_version()}
    saved = {"settings": settings, "rows": []}
    if args.out.exists():
        try:
            saved = json.loads(args.out.read_text())
            if not isinstance(saved, dict) or not {"settings", "rows"} <= saved.keys():
                raise ValueError("no settings and rows in it")
        except ValueError as err:
            raise UsageError(f"{args.out} is not a results file of this script ({err}); remove it or pass another --out") from err
        if saved["settings"] != settings:
            raise UsageError(f"{args.out} holds scores of other settings (they differ in "
                             f"{differences(saved['settings'], settings)}); pass another --out")
    train, test = load_dataset_from_args(args)
    photos = {"test": (test.images, test.labels)}
    if args.validation_per_class:
        _, validation = split_validation(train, args.validation_per_class, seed=0)
        photos["validation"] = (validation.images, validation.labels)
    done = {row["fingerprint"] for row in saved["rows"]}
    for path in files:
        generator = FrozenGenerator.load(path)
        if generator.fingerprint in done:
            print(f"{path}: already in {args.out}")
            continue
        require_generator_of(generator, train, str(path))
        stats = (generator.mean_values, generator.std_values)
        eval_sets = {split: (normalize(images, *stats), labels) for split, (images, labels) in photos.items()}
        scores = cas_over_seeds(generator, eval_sets, args.cas_per_class, args.cas_epochs, args.cas_seeds)
        row = {"file": str(path), "fingerprint": generator.fingerprint, "iteration": generator.extra.get("iteration"),
               "trained_on": generator.extra.get("dataset"), "cas": scores}
        saved["rows"].append(row)
        atomic_write_bytes(args.out, json.dumps(saved, indent=1).encode())
        print(f"{path}: " + ", ".join(f"CAS {split} {s['mean']:.4f} ± {s['std']:.4f}" for split, s in scores.items()),
              flush=True)
    return saved


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        score(args)
    except (UsageError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

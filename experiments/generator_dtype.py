r"""Does storing the generator and the latents in fewer bits lose anything? CAS of each storage, side by side.

    python experiments/generator_dtype.py --generator generators/demo-cifar10-cpu.pt \
        --dataset imagefolder:../shared/data/cifar10-jpeg --seeds 0 1

For each (generator storage, latent storage) pair of VARIANTS it rounds the generator's weights as a memory stores
them (``FrozenGenerator.stored_as``) and the random latents likewise, then scores the classification
accuracy (CAS: a ConvNet trained only on generated images) with the same seeds as float32, on
validation photos held out of ``--dataset``'s training photos (choose by these) and on its test photos
(report only). The validation photos must be ones the generator never saw: the held-out split of its
``-more`` folder when it was pretrained with that hold-out, or the stream's training photos. Also
records the generator's bytes and how far its images move from float32's.
Writes ``--out`` (JSON) after every storage pair and prints a table; a rerun with the same settings and
commit skips the pairs already in ``--out`` (the whole check takes hours on one CPU thread).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from experiments.cli import (HelpFormatter, add_dataset_options, code_version, load_dataset_from_args, require_at_least,
                             require_generator_of)
from itgan_replay.data import DatasetError, split_validation
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.gan.quality import classification_accuracy_scores
from itgan_replay.memory.codecs import CODECS
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes, differences

VARIANTS = (("float32", "float32"), ("float16", "float32"), ("bfloat16", "float32"), ("int8", "float32"),
            ("float16", "float16"), ("float16", "int8"), ("int8", "int8"), ("float16", "int4"))
"""(generator storage, latent storage) pairs scored, the float32 reference first."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="float32 generator file")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="CAS seeds (latents, classifier init and order)")
    p.add_argument("--validation-per-class", type=int, default=20,
                   help="training photos per class of --dataset held out to score on (a draw seeded 0, as pretraining's)")
    p.add_argument("--per-class", type=int, default=500, help="generated images per class for the CAS classifier")
    p.add_argument("--epochs", type=int, default=15, help="epochs of the CAS classifier")
    p.add_argument("--out", type=Path, default=Path("runs/generator-dtype.json"), help="JSON results file, written after every storage pair (a rerun of the same settings resumes from it)")
    return p.parse_args(argv)


def finished_rows(out: Path, header: dict) -> dict[tuple[str, str], dict]:
    """The rows an earlier run of the same settings and commit wrote to ``out``, by (generator, latent) storage.

    Raises:
        ValueError: ``out`` is not such a file, or holds another check's rows.
    """
    if not out.exists():
        return {}
    try:
        saved = json.loads(out.read_text())
        rows = saved.pop("rows")
    except (ValueError, KeyError, AttributeError) as err:
        raise ValueError(f"{out} is not a results file of this script ({err!r}); pass another --out or remove it") from err
    if saved != header:
        raise ValueError(f"{out} holds a check of other settings (they differ in {differences(saved, header)}); "
                         "pass another --out or remove it")
    return {(r["generator_dtype"], r["latent_dtype"]): r for r in rows}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_at_least(args, {"validation_per_class": 1})
        source = FrozenGenerator.load(args.generator)
        train, test = load_dataset_from_args(args)
        require_generator_of(source, train)
        _, validation = split_validation(train, args.validation_per_class, seed=0)
        header = {"generator_file": str(args.generator), **source.provenance, "dataset": args.dataset,
                  "seeds": args.seeds, "code": code_version(), "validation_per_class": args.validation_per_class,
                  "cas_per_class": args.per_class, "cas_epochs": args.epochs, "n_test": len(test)}
        done = finished_rows(args.out, header)
    except (ValueError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    eval_sets = {}
    for split, data in (("validation", validation), ("test", test)):
        data = data.with_stats(source.mean_values, source.std_values)
        eval_sets[split] = (data.normalize(data.images), data.labels)
    probe_z = torch.randn(500, source.config.z_dim, generator=torch.Generator().manual_seed(12345))
    probe_y = torch.arange(500) % source.config.n_classes
    reference = source.generate(probe_z, probe_y)
    rows = []
    for generator_dtype, latent_dtype in VARIANTS:
        if (generator_dtype, latent_dtype) in done:
            rows.append(done[generator_dtype, latent_dtype])
            print(f"{generator_dtype:>9} generator, {latent_dtype:>7} latents: already in {args.out}")
            continue
        stored = source.stored_as(GENERATOR_STORAGE_DTYPES[generator_dtype])
        diff = (stored.generate(CODECS[latent_dtype].round_trip(probe_z), probe_y) - reference).abs()
        cas = [classification_accuracy_scores(stored, eval_sets, args.per_class, args.epochs, seed=seed,
                                              latent_codec=CODECS[latent_dtype]) for seed in args.seeds]
        rows.append({"generator_dtype": generator_dtype, "latent_dtype": latent_dtype, "generator_bytes": stored.param_bytes,
                     "image_abs_diff_mean": float(diff.mean()), "image_abs_diff_max": float(diff.max())})
        for split in eval_sets:
            rows[-1][f"cas_{split}_per_seed"] = [c[split] for c in cas]
            rows[-1][f"cas_{split}_mean"] = statistics.mean(c[split] for c in cas)
        print(f"{generator_dtype:>9} generator, {latent_dtype:>7} latents: {stored.param_bytes:>9,} bytes, "
              f"|image - float32| mean {rows[-1]['image_abs_diff_mean']:.2e} max {rows[-1]['image_abs_diff_max']:.2e}, "
              f"CAS validation {rows[-1]['cas_validation_mean']:.4f}, test {rows[-1]['cas_test_mean']:.4f} "
              f"(mean of {len(args.seeds)} seeds)", flush=True)
        atomic_write_bytes(args.out, json.dumps(header | {"rows": rows}, indent=1).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

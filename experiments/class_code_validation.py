r"""Choose how class codes are fitted, on a validation split of the stream's training photos.

    python experiments/class_code_validation.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-tinyimagenet32-100-cpu.pt --preset quick --validation-per-class 200 \
        --setting s50-lr01="--code-steps 50 --code-lr 0.01" --setting s200-lr05="--code-steps 200 --code-lr 0.05" \
        --out runs/unseen-codes

Holds out ``--validation-per-class`` training photos of every class (the seeded draw of the main job's
``--validation-per-class``). For each ``--setting NAME="OPTIONS"`` (``--code-*`` options of the main job, over the
preset's) it fits every class's code on the class's other training photos, as the main job does, then inverts
``--held-out`` of the class's validation photos through that code alone (latents only, pixels only, with the preset's
inversion steps and lr). Their mean squared pixel error (in the generator's normalisation) says how near the code
reaches photos of its class that it was not fitted on. A class the generator knows by name is also scored through its
own class embedding (``own``): the reference a code is measured against. No test photo is read.

With ``--cas``, each setting's codes are also scored by how much of their class they carry: a classifier trained
only on images drawn through the codes (``--cas-per-class`` a class, every class through its code) is scored on all
the validation photos (``cas_codes``), and, where the generator knows some of the classes but not all, with the known
ones drawn through their own embeddings as the main job's ``--class-codes auto`` does (``cas_auto``). Where it knows
every class, ``own_cas`` is the classifier trained on its own embeddings' images: the reference.

Writes ``<out>/class_codes.json`` (per setting and class the error, the own errors, any CAS, and the chosen setting:
the lowest mean error over the classes; CAS does not choose) and prints the table, best first.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from experiments.cli import (HelpFormatter, UsageError, add_cas_options, add_dataset_options, add_setting_option,
                             code_version, load_dataset_from_args, parse_setting, require_at_least)
from experiments.split_cifar100 import PRESETS, preset_from_options
from itgan_replay.condensation.class_code import CodeConfig, fit_class_code, held_out_error
from itgan_replay.data import DatasetError, split_validation
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.gan.quality import cas_over_seeds
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file (any classes, the photos' image size)")
    add_setting_option(p, "--code-* options", 's50="--code-steps 50"')
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS),
                   help="main-job preset whose code and inversion settings the options modify")
    p.add_argument("--validation-per-class", type=int, default=200, help="training photos per class held out to score on")
    p.add_argument("--held-out", type=int, default=64, help="validation photos per class inverted and scored")
    p.add_argument("--seed", type=int, default=0, help="chooses the held-out photos, and seeds the fits and inversions")
    p.add_argument("--cas", action="store_true", help="also score each setting's codes by CAS on the validation photos "
                   "(the --cas-* options below)")
    add_cas_options(p)
    p.add_argument("--out", type=Path, required=True, help="folder of class_codes.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def code_settings(settings: list[str], preset: str) -> dict[str, tuple[list[str], CodeConfig]]:
    """Each ``NAME="OPTIONS"`` as (options, the preset's code settings with them).

    Raises:
        UsageError: an option that is not a ``--code-*`` one, or a bad value.
    """
    parsed = dict(parse_setting(s) for s in settings)
    out = {}
    for name, options in parsed.items():
        if other := [o for o in options if o.startswith("--") and not o.startswith("--code-")]:
            raise UsageError(f"--setting {name}: {' '.join(other)} is not a --code-* option; this script varies only "
                             "how codes are fitted")
        out[name] = options, preset_from_options(options, PRESETS[preset]).itgan.recipe.code
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_at_least(args, {"validation_per_class": 1, "held_out": 1, "cas_per_class": 1, "cas_epochs": 1,
                                "cas_seeds": 1})
        settings = code_settings(args.setting, args.preset)
        generator = FrozenGenerator.load(args.generator)
        train = load_dataset_from_args(args)[0].with_stats(generator.mean_values, generator.std_values)
        if train.image_size != generator.config.img_size:
            raise UsageError(f"the generator makes {generator.config.img_size}-pixel images; the photos are "
                             f"{train.image_size}-pixel")
        fit, validation = split_validation(train, args.validation_per_class, args.seed)
    except (ValueError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    inversion = PRESETS[args.preset].itgan.recipe.inversion
    names = train.class_names

    def scored(coded: FrozenGenerator, c: int, label: int) -> float:
        photos = validation.normalize(validation.images[validation.labels == c][:args.held_out])
        return held_out_error(coded, photos, label, inversion.steps, inversion.lr, args.seed * 1009 + c).mean().item()

    known = {c: generator.class_names.index(names[c]) for c in range(len(names)) if names[c] in generator.class_names}
    own = {names[c]: scored(generator, c, label) for c, label in known.items()}
    eval_sets = {"validation": (validation.normalize(validation.images), validation.labels)} if args.cas else {}

    def cas(coded: FrozenGenerator, draw: list[int]) -> dict:
        return cas_over_seeds(coded, eval_sets, args.cas_per_class, args.cas_epochs, args.cas_seeds, draw)

    n_labels = generator.config.n_classes
    own_cas = cas(generator, [known[c] for c in range(len(names))]) if args.cas and len(known) == len(names) else None
    rows = []
    with tqdm(total=len(settings) * len(names), disable=args.no_progress, unit="class") as bar:
        for name, (options, config) in settings.items():
            start, errors, codes = time.perf_counter(), {}, []
            for c in range(len(names)):
                codes.append(fit_class_code(generator, fit.normalize(fit.images[fit.labels == c]), config,
                                            args.seed * 1009 + c))
                errors[names[c]] = scored(generator.with_codes(codes[-1][None]), c, n_labels)
                bar.update()
            row = {"setting": name, "options": options, "code_settings": asdict(config), "errors": errors,
                   "mean_error": statistics.mean(errors.values())}
            if args.cas:  # label n_labels + c draws class c's code
                coded = generator.with_codes(torch.stack(codes))
                row["cas_codes"] = cas(coded, [n_labels + c for c in range(len(names))])
                if 0 < len(known) < len(names):
                    row["cas_auto"] = cas(coded, [known.get(c, n_labels + c) for c in range(len(names))])
            rows.append(row | {"seconds": time.perf_counter() - start})
    rows.sort(key=lambda r: r["mean_error"])
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "class_codes.json", json.dumps({
        "dataset": args.dataset, "preset": args.preset, "seed": args.seed,
        "validation_per_class": args.validation_per_class, "held_out": args.held_out,
        "scored_by": f"mean squared pixel error of held-out validation photos inverted through the class's code alone "
                     f"({inversion.steps} steps, lr {inversion.lr}, latents only)",
        "generator_file": str(args.generator), "generator": generator.fingerprint,
        "generator_classes": generator.class_names, "code": code_version(), "own": own,
        **({"cas": {"per_class": args.cas_per_class, "epochs": args.cas_epochs, "seeds": args.cas_seeds,
                    "scored_on": "every validation photo"}} if args.cas else {}),
        **({"own_cas": own_cas} if own_cas else {}), "rows": rows,
        "chosen": {"setting": rows[0]["setting"], "options": rows[0]["options"]}}, indent=1).encode())
    def shown(score: dict | None) -> str:
        return f"{100 * score['validation']['mean']:5.1f} ± {100 * score['validation']['std']:4.1f}" if score else "-"

    print(f"{'setting':<16} {'mean error':>10} {'CAS codes %':>12} {'CAS auto %':>12} {'s':>6}  options")
    for r in rows:
        print(f"{r['setting']:<16} {r['mean_error']:>10.4f} {shown(r.get('cas_codes')):>12} {shown(r.get('cas_auto')):>12} "
              f"{r['seconds']:>6.0f}  {' '.join(r['options'])}")
    if own:
        print(f"{'own embedding':<16} {statistics.mean(own.values()):>10.4f} {shown(own_cas):>12} "
              f"({len(own)} classes the generator knows)")
    print(f"chosen: {rows[0]['setting']}; wrote {args.out / 'class_codes.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

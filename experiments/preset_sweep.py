r"""Choose main-job settings on a validation split of the training photos, never on the test photos.

    python experiments/preset_sweep.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt \
        --setting lr1e-2="--condense-lr 0.01" --setting lr3e-2="--condense-lr 0.03"

Each ``--setting NAME="OPTIONS"`` is one run of the main job (run name ``<name>-NAME``,
resumable, and a rerun skips finished methods) with the given setting options, evaluated on
``--validation-per-class`` training photos per class held out from training. Writes
``<out-dir>/<name>/sweep.json`` (every setting's final average accuracy on the validation
photos, its settings and wall time) and prints the table, best first.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from experiments.cli import (HelpFormatter, add_dataset_options, add_setting_option, code_version, parse_setting,
                             require_at_least)
from experiments.split_cifar100 import PRESETS, RUN_ERRORS, StreamRun, preset_from_options, run
from itgan_replay.memory.files import atomic_write_bytes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file")
    add_setting_option(p, "the main job's setting options", 'lr3e-2="--condense-lr 0.03"')
    p.add_argument("--methods", default="itgan", help="methods of every run (comma-separated)")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="preset the options modify")
    p.add_argument("--validation-per-class", type=int, default=100, help="training photos per class held out to score on")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (also chooses the held-out photos)")
    p.add_argument("--name", default="preset-sweep", help="sweep name; runs are <name>-<setting> under --out-dir")
    p.add_argument("--out-dir", type=Path, default=Path("runs"), help="where runs are written")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    try:
        settings = dict(parse_setting(s) for s in args.setting)
        require_at_least(args, {"validation_per_class": 1})
        jobs = {label: StreamRun(args.dataset, args.preset, preset_from_options(options, PRESETS[args.preset]),
                                 args.generator, methods=methods, name=f"{args.name}-{label}", out_dir=args.out_dir,
                                 seed=args.seed, validation_per_class=args.validation_per_class,
                                 progress=not args.no_progress, data_root=args.data_root, image_size=args.image_size,
                                 resize=args.resize)
                for label, options in settings.items()}
    except (ValueError, *RUN_ERRORS) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = []
    for label, options in settings.items():
        try:
            run(jobs[label])
        except RUN_ERRORS as err:
            print(f"error: setting {label}: {err} (rerun this command to resume)", file=sys.stderr)
            return 2
        saved = json.loads((jobs[label].run_dir / "results.json").read_text())
        for method, r in saved["results"].items():
            rows.append({"setting": label, "options": options, "method": method,
                         "validation_accuracy": r["final_average_accuracy"], "stored_bytes": r["stored_bytes"],
                         "wall_s": r["wall_s"], "values": saved["settings"]["values"]})
    rows.sort(key=lambda r: -r["validation_accuracy"])
    out = args.out_dir / args.name / "sweep.json"
    fingerprints = {json.loads((job.run_dir / "results.json").read_text())["settings"].get("generator") for job in jobs.values()}
    atomic_write_bytes(out, json.dumps({"dataset": args.dataset, "generator_file": str(args.generator),
                                        "generator": sorted(f for f in fingerprints if f), "seed": args.seed,
                                        "code": code_version(),  # every run it loads was written at this commit
                                        "evaluated_on": f"{args.validation_per_class} held-out training photos per class",
                                        "rows": rows}, indent=1).encode())
    print(f"\n{'setting':<16} {'method':<10} {'validation acc':>14} {'wall s':>7}  options")
    for r in rows:
        print(f"{r['setting']:<16} {r['method']:<10} {r['validation_accuracy']:>14.4f} {r['wall_s']:>7.0f}  {' '.join(r['options'])}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

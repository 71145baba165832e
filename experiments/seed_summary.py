r"""Mean ± std over seeds of main-job runs: one table, one JSON.

    python experiments/seed_summary.py runs/quick-seed0 runs/quick-seed1 runs/quick-seed2 \
        --out docs/runs/quick-3seeds.json

Each argument is a run folder of ``split_cifar100.py`` (its ``results.json``). The runs must
differ in their seed only (it also sets the class order); the summary keeps every seed's
number beside the mean and the sample standard deviation. ``--class-group NAME=CLASS,CLASS`` adds, per method,
the accuracy on those classes alone (the mean of their final per-class accuracies), e.g. the classes the generator
knew against those it did not. ``--versus SUMMARY.json:METHOD`` compares every method with METHOD of another summary
(runs of the same seeds, dataset, preset and commit, e.g. a method that reads no generator, run once a seed) seed by
seed: the paired differences overall and on each class group, and how many seeds each is ahead on.

    python experiments/seed_summary.py runs/generic-seed{0,1,2} --out generic.json \
        --class-group pets=cat,dog --versus docs/runs/unseen/today/summary.json:exemplar
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from experiments.cli import HelpFormatter
from itgan_replay.memory.files import atomic_write_bytes
from itgan_replay.seeds import over_seeds

FIELDS = ("final_average_accuracy", "final_average_forgetting")


def group_accuracy(result: dict, classes: list[str]) -> float:
    """A method's final accuracy on ``classes`` alone: the mean of their ``final_class_accuracy``.

    Raises:
        ValueError: a class the result does not score.
    """
    scored = result.get("final_class_accuracy", {})
    if missing := [c for c in classes if c not in scored]:
        raise ValueError(f"class {', '.join(missing)} has no final per-class accuracy in the runs (classes: "
                         f"{', '.join(scored) or 'none recorded'})")
    return statistics.mean(scored[c] for c in classes)


def summarise(runs: list[dict], groups: dict[str, list[str]] | None = None) -> dict:
    """Per method: each seed's final accuracy and forgetting, their mean and std, stored bytes (both columns), and
    the accuracy on each of ``groups`` (name -> class names)."""
    base = {k: v for k, v in runs[0]["settings"].items() if k not in ("seed", "class_order")}
    for run in runs[1:]:
        other = {k: v for k, v in run["settings"].items() if k not in ("seed", "class_order")}
        if other != base:
            raise ValueError(f"runs differ in more than their seed: {sorted(k for k in base if base[k] != other.get(k))}")
    methods = [m for m in runs[0]["results"] if all(m in r["results"] for r in runs)]
    out = {}
    for m in methods:
        rows = [r["results"][m] for r in runs]
        out[m] = {"seeds": [r["settings"]["seed"] for r in runs],
                  "stored_bytes": [r["stored_bytes"] for r in rows],
                  "stored_bytes_without_generator": [r.get("stored_bytes_without_generator", r["stored_bytes"]) for r in rows],
                  "stored_samples": [r.get("stored_samples") for r in rows], "wall_s": [r["wall_s"] for r in rows]}
        for f in FIELDS:
            out[m][f] = over_seeds([r[f] for r in rows])
        if groups:
            out[m]["class_groups"] = {name: {"classes": classes} | over_seeds([group_accuracy(r, classes) for r in rows])
                                      for name, classes in groups.items()}
    files = sorted({r["generator_file"] for r in runs if r.get("generator_file")})
    return {"settings": base, **({"generator_files": files} if files else {}), "methods": out}


PAIRED_SETTINGS = ("dataset", "preset", "experiences", "evaluated_on", "normalisation", "code")


def versus(summary: dict, other: dict, method: str) -> dict:
    """Per method of ``summary``: its paired differences from ``method`` of ``other`` (both from :func:`summarise`),
    seed by seed, overall and on each class group, and on how many seeds it is ahead.

    Raises:
        ValueError: ``other`` lacks ``method`` or a class group, or its runs differ in seeds or in settings that
            decide the stream and its scoring.
    """
    if method not in other["methods"]:
        raise ValueError(f"the summary to compare with has no method {method} (it has {', '.join(other['methods'])})")
    if differ := [k for k in PAIRED_SETTINGS if summary["settings"].get(k) != other["settings"].get(k)]:
        raise ValueError(f"the summaries' runs differ in {', '.join(differ)}: a seed-by-seed comparison needs the same "
                         "stream, scoring and commit")
    reference = other["methods"][method]

    def paired(mine: dict, theirs: dict) -> dict:
        differences = [a - b for a, b in zip(mine["per_seed"], theirs["per_seed"])]
        return over_seeds(differences) | {"seeds_ahead": sum(d > 0 for d in differences)}

    out = {}
    for name, row in summary["methods"].items():
        if row["seeds"] != reference["seeds"]:
            raise ValueError(f"{name} has seeds {row['seeds']}, {method} {reference['seeds']}: compare the same seeds")
        groups = {}
        for group, accuracy in row.get("class_groups", {}).items():
            theirs = reference.get("class_groups", {}).get(group)
            if theirs is None or theirs["classes"] != accuracy["classes"]:
                raise ValueError(f"class group {group} is not the same in the summary to compare with: give it the "
                                 f"same --class-group {group}={','.join(accuracy['classes'])}")
            groups[group] = paired(accuracy, theirs)
        out[name] = {"final_average_accuracy": paired(row["final_average_accuracy"],
                                                      reference["final_average_accuracy"]), "class_groups": groups}
    return out


def versus_option(text: str) -> tuple[Path, str]:
    """``SUMMARY.json:METHOD`` as (the path, the method)."""
    path, sep, method = text.rpartition(":")
    if not sep or not path or not method:
        raise ValueError(f"--versus '{text}': write SUMMARY.json:METHOD")
    return Path(path), method


def class_group(text: str) -> tuple[str, list[str]]:
    """``NAME=CLASS,CLASS`` as (NAME, the class names)."""
    name, sep, classes = text.partition("=")
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if not sep or not name or not names:
        raise ValueError(f"--class-group '{text}': write NAME=CLASS,CLASS")
    return name, names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", help="run folders of split_cifar100.py (each with results.json)")
    p.add_argument("--out", type=Path, required=True, help="JSON summary to write")
    p.add_argument("--class-group", action="append", default=[], metavar="NAME=CLASS,CLASS",
                   help="also the accuracy on these classes alone (by name), per method; repeat for each group")
    p.add_argument("--versus", action="append", default=[], metavar="SUMMARY.json:METHOD",
                   help="also each method's seed-by-seed differences from METHOD in another summary of this script "
                        "(same seeds, dataset, preset and commit; same class groups); repeat for several")
    args = p.parse_args(argv)
    try:
        groups = dict(class_group(text) for text in args.class_group)
        runs = [json.loads((r / "results.json").read_text()) for r in args.runs]
        summary = summarise(runs, groups)
        comparisons = {}
        for text in args.versus:
            path, method = versus_option(text)
            comparisons[text] = versus(summary, json.loads(path.read_text()), method)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary["runs"] = [str(r) for r in args.runs]
    for name, by_method in comparisons.items():
        for m, difference in by_method.items():
            summary["methods"][m].setdefault("versus", {})[name] = difference
    atomic_write_bytes(args.out, json.dumps(summary, indent=1).encode())
    print(f"{'method':<10} {'final avg acc (mean ± std)':>27} {'per seed':>24} {'forgetting':>16} {'stored bytes':>13} "
          f"{'w/o generator':>13}")
    for m, r in summary["methods"].items():
        acc, fgt = r["final_average_accuracy"], r["final_average_forgetting"]
        print(f"{m:<10} {100 * acc['mean']:>19.1f} ± {100 * acc['std']:4.1f} "
              f"{' / '.join(f'{100 * v:.1f}' for v in acc['per_seed']):>24} "
              f"{100 * fgt['mean']:>9.1f} ± {100 * fgt['std']:4.1f} {max(r['stored_bytes']):>13,} "
              f"{max(r['stored_bytes_without_generator']):>13,}"
              + "".join(f"  {name} {100 * g['mean']:.1f} ± {100 * g['std']:.1f}" for name, g in r.get("class_groups", {}).items()))
    for name, by_method in comparisons.items():
        print(f"paired with {name}, seed by seed (difference in points, seeds ahead):")
        for m, d in by_method.items():
            parts = {"overall": d["final_average_accuracy"]} | d["class_groups"]
            print(f"  {m:<12}" + "".join(f"  {part} {100 * x['mean']:+.1f} ± {100 * x['std']:.1f} ({x['seeds_ahead']}/"
                                         f"{len(x['per_seed'])})" for part, x in parts.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

r"""Final accuracy against memory bytes: the main job at several byte budgets, one curve per method.

    python experiments/budget_sweep.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt --budgets 500000 1000000 1500000 2000000 3000000

Runs the main job once per budget (run name ``<name>-<budget>``, so every budget is
resumable on its own, and a rerun skips the finished methods), with the same preset, seed and
class order. A latent method cannot run below the generator's own bytes; such points are
recorded as not fitting. Writes ``<out-dir>/<name>/sweep.json`` and ``accuracy_vs_bytes.png``,
and prints where the curves cross.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from experiments.cli import HelpFormatter, UsageError, add_dataset_options, code_version, require_at_least, save_figure
from itgan_replay.data import DatasetError
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes
from itgan_replay.memory.latent import BudgetError, require_generator_fits
from experiments.split_cifar100 import PRESETS, RUN_ERRORS, StreamRun, run
from strategies.methods import GENERATOR_METHODS, METHODS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file (its bytes count against every budget)")
    p.add_argument("--budgets", type=int, nargs="+", required=True, help="memory budgets in bytes, one run each")
    p.add_argument("--methods", default="exemplar,jpeg,itgan", help=f"comma-separated subset of: {', '.join(METHODS)}")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="split_cifar100.py preset of every run")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (class order, init, sampling)")
    p.add_argument("--name", default="budget-sweep", help="sweep name; runs are <name>-<budget> under --out-dir")
    p.add_argument("--out-dir", type=Path, default=Path("runs"), help="where runs are written")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def fits(generator: FrozenGenerator, budget_bytes: int) -> bool:
    """Whether ``generator`` (as the preset's memories store it) fits ``budget_bytes``."""
    try:
        require_generator_fits(generator, budget_bytes)
        return True
    except BudgetError:
        return False


def crossings(points: dict[str, list[tuple[int, float]]], a: str, b: str) -> list[float]:
    """Budgets (bytes, linearly interpolated) where method ``a``'s accuracy minus ``b``'s changes sign."""
    acc_a, acc_b = dict(points.get(a, [])), dict(points.get(b, []))
    shared = sorted(set(acc_a) & set(acc_b))
    out = []
    for lo, hi in zip(shared, shared[1:]):
        d_lo, d_hi = acc_a[lo] - acc_b[lo], acc_a[hi] - acc_b[hi]
        if d_lo == 0:
            out.append(float(lo))
        elif d_lo * d_hi < 0:
            out.append(lo + (hi - lo) * d_lo / (d_lo - d_hi))
    if shared and acc_a[shared[-1]] == acc_b[shared[-1]]:
        out.append(float(shared[-1]))
    return out


def plot(points: dict[str, list[tuple[int, float]]], generator_bytes: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, pts in points.items():
        ax.plot([b / 1e6 for b, _ in pts], [100 * a for _, a in pts], marker="o", label=method)
    ax.axvline(generator_bytes / 1e6, color="grey", linestyle=":", label="generator bytes")
    ax.set(xlabel="memory (MB, generator included)", ylabel="final average accuracy (%)", title="Accuracy against bytes")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        if any(m not in METHODS for m in methods):
            raise UsageError(f"unknown method in {methods}; choose from {', '.join(METHODS)}")
        require_at_least(args, {"budgets": 1})
        generator = FrozenGenerator.load(args.generator).stored_as(GENERATOR_STORAGE_DTYPES[PRESETS[args.preset].itgan.generator_dtype])
    except (UsageError, ValueError, StoredFileError, DatasetError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    generator_bytes = generator.param_bytes  # as the preset's memories store it
    points: dict[str, list[tuple[int, float]]] = {m: [] for m in methods}
    runs, not_fitting = [], []
    for budget in sorted(args.budgets):
        fitting = [m for m in methods if m not in GENERATOR_METHODS or fits(generator, budget)]
        not_fitting += [{"method": m, "budget_bytes": budget} for m in methods if m not in fitting]
        if not fitting:
            continue
        job = StreamRun(args.dataset, args.preset, replace(PRESETS[args.preset], budget_bytes=budget), args.generator,
                        methods=tuple(fitting), name=f"{args.name}-{budget}", out_dir=args.out_dir, seed=args.seed,
                        progress=not args.no_progress, data_root=args.data_root, image_size=args.image_size,
                        resize=args.resize)
        try:
            results = run(job)
        except RUN_ERRORS as err:
            print(f"error: the run at {budget:,} bytes: {err} (rerun this command to resume)", file=sys.stderr)
            return 2
        for m in fitting:
            points[m].append((budget, results[m]["final_average_accuracy"]))
            runs.append({"method": m, "budget_bytes": budget, "stored_bytes": results[m]["stored_bytes"],
                         "stored_bytes_without_generator": results[m]["stored_bytes_without_generator"],
                         "final_average_accuracy": results[m]["final_average_accuracy"], "wall_s": results[m]["wall_s"]})
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
    crossed = {f"{a} vs {b}": crossings(points, a, b) for a, b in pairs}
    out = args.out_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "sweep.json", json.dumps({
        "dataset": args.dataset, "preset": args.preset, "seed": args.seed, "generator_bytes": generator_bytes,
        **generator.provenance, "generator_file": str(args.generator), "code": code_version(),  # every run it loads was written at this commit (run() refuses others)
        "runs": runs, "not_fitting": not_fitting, "crossings_bytes": crossed}, indent=1).encode())
    plot(points, generator_bytes, out / "accuracy_vs_bytes.png")
    print(f"\n{'method':<10} {'budget bytes':>13} {'stored bytes':>13} {'w/o generator':>13} {'final avg acc':>13}")
    for r in runs:
        print(f"{r['method']:<10} {r['budget_bytes']:>13,} {r['stored_bytes']:>13,} {r['stored_bytes_without_generator']:>13,} "
              f"{r['final_average_accuracy']:>13.4f}")
    for r in not_fitting:
        print(f"{r['method']:<10} {r['budget_bytes']:>13,} {'does not fit (generator is ' + format(generator_bytes, ',') + ' bytes)':>27}")
    for pair, where in crossed.items():
        print(f"{pair}: " + (", ".join(f"curves cross near {b:,.0f} bytes" for b in where) if where
                             else "curves do not cross within the budgets run"))
    print(f"wrote {out / 'sweep.json'} and {out / 'accuracy_vs_bytes.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

r"""Final accuracy against memory bytes: the main job at several byte budgets, one curve per method.

    python experiments/budget_sweep.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt --budgets 500000 1000000 1500000 2000000 3000000

Runs the main job once per budget (run name ``<name>-<budget>``, so every budget is
resumable on its own, and a rerun skips the finished methods), with the same preset, seed and
class order. A latent method cannot run below the generator's own bytes; such points are
recorded as not fitting. Writes ``<out-dir>/<name>/sweep.json`` and ``accuracy_vs_bytes.png``,
and prints where the curves cross.

Settings are chosen per budget on held-out training photos, never on the test photos, in two steps:

    python experiments/budget_sweep.py ... --budgets 270000 620000 --validation-per-class 100 --name val \
        --setting jpeg:q25="--jpeg-quality 25" --setting jpeg:q50="--jpeg-quality 50" \
        --setting itgan:i50="--condense-iterations 50" --setting itgan:i200="--condense-iterations 200"
    python experiments/budget_sweep.py ... --budgets 270000 620000 --chosen runs/val/sweep.json --name test \
        --ceiling-budget 3000000

The first runs every ``METHOD:NAME="OPTIONS"`` setting at every budget on the validation photos (run
``<name>-<budget>-<NAME>``; a method without a setting of its own runs with the preset) and records the best
of each method at each budget as ``chosen``; the second runs only those on the test photos. A costly
candidate can be held to the budgets where it is cheap (``--setting-up-to i200=620000``: fewer latents make each
condensation step cheaper), provided every method keeps a setting at every budget. With
``--ceiling-budget``, ``jpeg`` holding the whole stream and ``joint`` training are drawn as the replay
strategy's ceiling (run ``<name>-ceiling``).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from experiments.cli import (HelpFormatter, UsageError, add_dataset_options, code_version, parse_setting,
                             require_at_least, save_figure)
from itgan_replay.data import DatasetError
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes
from itgan_replay.memory.latent import BudgetError, require_generator_fits
from experiments.split_cifar100 import PRESETS, RUN_ERRORS, Preset, StreamRun, preset_from_options, run
from strategies.methods import GENERATOR_METHODS, METHODS

PRESET_SETTING = "preset"
"""The setting name of a method run with the preset as it is (no ``--setting`` of its own)."""

Grid = dict[str, dict[str, list[str]]]
"""Each method's settings at one budget: method -> {setting name: its options}."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--generator", type=Path, required=True, help="generator file (its bytes count against every budget)")
    p.add_argument("--budgets", type=int, nargs="+", required=True, help="memory budgets in bytes, one run each")
    p.add_argument("--methods", default="exemplar,jpeg,itgan", help=f"comma-separated subset of: {', '.join(METHODS)}")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="split_cifar100.py preset of every run")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (class order, init, sampling, held-out photos)")
    p.add_argument("--setting", action="append", metavar='METHOD:NAME="OPTIONS"',
                   help="one candidate setting of a method, as the main job's options (e.g. jpeg:q25=\"--jpeg-quality "
                        "25\"; see split_cifar100.py --help); repeat for each. Several for one method are a choice: "
                        "they need --validation-per-class. A setting name shared by methods must have the same options")
    p.add_argument("--setting-up-to", action="append", default=[], metavar="NAME=BYTES",
                   help="run setting NAME only at budgets up to BYTES (a costly candidate where it is cheap); every "
                        "method must keep a setting at every budget. Repeat for each")
    p.add_argument("--validation-per-class", type=int, default=0,
                   help="score every run on this many training photos per class held out from the stream (0: the test "
                        "photos) and record each method's best setting at each budget as chosen")
    p.add_argument("--chosen", type=Path, metavar="SWEEP_JSON",
                   help="run each method at each budget with the setting chosen in this validation sweep's sweep.json "
                        "(same preset and generator), e.g. on the test photos or with other seeds")
    p.add_argument("--ceiling-budget", type=int,
                   help="also run jpeg at this budget, which must hold the whole stream, and joint training: the replay "
                        "strategy's ceiling, drawn as lines (run <name>-ceiling)")
    p.add_argument("--name", default="budget-sweep", help="sweep name; runs are <name>-<budget>[-<setting>] under --out-dir")
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


def candidate_grid(settings: list[str], methods: list[str], validation_per_class: int) -> Grid:
    """Each method's candidate settings from ``--setting`` texts (the preset alone for a method without one).

    Raises:
        UsageError: a bad text, a method not among ``methods``, one name with two sets of options, or several
            candidates of a method to be chosen on the test photos.
    """
    grid: Grid = {m: {} for m in methods}
    for text in settings:
        method, sep, rest = text.partition(":")
        if not sep:
            raise UsageError(f"--setting '{text}': write METHOD:NAME=\"OPTIONS\", e.g. jpeg:q25=\"--jpeg-quality 25\"")
        if method not in grid:
            raise UsageError(f"--setting '{text}': {method} is not one of --methods {','.join(methods)}")
        name, options = parse_setting(rest)
        if name == PRESET_SETTING or name in grid[method]:
            raise UsageError(f"--setting '{text}': name {name} is {'reserved' if name == PRESET_SETTING else 'taken'}")
        grid[method][name] = options
    grid = {m: named or {PRESET_SETTING: []} for m, named in grid.items()}
    options_of: dict[str, list[str]] = {}
    for named in grid.values():
        for name, options in named.items():
            if options_of.setdefault(name, options) != options:
                raise UsageError(f"setting {name} has two sets of options ({' '.join(options_of[name])!r} and "
                                 f"{' '.join(options)!r}); give each its own name")
    if not validation_per_class and any(len(named) > 1 for named in grid.values()):
        raise UsageError("several settings of one method are a choice: make it on held-out training photos "
                         "(--validation-per-class N), then run the choices with --chosen SWEEP_JSON")
    return grid


def budget_grids(grid: Grid, up_to: list[str], budgets: list[int]) -> dict[int, Grid]:
    """``grid`` at each budget, less the settings that ``--setting-up-to NAME=BYTES`` texts hold below it.

    Raises:
        UsageError: a bad text, a NAME that is no setting, or a method left without a setting at some budget.
    """
    names = {name for named in grid.values() for name in named if name != PRESET_SETTING}
    limits: dict[str, int] = {}
    for text in up_to:
        name, sep, value = text.partition("=")
        if not sep or not value.isdigit() or int(value) < 1:
            raise UsageError(f"--setting-up-to '{text}': write NAME=BYTES, e.g. i200=620000")
        if name not in names:
            raise UsageError(f"--setting-up-to '{text}': {name} is not a --setting name ({', '.join(sorted(names))})")
        limits[name] = int(value)
    grids = {budget: {m: {name: options for name, options in named.items() if budget <= limits.get(name, budget)}
                      for m, named in grid.items()} for budget in budgets}
    for budget, at in grids.items():
        for method, named in at.items():
            if not named:
                raise UsageError(f"--setting-up-to leaves {method} no setting at {budget:,} bytes; give it a setting "
                                 "without a limit")
    return grids


def chosen_grids(path: Path, preset: str, generator: FrozenGenerator, methods: list[str],
                 budgets: list[int]) -> dict[int, Grid]:
    """The settings a validation sweep (``path``, its sweep.json) chose, as one grid per budget.

    Raises:
        UsageError: ``path`` is not a validation sweep of this preset and generator, or lacks a method and budget.
    """
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"--chosen {path}: not a readable sweep.json ({err})") from err
    if not saved.get("validation_per_class"):
        raise UsageError(f"--chosen {path}: a sweep on the test photos chose nothing; give the sweep.json of a run "
                         "with --validation-per-class")
    if (saved.get("preset"), saved.get("generator")) != (preset, generator.fingerprint):
        raise UsageError(f"--chosen {path} chose for preset {saved.get('preset')} and generator {saved.get('generator')}; "
                         f"this sweep has {preset} and {generator.fingerprint}")
    chosen = {(c["method"], c["budget_bytes"]): (c["setting"], c["options"]) for c in saved["chosen"]}
    skipped = {(r["method"], r["budget_bytes"]) for r in saved["not_fitting"]}
    grids: dict[int, Grid] = {}
    for budget in budgets:
        grids[budget] = {}
        for method in methods:
            if (method, budget) in chosen:
                name, options = chosen[(method, budget)]
                grids[budget][method] = {name: options}
            elif (method, budget) not in skipped:
                raise UsageError(f"--chosen {path} has no choice for {method} at {budget:,} bytes; sweep that budget "
                                 "and method on validation first")
    return grids


def setting_preset(base: Preset, options: list[str], budget: int) -> Preset:
    """``base`` with a setting's options at ``budget`` (the sweep, not a setting, sets the budget)."""
    preset = preset_from_options(options, base)
    if preset.budget_bytes != base.budget_bytes:
        raise UsageError(f"setting {' '.join(options)!r} sets the budget; the sweep sets it, leave --budget-bytes out")
    return replace(preset, budget_bytes=budget)


def plot(points: dict[str, list[tuple[int, float]]], generator_bytes: int, ceiling: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, pts in points.items():
        ax.plot([b / 1e6 for b, _ in pts], [100 * a for _, a in pts], marker="o", label=method)
    ax.axvline(generator_bytes / 1e6, color="grey", linestyle=":", label="generator bytes (preset's storage)")
    for (label, accuracy), style in zip(ceiling.items(), ("--", "-.")):
        ax.axhline(100 * accuracy, color="black", linestyle=style, linewidth=1, label=label)
    ax.set(xlabel="memory (MB, generator included)", ylabel="final average accuracy (%)", title="Accuracy against bytes")
    ax.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    budgets = sorted(args.budgets)
    base = PRESETS[args.preset]
    try:
        if any(m not in METHODS for m in methods):
            raise UsageError(f"unknown method in {methods}; choose from {', '.join(METHODS)}")
        require_at_least(args, {"budgets": 1, "validation_per_class": 0, "ceiling_budget": 1})
        if args.chosen and (args.setting or args.setting_up_to or args.validation_per_class):
            raise UsageError("--chosen runs a validation sweep's choices; leave out --setting, --setting-up-to and "
                             "--validation-per-class")
        generator = FrozenGenerator.load(args.generator)
        if args.chosen:
            grids = chosen_grids(args.chosen, args.preset, generator, methods, budgets)
        else:
            grids = budget_grids(candidate_grid(args.setting or [], methods, args.validation_per_class),
                                 args.setting_up_to, budgets)
        presets = {(name, budget): setting_preset(base, options, budget) for budget, grid in grids.items()
                   for named in grid.values() for name, options in named.items()}
    except (UsageError, ValueError, StoredFileError, DatasetError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def job(name: str, preset: Preset, run_methods: list[str]) -> StreamRun:
        return StreamRun(args.dataset, args.preset, preset, args.generator, methods=tuple(run_methods), name=name,
                         out_dir=args.out_dir, seed=args.seed, validation_per_class=args.validation_per_class,
                         progress=not args.no_progress, data_root=args.data_root, image_size=args.image_size,
                         resize=args.resize)

    runs, not_fitting = [], []
    for budget in budgets:
        settings = {name: options for named in grids[budget].values() for name, options in named.items()}
        for name, options in settings.items():
            preset = presets[(name, budget)]
            stored = generator.stored_as(GENERATOR_STORAGE_DTYPES[preset.itgan.generator_dtype])
            wanted = [m for m in methods if name in grids[budget].get(m, {})]
            fitting = [m for m in wanted if m not in GENERATOR_METHODS or fits(stored, budget)]
            not_fitting += [{"method": m, "budget_bytes": budget, "setting": name} for m in wanted if m not in fitting]
            if not fitting:
                continue
            try:
                results = run(job(f"{args.name}-{budget}" + ("" if name == PRESET_SETTING else f"-{name}"), preset,
                                  fitting))
            except RUN_ERRORS as err:
                print(f"error: the run at {budget:,} bytes, setting {name}: {err} (rerun this command to resume)",
                      file=sys.stderr)
                return 2
            runs += [{"method": m, "budget_bytes": budget, "setting": name, "options": options,
                      **{k: results[m][k] for k in ("stored_bytes", "stored_bytes_without_generator", "generator_bytes",
                                                     "final_average_accuracy", "wall_s")}} for m in fitting]
    best: dict[tuple[str, int], dict] = {}
    for r in runs:  # each method's best setting at each budget: the choice, on validation photos
        key = (r["method"], r["budget_bytes"])
        if key not in best or r["final_average_accuracy"] > best[key]["final_average_accuracy"]:
            best[key] = r
    points = {m: [(b, r["final_average_accuracy"]) for (method, b), r in sorted(best.items(), key=lambda kv: kv[0][1])
                  if method == m] for m in methods}
    ceiling: dict[str, float] = {}
    if args.ceiling_budget:
        try:
            results = run(job(f"{args.name}-ceiling", replace(base, budget_bytes=args.ceiling_budget), ["jpeg", "joint"]))
            saved = json.loads((args.out_dir / f"{args.name}-ceiling" / "results.json").read_text())["settings"]
            held, photos = results["jpeg"]["stored_samples"], saved["training_photos"]
            if held < photos:
                raise UsageError(f"--ceiling-budget {args.ceiling_budget:,} holds {held:,} of the stream's {photos:,} "
                                 "photos as JPEG; raise it")
        except RUN_ERRORS as err:
            print(f"error: the ceiling run: {err}", file=sys.stderr)
            return 2
        ceiling = {f"jpeg, whole stream ({photos:,} photos)": results["jpeg"]["final_average_accuracy"],
                   "joint training": results["joint"]["final_average_accuracy"]}
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
    crossed = {f"{a} vs {b}": crossings(points, a, b) for a, b in pairs}
    chosen = [{k: r[k] for k in ("method", "budget_bytes", "setting", "options")} for r in best.values()]
    stored = generator.stored_as(GENERATOR_STORAGE_DTYPES[base.itgan.generator_dtype])  # as the preset stores it
    generator_bytes = stored.param_bytes
    out = args.out_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "sweep.json", json.dumps({
        "dataset": args.dataset, "preset": args.preset, "seed": args.seed,
        "validation_per_class": args.validation_per_class,
        "evaluated_on": (f"validation: {args.validation_per_class} held-out training photos per class"
                         if args.validation_per_class else "test photos"),
        "chosen_from": str(args.chosen) if args.chosen else None, "generator_bytes": generator_bytes,
        **stored.provenance, "generator_file": str(args.generator), "code": code_version(),  # every run it loads was written at this commit (run() refuses others)
        "setting_up_to": args.setting_up_to, "runs": runs, "not_fitting": not_fitting,
        "chosen": chosen if args.validation_per_class else [],
        "ceiling": ceiling, "crossings_bytes": crossed}, indent=1).encode())
    plot(points, generator_bytes, ceiling, out / "accuracy_vs_bytes.png")
    print(f"\n{'method':<10} {'setting':<12} {'budget bytes':>13} {'stored bytes':>13} {'w/o generator':>13} "
          f"{'final avg acc':>13}")
    for r in runs:
        mark = " chosen" if args.validation_per_class and best[(r["method"], r["budget_bytes"])] is r else ""
        print(f"{r['method']:<10} {r['setting']:<12} {r['budget_bytes']:>13,} {r['stored_bytes']:>13,} "
              f"{r['stored_bytes_without_generator']:>13,} {r['final_average_accuracy']:>13.4f}{mark}")
    for r in not_fitting:
        print(f"{r['method']:<10} {r['setting']:<12} {r['budget_bytes']:>13,} {'does not fit (the generator is larger)':>27}")
    for label, accuracy in ceiling.items():
        print(f"ceiling: {label}: {accuracy:.4f}")
    for pair, where in crossed.items():
        print(f"{pair}: " + (", ".join(f"curves cross near {b:,.0f} bytes" for b in where) if where
                             else "curves do not cross within the budgets run"))
    print(f"wrote {out / 'sweep.json'} and {out / 'accuracy_vs_bytes.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

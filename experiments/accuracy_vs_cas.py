r"""Replay accuracy against generator quality: the main job on held-out photos, once per generator snapshot.

    python experiments/score_generators.py runs/gen64-long/work/snapshots \
        --dataset imagefolder:../shared/data/imagenette-64-more --out docs/runs/gen64-long/cas.json
    python experiments/accuracy_vs_cas.py docs/runs/gen64-long/cas.json --dataset imagefolder:../shared/data/imagenette-64 \
        --preset quick64 --validation-per-class 100 --out-dir runs --name acc-cas-64

Takes the generators scored by ``score_generators.py`` (their validation CAS, on photos of the generator's own
held-out split), runs ``--methods`` (latent ones: ``itgan`` and ``gan-fresh``) with each generator at the preset's
budget, seed ``--seed``, on ``--validation-per-class`` held-out training photos of the stream (never its test
photos), and ``--baselines`` (``jpeg`` and ``exemplar``) once, as horizontal lines. Each run is the main job under
``<out-dir>/<name>-<iteration>`` (resumable, and a rerun skips finished runs). Writes ``<out-dir>/<name>/
accuracy_vs_cas.json`` (per generator: CAS mean and std, each method's accuracy; the lines; a least-squares line of
accuracy on CAS per method, with the standard error of its slope) and ``accuracy_vs_cas.png``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from experiments.cli import HelpFormatter, UsageError, add_dataset_options, code_version, require_at_least, save_figure
from experiments.split_cifar100 import PRESETS, RUN_ERRORS, StreamRun, run
from itgan_replay.memory.files import atomic_write_bytes
from strategies.methods import GENERATOR_METHODS, METHODS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("cas", type=Path, help="a score_generators.py JSON of the generators (rows with file, iteration and CAS)")
    add_dataset_options(p)
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="split_cifar100.py preset of every run")
    p.add_argument("--methods", default="itgan,gan-fresh", help="generator methods run with every generator")
    p.add_argument("--baselines", default="jpeg,exemplar", help="methods without a generator, run once as lines")
    p.add_argument("--validation-per-class", type=int, default=100,
                   help="held-out training photos per class that every run is scored on")
    p.add_argument("--seed", type=int, default=0, help="seed of every run")
    p.add_argument("--name", default="acc-cas", help="runs are <name>-<iteration> under --out-dir; results in <name>/")
    p.add_argument("--out-dir", type=Path, default=Path("runs"), help="where runs and results are written")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def least_squares(points: list[tuple[float, float]]) -> dict | None:
    """The line ``y = a + b x`` through ``points`` by least squares, with the standard error of ``b`` (None for fewer
    than 3 points, where the error is undefined)."""
    if len(points) < 3:
        return None
    xs, ys = zip(*points)
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    residual = sum((y - (my + slope * (x - mx))) ** 2 for x, y in points)
    return {"intercept": my - slope * mx, "slope": slope, "slope_stderr": (residual / (len(points) - 2) / sxx) ** 0.5,
            "points": len(points)}


def plot(rows: list[dict], lines: dict[str, float], methods: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in methods:
        ax.errorbar([r["cas_mean"] * 100 for r in rows], [r["accuracy"][method] * 100 for r in rows],
                    xerr=[r["cas_std"] * 100 for r in rows], marker="o", capsize=3, label=method)
    for i, (method, accuracy) in enumerate(lines.items()):
        ax.axhline(accuracy * 100, linestyle="--", color=f"C{len(methods) + i}", label=f"{method} (no generator)")
    ax.set(xlabel="generator CAS on held-out photos (%)", ylabel="final average accuracy, validation (%)",
           title="Replay accuracy against generator quality")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    baselines = [m.strip() for m in args.baselines.split(",") if m.strip()]
    common = dict(out_dir=args.out_dir, seed=args.seed, validation_per_class=args.validation_per_class,
                  progress=not args.no_progress, data_root=args.data_root, image_size=args.image_size, resize=args.resize)
    try:
        require_at_least(args, {"validation_per_class": 1})
        if bad := [m for m in methods if m not in GENERATOR_METHODS] + [m for m in baselines if m in GENERATOR_METHODS or
                                                                         m not in METHODS]:
            raise UsageError(f"--methods takes generator methods and --baselines the others; {bad} do not fit")
        try:
            scored = json.loads(args.cas.read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{args.cas}: not a score_generators.py JSON ({err})") from err
        if not scored or any("validation" not in r["cas"] for r in scored):
            raise UsageError(f"{args.cas}: every generator needs a validation CAS (score_generators.py with "
                             "--validation-per-class above 0)")
        jobs = [StreamRun(args.dataset, args.preset, PRESETS[args.preset], Path(r["file"]), methods=tuple(methods),
                          name=f"{args.name}-{r['iteration']}", **common) for r in scored]
        lines_job = StreamRun(args.dataset, args.preset, PRESETS[args.preset], methods=tuple(baselines),
                              name=f"{args.name}-baselines", **common)
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = []
    try:
        lines = {m: r["final_average_accuracy"] for m, r in run(lines_job).items()}
        for r, job in zip(scored, jobs):
            results = run(job)
            rows.append({"file": r["file"], "fingerprint": r["fingerprint"], "iteration": r["iteration"],
                         "cas_mean": r["cas"]["validation"]["mean"], "cas_std": r["cas"]["validation"]["std"],
                         "accuracy": {m: results[m]["final_average_accuracy"] for m in methods}})
    except RUN_ERRORS as err:
        print(f"error: {err} (rerun this command to resume)", file=sys.stderr)
        return 2
    out = args.out_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    fits = {m: least_squares([(r["cas_mean"], r["accuracy"][m]) for r in rows]) for m in methods}
    atomic_write_bytes(out / "accuracy_vs_cas.json", json.dumps({
        "dataset": args.dataset, "preset": args.preset, "seed": args.seed, "validation_per_class": args.validation_per_class,
        "cas_file": str(args.cas), "code": code_version(), "rows": rows, "lines": lines, "fits": fits}, indent=1).encode())
    plot(rows, lines, methods, out / "accuracy_vs_cas.png")
    for r in rows:
        print(f"iteration {r['iteration']}: CAS {r['cas_mean']:.4f} ± {r['cas_std']:.4f}; "
              + ", ".join(f"{m} {a:.4f}" for m, a in r["accuracy"].items()))
    print(", ".join(f"{m} {a:.4f}" for m, a in lines.items()) + f"; wrote {out / 'accuracy_vs_cas.json'} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

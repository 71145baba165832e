r"""Class-incremental Split-CIFAR-100 with IT-GAN latent replay against equal-byte baselines.

    python experiments/split_cifar100.py --generator generators/NAME.pt
    python experiments/split_cifar100.py --preset quick --dataset imagefolder:../shared/data/cifar10-jpeg \
        --generator generators/demo-cifar10-cpu.pt

Every method trains the same model on the same class-incremental stream (Avalanche's
``class_incremental_benchmark``, class order drawn from ``--seed``) and, after each training
experience, is evaluated on the test experiences seen so far with Avalanche's accuracy and
forgetting metrics. Under ``runs/<name>/`` it writes Avalanche's TensorBoard logs (``tb/<method>``)
and text logs (``logs/<method>.txt``), a checkpoint of the strategy after every experience
(``checkpoints/<method>.ckpt``: a killed run, started again with the same command, resumes at the
experience it was in; resuming unpickles the strategy, which runs code from the file, so resume only
from checkpoints you wrote or trust), one JSON per finished method (``methods/``; a rerun skips them),
``results.json`` and ``curves.png`` (accuracy and forgetting of every method finished in the folder at
these settings, whichever ``--methods`` this run was given). ``inversions/`` holds
the GAN inversions of the stream's photos while the run lasts: ``inversion`` and ``itgan`` invert the
same photos the same way, so the second reads the first's (its results say how many, in
``inversions_reused``); the folder is removed when every method has finished.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from experiments.cli import (HelpFormatter, UsageError, add_config_options, add_dataset_options, add_device_option,
                             add_recipe_options, check_device, code_version, config_from_args, line_buffered_output,
                             parser_options, recipe_from_args, save_figure, with_option_names)
from itgan_replay.condensation.class_code import plan_class_codes
from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.nets import ARCHITECTURES, build_net
from itgan_replay.condensation.recipe import LatentRecipe
from itgan_replay.data import DatasetError, count_classes, load_dataset, split_share, split_validation
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes, differences, state_fingerprint
from itgan_replay.memory.latent import BudgetError, require_generator_fits
from itgan_replay.settings import check_choices, setting
from strategies.checkpoint import checkpoint_settings, load_strategy, save_strategy
from strategies.itgan_plugin import ITGANReplayConfig, experience_tensors
from strategies.methods import GENERATOR_METHODS, LATENT_METHODS, METHODS, OPT_IN_METHODS, build_method, memory_use
from strategies.metrics import StoredBytes
from strategies.scenario import class_incremental_stream, seeded_class_order


@dataclass(frozen=True)
class Preset:
    """The main job's settings: the learner, the byte budget every method gets, and the IT-GAN plugin's."""

    model: str = setting("convnet", "classifier architecture", tuple(ARCHITECTURES))
    model_width: int | None = setting(None, "classifier channel width (the architecture's default if unset)")
    epochs: int = setting(4, "training epochs per experience")
    batch_size: int = setting(64, "mini-batch size of new data (replay adds as many samples again)")
    lr: float = setting(0.01, "SGD learning rate (momentum 0.9)")
    budget_bytes: int = setting(1_300_000, "memory budget of every replay method in bytes; a generator counts against it")
    jpeg_quality: int = setting(50, "JPEG quality (1-100) of the jpeg method's exemplars")
    jpeg32_quality: int = setting(50, "JPEG quality (1-100) of the jpeg32 method's exemplars (stored at 32x32)")
    itgan: ITGANReplayConfig = ITGANReplayConfig()

    def __post_init__(self) -> None:
        """Checks the settings that no plugin or buffer config checks (those check their own)."""
        check_choices(self)
        for name in ("model_width", "epochs", "batch_size", "budget_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be 1 or more, got {value}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")


def cpu_itgan(iterations: int, inversion_steps: int, storage_dtype: str) -> ITGANReplayConfig:
    """The plugin settings of the 2-core presets (condensation lr, real batch, subsets, embedding width and a
    float16 generator chosen on held-out training photos: docs/results.md, sections 1, 6 and 8)."""
    return ITGANReplayConfig(LatentRecipe(condense=CondenseConfig(iterations=iterations, lr=1e-2, subset_size=500, real_batch=128),
                                          inversion=InversionConfig(steps=inversion_steps), embedding_width=32),
                             generator_dtype="float16", storage_dtype=storage_dtype)


PRESETS = {
    # the paper's protocol: ResNet-18, ch=64 generator, 5,000 condensation iterations, 200 epochs (GPU)
    "paper": Preset("resnet18", None, 200, 128, 0.01, 41_000_000, itgan=ITGANReplayConfig(LatentRecipe(
        condense=CondenseConfig(iterations=5000, lr=1e-3, subset_size=500, real_batch=256),
        inversion=InversionConfig(steps=1000)))),
    # Split-CIFAR-10 on 2 CPU cores with the cpu-preset generator stored in float16; float16 latents chosen on
    # held-out training photos over float32, int8 and an int8 generator (docs/results.md, section 1)
    "quick": Preset("convnet", 64, 4, 64, 0.01, 1_300_000, itgan=cpu_itgan(200, 40, storage_dtype="float16")),
    # 100 classes in 10 experiences on 2 CPU cores (Split-CIFAR-100's shape): the bytes of 1,200 raw 32x32 photos
    # (4% of a 30,000-photo stream, as M = 2,000 on CIFAR-100's 50,000); float32 latents, 100 condensation
    # iterations and JPEG quality 75 chosen on held-out training photos (docs/results.md, section 6); 20 inversion
    # steps are a time bound
    "hundred": Preset("convnet", 64, 4, 64, 0.01, 3_686_400, jpeg_quality=75,
                      itgan=cpu_itgan(100, 20, storage_dtype="float32")),
    # Split-Imagenette at 64 x 64 (5 experiences of 2 classes) on 2 CPU cores, at quick's budget, with a depth-4
    # ConvNet and the 64-px generator from the cpu64 pretraining preset. A 64-px condensation step costs 3x a
    # 32-px one, so 50 iterations (a time bound, not a validation choice); float16 latents and the JPEG
    # qualities chosen on held-out training photos (docs/results.md, section 8)
    "quick64": Preset("convnet", 64, 4, 64, 0.01, 1_300_000, jpeg_quality=25, jpeg32_quality=50,
                      itgan=cpu_itgan(50, 40, storage_dtype="float16")),
    # the first run, on the generated demo stream (--dataset demo) in about 2 minutes on 2 CPU cores: a narrow ConvNet
    # trained long enough on 120 photos an experience to keep old classes with replay, a budget between the demo
    # generator alone (451,390 bytes in float16) and its latents for every photo; short condensation (a time bound)
    "demo": Preset("convnet", 32, 10, 32, 0.01, 600_000, itgan=cpu_itgan(30, 10, storage_dtype="float16")),
    # for tests: seconds on tiny data
    "smoke": Preset("convnet", 8, 1, 16, 0.01, 1_200_000, itgan=ITGANReplayConfig(LatentRecipe(
        condense=CondenseConfig(iterations=2, lr=1e-3, subset_size=500, real_batch=16),
        inversion=InversionConfig(steps=2), embedding_width=8))),
}
ITGAN_OPTIONS = ("regenerate", "storage_dtype", "generator_dtype", "class_codes")
"""The plugin settings the main job takes as options beside the recipe's (the rest it sets itself: the budget,
the classes, the seed; and each method its init)."""


def add_setting_options(p: argparse.ArgumentParser) -> None:
    """The options of every setting of the main job, from the config classes that declare them."""
    add_config_options(p, Preset, presets=PRESETS)
    add_config_options(p, ITGANReplayConfig, only=ITGAN_OPTIONS, presets={k: v.itgan for k, v in PRESETS.items()})
    add_recipe_options(p, skip=("init",), presets={k: v.itgan.recipe for k, v in PRESETS.items()})


def preset_from_args(args: argparse.Namespace, base: Preset) -> Preset:
    """``base`` (a preset) with the options of :func:`add_setting_options` given (ValueError for a bad value)."""
    recipe = recipe_from_args(args, base.itgan.recipe, skip=("init",))
    itgan = replace(config_from_args(args, base.itgan, only=ITGAN_OPTIONS), recipe=recipe)
    return replace(config_from_args(args, base), itgan=itgan)


def preset_from_options(options: list[str], base: Preset) -> Preset:
    """``base`` with setting options written as on the command line (e.g. ``["--condense-lr", "0.03"]``).

    Raises:
        UsageError: an option that is not a setting of the main job, or a bad value.
    """
    p = argparse.ArgumentParser(prog="settings", add_help=False, exit_on_error=False)
    add_setting_options(p)
    try:
        parsed, unknown = p.parse_known_args(options)
        if unknown:
            raise UsageError(f"{' '.join(unknown)}: not a setting of the main job (see split_cifar100.py --help)")
        return preset_from_args(parsed, base)
    except (argparse.ArgumentError, ValueError) as err:
        raise UsageError(str(err)) from err


def build_parser() -> argparse.ArgumentParser:
    """The main job's command line: its own options and one per setting (see :func:`add_setting_options`)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="quick (10 classes in 5 experiences, 1.3 MB, 2 CPU cores), hundred (100 classes in 10 "
                        "experiences, 3.69 MB, 2 CPU cores), quick64 (quick for 64x64 photos, e.g. Imagenette), paper "
                        "(GPU, the paper's settings), demo (the first run, on --dataset demo), smoke (tests). "
                        "Default: demo for --dataset demo, hundred for a stream of 100 or more classes (CIFAR-100), "
                        "else quick")
    add_dataset_options(p, default="cifar100")
    p.add_argument("--generator", type=Path, help="generator file from experiments/pretrain_generator.py")
    p.add_argument("--pretrain", action="store_true",
                   help="pretrain a generator now, with the matching preset (cpu, or paper for --preset paper), on the "
                        "stream's own training photos: the generator then has seen the stream, and every output says so. "
                        "Cached at generators/<dataset>-<preset>-stream.pt, which no run without --pretrain reuses")
    p.add_argument("--pretrain-share", type=float,
                   help="like --pretrain, but on a seeded share (e.g. 0.5; a draw seeded 0) of each class's training "
                        "photos, and the stream is built from the rest: the generator never sees the stream's photos. "
                        "Cached at generators/<dataset>-<preset>-share<percent>.pt")
    p.add_argument("--methods", help=f"comma-separated subset of: {', '.join(METHODS)} (default: all but "
                                     f"{', '.join(OPT_IN_METHODS)}; jpeg32 only for photos above 32x32)")
    p.add_argument("--experiences", type=int, help="number of experiences (default: 10, or classes/2 if fewer than 20 classes)")
    p.add_argument("--name", help="run name under --out-dir (default: <dataset>-<preset>-seed<seed>)")
    p.add_argument("--out-dir", type=Path, default=Path("runs"), help="where runs are written (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the class order, model init and all sampling (default: %(default)s)")
    add_device_option(p)
    p.add_argument("--validation-per-class", type=int, default=0,
                   help="hold out this many training photos per class (seeded by --seed) and evaluate on them instead "
                        "of the test photos: for choosing settings without touching the test set (default: %(default)s, "
                        "the test photos)")
    p.add_argument("--keep-memories", action="store_true",
                   help="save each latent method's memory to runs/<name>/memories/<method>.pt after every experience, the last "
                        "one condensed too (load it with LatentMemory.load(path, FrozenGenerator.load(generator)))")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_setting_options(p)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@dataclass(frozen=True)
class StreamRun:
    """One run of the main job: the stream, the settings, the methods and where results go (what its
    options say, as typed values; sweeps build these)."""

    dataset: str
    preset: str
    settings: Preset
    generator: Path | None = None
    pretrain: bool = False
    pretrain_share: float | None = None
    methods: tuple[str, ...] | None = None
    experiences: int | None = None
    name: str | None = None
    out_dir: Path = Path("runs")
    seed: int = 0
    device: str = "cpu"
    validation_per_class: int = 0
    keep_memories: bool = False
    progress: bool = True
    data_root: str = "data"
    image_size: int | None = None
    resize: bool = False

    def __post_init__(self) -> None:
        if self.experiences is not None and self.experiences < 1:
            raise UsageError(f"--experiences must be 1 or more, got {self.experiences}")
        if self.validation_per_class < 0:
            raise UsageError(f"--validation-per-class must be 0 or more, got {self.validation_per_class}")
        if self.pretrain_share is not None and not 0 < self.pretrain_share < 1:
            raise UsageError(f"--pretrain-share must lie strictly between 0 and 1, got {self.pretrain_share}")
        if self.pretrain_share is not None and (self.pretrain or self.generator):
            raise UsageError("--pretrain-share pretrains a generator on its share of the photos; leave out --pretrain and "
                             "--generator")
        unknown = [m for m in self.methods or () if m not in METHODS]
        if unknown or self.methods == ():
            raise UsageError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        check_device(self.device)

    @property
    def run_dir(self) -> Path:
        """``out_dir/name``, the name by default ``<dataset>-<preset>-seed<seed>``."""
        dataset_tag = re.sub(r"[^A-Za-z0-9]+", "-", self.dataset.rstrip("/").split("/")[-1])
        return self.out_dir / (self.name or f"{dataset_tag}-{self.preset}-seed{self.seed}")


def stream_run_from_args(args: argparse.Namespace) -> StreamRun:
    """The run the options ask for; the preset, when not given, from the number of class folders (no photo is
    read before the options are checked). Raises UsageError (or DatasetError) for what cannot run."""
    preset = args.preset or ("demo" if args.dataset == "demo" else
                             "hundred" if count_classes(args.dataset) >= 100 else "quick")
    try:
        settings = preset_from_args(args, PRESETS[preset])
    except ValueError as err:
        raise UsageError(str(err)) from err
    methods = None if args.methods is None else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    return StreamRun(args.dataset, preset, settings, args.generator, args.pretrain, args.pretrain_share, methods,
                     args.experiences, args.name, args.out_dir, args.seed, args.device, args.validation_per_class,
                     args.keep_memories, not args.no_progress, args.data_root, args.image_size, args.resize)


def obtain_generator(job: StreamRun, image_size: int) -> tuple[FrozenGenerator, Path]:
    """``job.generator``, or the cached generator of this dataset, or (``pretrain``, ``pretrain_share``) the one
    pretrained on the stream's photos or on its share of them, with the pretraining preset for the preset and image
    size (paper; cpu at 32 px, cpu64 at 64 px), pretrained now if its cache is missing; and its file."""
    dataset_tag = re.sub(r"[^A-Za-z0-9]+", "-", job.dataset.split("/")[-1] if "/" in job.dataset else job.dataset)
    pretrain_preset = "paper" if job.preset == "paper" else "cpu64" if image_size == 64 else "cpu"
    share = job.pretrain_share or 1.0
    photos = "" if not (job.pretrain or job.pretrain_share) else "-stream" if share == 1 else f"-share{round(100 * share)}"
    path = job.generator or Path("generators") / f"{dataset_tag}-{pretrain_preset}{photos}.pt"
    if not path.exists():
        if not photos:
            size = (f" --image-size {job.image_size}" if job.image_size else "") + (" --resize" if job.resize else "")
            raise UsageError(
                f"no generator at {path}. Pretrain one on photos of these classes that the stream never shows (an "
                f"ImageFolder of other photos, like the -more folders):\n  python experiments/pretrain_generator.py "
                f"--preset {pretrain_preset} --dataset imagefolder:OTHER_PHOTOS{size} --out {path}\nor pass "
                f"--generator PATH (generators/demo-cifar10-cpu.pt ships with the project for CIFAR-10), or "
                f"--pretrain-share 0.5 to pretrain one now on half of each class's training photos and stream the rest, "
                f"or --pretrain to pretrain one on the stream's own training photos (the generator then has seen the stream)")
        from experiments.pretrain_generator import PretrainRun, pretrain
        from itgan_replay.gan.pretrain import PRESETS as PRETRAIN_PRESETS, TrainingDivergedError

        run = PretrainRun(job.dataset, path, PRETRAIN_PRESETS[pretrain_preset], pretrain_preset, device=job.device,
                          progress=job.progress, data_root=job.data_root, image_size=job.image_size, resize=job.resize,
                          share=share)
        try:  # a pretraining killed before resumes from its checkpoint
            pretrain(run)
        except TrainingDivergedError as err:
            raise UsageError(f"pretraining the generator failed: {err}") from err
    generator = FrozenGenerator.load(path, device=job.device)
    if photos and (generator.extra.get("dataset"), generator.extra.get("share", 1.0)) != (job.dataset, share):
        raise UsageError(f"{path} was trained on {generator.extra.get('share', 1.0):g} of {generator.extra.get('dataset')}, "
                         f"not on {share:g} of {job.dataset}; remove it to pretrain again")
    return generator, path


def same_photos(spec: str, other: str) -> bool:
    """Whether two dataset specs may name the same photos: equal, the same folder, or folders of the same name
    (counted as the same: a generator is marked as having seen the stream unless it surely has not)."""
    if spec == other:
        return True
    if not (spec.startswith("imagefolder:") and other.startswith("imagefolder:")):
        return False
    a, b = (Path(s.split(":", 1)[1]).expanduser() for s in (spec, other))
    return a.resolve() == b.resolve() or a.resolve().name == b.resolve().name


def generator_exposure(generator: FrozenGenerator, job: StreamRun) -> dict:
    """What results record about the photos and classes the generator was trained on, and whether the stream's own
    training photos were among them (``None``: the generator's file does not say enough to tell)."""
    extra = generator.extra
    trained_on, share = extra.get("dataset"), extra.get("share", 1.0)
    if trained_on is None:
        saw = None
    elif same_photos(trained_on, job.dataset):
        saw = not (share < 1 and job.pretrain_share == share)  # its share, and the stream the rest of one draw
    else:  # other photos; or a whole other training set (imported files), of which the stream may be a part
        saw = None if extra.get("saw_stream_photos") else False
    return {"generator_photos": extra.get("n_train"), "generator_share": share, "generator_classes": generator.class_names,
            "generator_saw_stream": saw}


def exposure_line(provenance: dict) -> str:
    """One line on what the generator saw, for the printed summary and the plot."""
    saw, photos, share = (provenance.get(k) for k in ("generator_saw_stream", "generator_photos", "generator_share"))
    what = (f"{photos:,} photos of " if photos else "photos of ") + (f"{share:g} of " if share and share < 1 else "")
    verdict = {True: "it SAW THE STREAM'S OWN TRAINING PHOTOS (not comparable with continual-learning results)",
               False: "not the stream's photos", None: "whether the stream's photos were among them is not recorded"}[saw]
    return (f"generator {provenance['generator'][:12]}: trained on {what}{provenance['generator_trained_on']}, "
            f"{len(provenance.get('generator_classes') or []) or 'unrecorded'} classes; {verdict}")


def evaluator(run_dir: Path, name: str):
    """Avalanche's accuracy and forgetting metrics (per experience and per stream), the training loss (per epoch,
    replayed samples included) and the memory's bytes, logged to TensorBoard (``tb/<method>``) and a text log
    (``logs/<method>.txt``)."""
    from avalanche.evaluation.metrics import accuracy_metrics, forgetting_metrics, loss_metrics
    from avalanche.logging import TensorboardLogger, TextLogger
    from avalanche.training.plugins import EvaluationPlugin

    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    return EvaluationPlugin(accuracy_metrics(experience=True, stream=True), forgetting_metrics(experience=True, stream=True),
                            loss_metrics(epoch=True), StoredBytes(), loggers=[TensorboardLogger(run_dir / "tb" / name),
                                                    TextLogger(open(run_dir / "logs" / f"{name}.txt", "a"))])


def curves(metrics: dict, n_exp: int) -> dict:
    """The accuracy matrix (``acc[i][j]``: experience j after training i, j <= i) and the stream curves
    from an evaluator's metric history, one evaluation on the seen test experiences per trained one."""
    values = lambda key: [float(v) for v in metrics[key][1]]  # noqa: E731
    stream = "eval_phase/test_stream"
    per_exp = [values(f"Top1_Acc_Exp/{stream}/Exp{j:03d}") for j in range(n_exp)]
    accuracy = values(f"Top1_Acc_Stream/{stream}")
    forgetting = values(f"StreamForgetting/{stream}")
    if len(accuracy) != n_exp or any(len(v) != n_exp - j for j, v in enumerate(per_exp)):
        raise RuntimeError(f"expected one evaluation per experience ({n_exp}); the metric history has {len(accuracy)}")
    return {"accuracy_matrix": [[per_exp[j][i - j] for j in range(i + 1)] for i in range(n_exp)],
            "average_accuracy": accuracy, "average_forgetting": forgetting,
            "stored_bytes_curve": [int(v) for v in values(f"StoredBytes/{stream}")]}


def plugin_config(preset: Preset, seed: int, progress: bool) -> ITGANReplayConfig:
    """The IT-GAN plugin settings of a preset for a run's seed and progress bars."""
    return replace(preset.itgan, seed=seed, progress=progress)


def run_method(name: str, benchmark, preset: Preset, itgan: ITGANReplayConfig, job: StreamRun,
               generator: FrozenGenerator | None, n_classes: int, n_train: int, image_size: int, run_dir: Path,
               image_stats: tuple[tuple[float, ...], tuple[float, ...]], settings: dict, class_names: list[str]) -> dict:
    """Train and evaluate one method on the stream, checkpointing after every experience; return its results."""
    from avalanche.training.supervised import JointTraining, Naive

    torch.manual_seed(job.seed)
    model = build_net(preset.model, n_classes, preset.model_width, image_size)
    memory_file = run_dir / "memories" / f"{name}.pt" if job.keep_memories and name in LATENT_METHODS else None
    plugins = build_method(name, preset.budget_bytes, n_classes, generator, itgan, preset.batch_size, preset.jpeg_quality,
                           image_stats, job.seed, image_size, memory_file, preset.jpeg32_quality, run_dir / "inversions",
                           class_names)
    strategy = (JointTraining if name == "joint" else Naive)(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=preset.lr, momentum=0.9, weight_decay=5e-4),
        criterion=torch.nn.CrossEntropyLoss(), train_mb_size=preset.batch_size, train_epochs=preset.epochs,
        eval_mb_size=500, device=job.device, plugins=plugins, evaluator=evaluator(run_dir, name))
    n_exp, test = len(benchmark.train_stream), benchmark.test_stream
    if name == "joint":  # trained once on everything; its curve is that model on the experiences seen so far
        start = time.time()
        strategy.train(benchmark.train_stream)
        for i in range(n_exp):
            strategy.eval(test[: i + 1])
        wall = time.time() - start
    else:
        checkpoint = run_dir / "checkpoints" / f"{name}.ckpt"
        saved = checkpoint_settings(checkpoint)
        if saved is not None and saved != settings:
            raise UsageError(f"{checkpoint} is a checkpoint of other settings (they differ in {differences(saved, settings)}); "
                             "pass another --name or remove it")
        strategy, first = load_strategy(strategy, checkpoint)
        wall = strategy.wall_s if first else 0.0  # carried in the checkpoint, like the rest of the strategy's state
        if first:
            print(f"[{name}] resumed from {checkpoint}: experiences 1-{first} of {n_exp} were done", flush=True)
        for i in range(first, n_exp):
            start = time.time()
            strategy.train(benchmark.train_stream[i])
            metrics = strategy.eval(test[: i + 1])
            print(f"[{name}] experience {i + 1}/{n_exp}: average accuracy "
                  f"{metrics['Top1_Acc_Stream/eval_phase/test_stream']:.4f}, forgetting "
                  f"{metrics['StreamForgetting/eval_phase/test_stream']:.4f}, memory "
                  f"{metrics['StoredBytes/eval_phase/test_stream']:,} bytes", flush=True)
            wall += time.time() - start
            strategy.wall_s = wall
            save_strategy(strategy, checkpoint, settings)
    result = curves(strategy.evaluator.get_all_metrics(), n_exp)
    used = memory_use(strategy.plugins)
    stored = n_train * 3 * image_size ** 2 if name == "joint" else used.stored_bytes  # joint: every photo, raw
    return {"method": name, "description": METHODS[name], **result,
            "final_average_accuracy": result["average_accuracy"][-1],
            "final_average_forgetting": result["average_forgetting"][-1],
            "stored_bytes": stored, "stored_samples": n_train if name == "joint" else used.stored_samples,
            "generator_bytes": used.generator_bytes, "stored_bytes_without_generator": stored - used.generator_bytes,
            "final_model_sha256": state_fingerprint(strategy.model.state_dict()),
            "final_class_accuracy": final_class_accuracy(strategy.model, benchmark.test_stream, class_names, job.device),
            "wall_s": wall, "seconds": used.seconds,
            "inversions_reused": used.inversions_reused,
            "memory_file": None if memory_file is None else str(memory_file)}


@torch.no_grad()
def final_class_accuracy(model: torch.nn.Module, test_stream, class_names: list[str], device: str) -> dict[str, float]:
    """The final model's accuracy on each class's test photos, by class name (e.g. to split known from unknown
    classes)."""
    model.eval()
    correct, total = torch.zeros(len(class_names)), torch.zeros(len(class_names))
    for experience in test_stream:
        images, labels = experience_tensors(experience.dataset)
        predicted = torch.cat([model(x.to(device)).argmax(1).cpu() for x in images.split(500)])
        total += torch.bincount(labels, minlength=len(class_names)).float()
        correct += torch.bincount(labels[predicted == labels], minlength=len(class_names)).float()
    return {name: float(correct[c] / total[c]) for c, name in enumerate(class_names) if total[c] > 0}


def plot_curves(results: dict[str, dict], path: Path, exposure: str | None = None, saw_stream: bool = False) -> None:
    """Accuracy and forgetting of every method, with ``exposure`` (what the generator saw) as the title, in red when
    the generator ``saw_stream``'s own training photos."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_fgt) = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in results.items():
        x = range(1, len(r["average_accuracy"]) + 1)
        style = "--" if name == "joint" else "-"
        ax_acc.plot(x, r["average_accuracy"], style, marker="o", label=f"{name} ({r['stored_bytes'] / 1e6:.2f} MB)")
        ax_fgt.plot(x, r["average_forgetting"], style, marker="o", label=name)
    ax_acc.set(xlabel="experiences trained", ylabel="average accuracy (seen experiences)", title="Accuracy")
    ax_fgt.set(xlabel="experiences trained", ylabel="average forgetting", title="Forgetting")
    for ax in (ax_acc, ax_fgt):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax_acc.legend(fontsize=8)
    ax_fgt.legend(fontsize=8)
    if exposure:
        fig.suptitle(exposure, fontsize=8, color="red" if saw_stream else "black")
    fig.tight_layout()
    save_figure(fig, path)


RUN_ERRORS = (UsageError, DatasetError, BudgetError, StoredFileError, FileNotFoundError)
"""What :func:`run` raises, before any training, for a run that cannot be done as asked."""


def main(argv: list[str] | None = None) -> int:
    line_buffered_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops like Ctrl-C
    job = None
    try:
        job = stream_run_from_args(args)
        run(job)
        return 0
    except RUN_ERRORS as err:
        print(f"error: {with_option_names(str(err), parser_options(parser))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f" ({job.run_dir}/checkpoints holds each method's last finished experience)" if job else ""
        print(f"\nstopped; run the same command again to resume{where}", file=sys.stderr)
        return 130


def recorded_values(preset: Preset) -> dict:
    """The preset's values as results record them, without the plugin's seed and progress bars: a run
    sets those (``--seed``, recorded as ``seed``; ``--no-progress``), not the preset."""
    values = asdict(preset)
    for per_run in ("seed", "progress"):
        del values["itgan"][per_run]
    return values


def read_method_file(path: Path) -> dict:
    """A finished method's ``{"settings", "result"}`` from ``methods/``.

    Raises:
        UsageError: the file is not such a JSON (cut short, edited, or not this job's).
    """
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict) or not {"settings", "result"} <= saved.keys():
            raise ValueError("no settings and result in it")
    except ValueError as err:
        raise UsageError(f"{path} is not a finished method's results ({err}); remove it to run that method again") from err
    return saved


def with_other_finished_methods(run_dir: Path, settings: dict, provenance: dict | None,
                                results: dict[str, dict]) -> tuple[dict[str, dict], dict | None]:
    """``results`` and the other methods finished in ``run_dir`` at the same settings, in :data:`METHODS` order,
    so that a rerun of some methods never drops the others from ``results.json``, and the generator's provenance.
    The generator methods must share one generator: this run's (``provenance``), or where this run loaded none,
    the first one found. A method finished at other settings or with another generator is left out, and says so."""
    merged = dict(results)
    for method in METHODS:
        path = run_dir / "methods" / f"{method}.json"
        if method in results or not path.exists():
            continue
        saved = read_method_file(path)
        expected = settings
        if method in GENERATOR_METHODS:
            if provenance is None and {k: saved["settings"].get(k) for k in settings} == settings:
                provenance = {k: v for k, v in saved["settings"].items() if k not in settings}
            expected = settings | (provenance or {})
        if saved["settings"] == expected:
            merged[method] = saved["result"]
        else:
            print(f"[{method}] finished at other settings (they differ in {differences(saved['settings'], expected)}): "
                  "left out of results.json")
    return {m: merged[m] for m in METHODS if m in merged}, provenance


def recorded_generator_file(run_dir: Path, loaded: Path | None, provenance: dict) -> str | None:
    """The generator file that results name: the one this run loaded, or (a rerun that loaded none) the one the
    folder's results named for the same generator fingerprint; ``None`` if neither says."""
    if loaded is not None:
        return str(loaded)
    try:
        before = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None
    same = before.get("settings", {}).get("generator") == provenance.get("generator")
    return before.get("generator_file") if same else None


def run(job: StreamRun) -> dict[str, dict]:
    """Run ``job``'s methods (reusing those already finished in its folder) and return their results by method.

    Raises:
        one of :data:`RUN_ERRORS`: before any training, for what cannot run.
    """
    preset, run_dir = job.settings, job.run_dir
    methods = list(job.methods or (m for m in METHODS if m not in OPT_IN_METHODS))
    itgan = plugin_config(preset, job.seed, job.progress)
    for method in methods:  # a corrupt or old-format checkpoint stops here, before any data loads
        checkpoint_settings(run_dir / "checkpoints" / f"{method}.ckpt")
    train, test = load_dataset(job.dataset, job.data_root, job.image_size, job.resize)
    if job.pretrain_share:
        _, train = split_share(train, job.pretrain_share, seed=0)  # the generator's share is never in the stream
    if job.validation_per_class:
        train, test = split_validation(train, job.validation_per_class, job.seed)
    n_classes = len(train.class_names)
    n_exp = job.experiences if job.experiences is not None else (10 if n_classes >= 20 else n_classes // 2)
    if not 1 <= n_exp <= n_classes or n_classes % n_exp:
        raise UsageError(f"{n_exp} experiences cannot split {n_classes} classes evenly; choose a divisor of {n_classes}")
    if job.methods is None and train.image_size <= 32:
        methods.remove("jpeg32")  # it would store the photos as they are: the jpeg method
    elif "jpeg32" in methods and train.image_size <= 32:
        raise UsageError(f"jpeg32 stores photos downsampled to 32x32; these are {train.image_size}x{train.image_size}: use jpeg")
    image_bytes = train.images[0].numel()  # one stored uint8 photo: 3 x height x width
    if "exemplar" in methods and preset.budget_bytes // image_bytes < n_classes:
        raise UsageError(f"budget of {preset.budget_bytes:,} bytes holds fewer than one exemplar per class ({n_classes} classes)")
    for method in {"jpeg", "jpeg32"} & set(methods):  # a bad quality or a budget with no room beside the header stops here
        try:
            build_method(method, preset.budget_bytes, n_classes, jpeg_quality=preset.jpeg_quality,
                         jpeg32_quality=preset.jpeg32_quality, image_size=train.image_size)
        except ValueError as err:
            raise UsageError(str(err)) from err
    generator, provenance, generator_file = None, None, None
    if any(m in GENERATOR_METHODS for m in methods):
        generator, generator_file = obtain_generator(job, train.image_size)
        try:  # with class codes off, every class the generator lacks is named now, before any training
            plan_class_codes(generator, range(n_classes), train.class_names, preset.itgan.class_codes)
        except ValueError as err:
            raise UsageError(str(err)) from err
        if generator.config.img_size != train.image_size:
            raise UsageError(f"the generator makes {generator.config.img_size}x{generator.config.img_size} images, the "
                             f"stream's photos are {train.image_size}x{train.image_size}; use a generator pretrained at "
                             f"this size, or pass --image-size {generator.config.img_size} --resize")
        stored = generator.stored_as(GENERATOR_STORAGE_DTYPES[preset.itgan.generator_dtype])  # as the memories hold it
        provenance = stored.provenance | generator_exposure(generator, job) | {
            "generator_known_classes": [name for name in train.class_names if name in generator.class_names]}
        require_generator_fits(stored, preset.budget_bytes)

    class_order = seeded_class_order(n_classes, job.seed)
    benchmark = class_incremental_stream(train, test, n_exp, class_order)
    settings = {"dataset": job.dataset, "preset": job.preset, "values": recorded_values(preset), "experiences": n_exp,
                "seed": job.seed, "training_photos": len(train),
                "evaluated_on": (f"validation: {job.validation_per_class} held-out training photos per class"
                                 if job.validation_per_class else "test photos"),
                "class_order": class_order, "normalisation": {"mean": list(train.mean), "std": list(train.std)},
                "code": code_version()} | ({"pretrain_share": job.pretrain_share} if job.pretrain_share else {})
    print(f"run {run_dir}: {n_exp} experiences of {n_classes // n_exp} classes; settings {settings['values']}")
    results = {}
    for method in methods:
        path = run_dir / "methods" / f"{method}.json"
        method_settings = settings | (provenance if method in GENERATOR_METHODS else {})
        if path.exists():
            saved = read_method_file(path)
            if saved["settings"] != method_settings:
                raise UsageError(f"{path} holds results of other settings (they differ in "
                                 f"{differences(saved['settings'], method_settings)}); pass another --name or remove it")
            print(f"[{method}] already done, loaded from {path}")
            results[method] = saved["result"]
            continue
        results[method] = run_method(method, benchmark, preset, itgan, job, generator, n_classes,
                                     len(train), train.image_size, run_dir, (train.mean, train.std), method_settings,
                                     train.class_names)
        atomic_write_bytes(path, json.dumps({"settings": method_settings, "result": results[method]}, indent=1).encode())
        (run_dir / "checkpoints" / f"{method}.ckpt").unlink(missing_ok=True)
    results, provenance = with_other_finished_methods(run_dir, settings, provenance, results)
    header = {"settings": settings}
    if any(m in GENERATOR_METHODS for m in results):  # which generator (compared by fingerprint), trained on which photos
        header = {"settings": settings | provenance, "generator_file": recorded_generator_file(run_dir, generator_file, provenance)}
    atomic_write_bytes(run_dir / "results.json", json.dumps(header | {"results": results}, indent=1).encode())
    shutil.rmtree(run_dir / "inversions", ignore_errors=True)  # photo inversions: kept only while methods may need them
    exposure = exposure_line(provenance) if any(m in GENERATOR_METHODS for m in results) else None
    plot_curves(results, run_dir / "curves.png", exposure, bool(provenance and provenance.get("generator_saw_stream")))
    print(f"\n{'method':<10} {'final avg acc':>13} {'avg forgetting':>14} {'stored bytes':>13} {'w/o generator':>13} "
          f"{'wall s':>8}")
    for m, r in results.items():
        print(f"{m:<10} {r['final_average_accuracy']:>13.4f} {r['final_average_forgetting']:>14.4f} "
              f"{r['stored_bytes']:>13,} {r['stored_bytes_without_generator']:>13,} {r['wall_s']:>8.0f}")
    if exposure:
        print(exposure)
    print(f"wrote {run_dir / 'results.json'}, {run_dir / 'curves.png'} and TensorBoard logs in {run_dir / 'tb'}")
    return results


if __name__ == "__main__":
    sys.exit(main())

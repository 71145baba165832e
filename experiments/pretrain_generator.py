r"""Pretrain the class-conditional generator that IT-GAN replay needs.

    python experiments/pretrain_generator.py --preset cpu \
        --dataset imagefolder:../shared/data/cifar10-jpeg-more --out generators/cifar10-cpu.pt

Pretrain on photos the class-incremental stream never shows (here ``cifar10-jpeg-more``, whose
training photos ``cifar10-jpeg`` does not contain); the report records ``dataset``.

Writes the generator file (EMA weights, config, normalisation, class names,
fingerprint, CAS scores), a JSON report beside it, and under ``--workdir``
the checkpoint, sample grids per checkpoint, snapshots (``--snapshot-every``) and TensorBoard logs.
A run stopped (Ctrl-C, ``kill``) resumes from its checkpoint when the same command is run again; a
checkpoint of other settings stops the run with the values that differ.

CAS (classification accuracy score) measures a generator's quality: a classifier trained only on its
images is scored on real photos held out from training (``--validation-per-class``, beside the test
photos), once per ``--cas-seeds`` seed; the report gives each seed's score, their mean and spread.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from experiments.cli import (HelpFormatter, UsageError, add_cas_options, add_config_options, add_dataset_options,
                             add_device_option, check_device, code_version, config_from_args, line_buffered_output)
from itgan_replay.data import DatasetError, load_dataset, select_classes, split_share, split_validation
from itgan_replay.gan.generator import FrozenGenerator, Generator
from itgan_replay.gan.pretrain import (PRESETS, GANTrainer, NoNativeBF16Error, PretrainConfig, TrainingDivergedError,
                                      init_normal_)
from itgan_replay.gan.quality import cas_over_seeds
from itgan_replay.memory.files import atomic_write_bytes

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--out", required=True, type=Path, help="generator file to write, e.g. generators/NAME.pt")
    p.add_argument("--workdir", type=Path, help="checkpoint, samples and TensorBoard logs (default: OUT without .pt + '.work')")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS),
                   help="paper: ch=64, DiffAugment CIFAR recipe, sized for a GPU; cpu: narrow nets for 2 CPU cores (default); "
                        "cpu64: cpu for 64x64 photos, with bfloat16 autocast (for CPUs with native bf16)")
    add_device_option(p)
    p.add_argument("--validation-per-class", type=int, default=100,
                   help="training photos per class held out (a draw seeded 0) to score the generator's CAS honestly "
                        "beside the test photos; 0 trains on all of them and scores on the test photos alone "
                        "(default: %(default)s)")
    p.add_argument("--classes", help="comma-separated class names to train on, the rest left out (default: every class; "
                                     "e.g. a generator that knows half the stream's classes)")
    p.add_argument("--share", type=float, default=1.0,
                   help="train on this seeded share of each class's training photos (a draw seeded 0; the main job's "
                        "--pretrain-share builds its stream from the rest); 1: all of them")
    add_cas_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(p, PretrainConfig, presets=PRESETS)
    return p.parse_args(argv)


@dataclass(frozen=True)
class PretrainRun:
    """One pretraining run, as typed values (what the script's options say)."""

    dataset: str
    out: Path
    config: PretrainConfig
    preset: str = "cpu"
    workdir: Path | None = None
    device: str = "cpu"
    validation_per_class: int = 100
    cas_per_class: int = 500
    cas_epochs: int = 15
    cas_seeds: int = 2
    progress: bool = True
    data_root: str = "data"
    image_size: int | None = None
    resize: bool = False
    share: float = 1.0
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.validation_per_class < 0:
            raise UsageError(f"--validation-per-class must be 0 or more, got {self.validation_per_class}")
        if not 0 < self.share <= 1:
            raise UsageError(f"--share must lie in (0, 1], got {self.share}")
        for name in ("cas_per_class", "cas_epochs", "cas_seeds"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be 1 or more, got {getattr(self, name)}")
        check_device(self.device)

    @property
    def checkpoint_dir(self) -> Path:
        """``workdir``, by default ``out`` without ``.pt`` plus ``.work``."""
        return self.workdir or self.out.with_name(self.out.stem + ".work")


def pretrain(job: PretrainRun) -> dict:
    """Train the generator (resuming from ``workdir``'s checkpoint where there is one), score its CAS, write the
    generator file and its JSON report, and return the report.

    Raises:
        UsageError, DatasetError: before training, for a run that cannot start as asked (a checkpoint of
            other settings included).
        TrainingDivergedError: the losses diverged or the discriminator stayed dead (the last good checkpoint is kept).
        KeyboardInterrupt: Ctrl-C or SIGTERM, after a checkpoint is written.
    """
    train, test = load_dataset(job.dataset, job.data_root, job.image_size, job.resize)
    if job.classes:
        train, test = (select_classes(d, job.classes) for d in (train, test))
    if job.share < 1:
        train, _ = split_share(train, job.share, seed=0)
    validation = None
    if job.validation_per_class:
        train, validation = split_validation(train, job.validation_per_class, seed=0)
    from torch.utils.tensorboard import SummaryWriter

    config, workdir = job.config, job.checkpoint_dir
    try:
        trainer = GANTrainer(train.images, train.labels, train.class_names, train.mean, train.std, config, workdir,
                             SummaryWriter(str(workdir / "tensorboard")), job.device,
                             about={"dataset": job.dataset, "validation_per_class": job.validation_per_class,
                                    "share": job.share, "classes": list(train.class_names)})
        if trainer.checkpoint_path.exists():
            trainer.load_checkpoint()
            print(f"resuming {trainer.checkpoint_path} at iteration {trainer.iteration} of {config.iterations}", flush=True)
    except ValueError as err:
        raise UsageError(str(err)) from err
    print(f"training on {len(train)} images, {len(train.class_names)} classes; config {asdict(config)}")
    try:
        trainer.train(progress=job.progress)
    except NoNativeBF16Error as err:
        raise UsageError(str(err)) from err

    eval_sets = {"test": (test.normalize(test.images), test.labels)}
    if validation is not None:
        eval_sets["validation"] = (validation.normalize(validation.images), validation.labels)
    generator = trainer.frozen()
    torch.manual_seed(config.seed)
    random_init = FrozenGenerator(init_normal_(Generator(generator.config)), train.mean, train.std, train.class_names)
    scores = {}
    for name, g in (("trained", generator), ("random_init", random_init)):
        scores[name] = cas_over_seeds(g, eval_sets, job.cas_per_class, job.cas_epochs, job.cas_seeds)
        for split, score in scores[name].items():
            print(f"CAS on {split} photos ({name} generator, {job.cas_per_class}/class, {job.cas_epochs} epochs, "
                  f"{job.cas_seeds} seeds): {score['mean']:.4f} ± {score['std']:.4f}")
            trainer.writer.add_scalar(f"quality/cas_{split}_{name}", score["mean"], trainer.iteration)
    report = {"dataset": job.dataset, "image_size": train.image_size, "preset": job.preset, "config": asdict(config),
              "iterations": trainer.iteration,
              "train_seconds": round(trainer.train_seconds, 1),
              "images_per_s": None if trainer.images_per_s is None else round(trainer.images_per_s, 1),
              "rollbacks": trainer.rollbacks, "torch_threads": torch.get_num_threads(), "device": job.device,
              "generator_params": sum(t.numel() for t in generator.net.parameters()), "generator_bytes": generator.param_bytes,
              "cas": scores["trained"]["test"]["mean"], "cas_random_init": scores["random_init"]["test"]["mean"],
              "cas_validation": scores["trained"].get("validation", {}).get("mean"),
              "cas_validation_random_init": scores["random_init"].get("validation", {}).get("mean"),
              "cas_scores": scores, "validation_per_class": job.validation_per_class, "share": job.share,
              "classes": list(train.class_names),
              "n_train": len(train),
              "cas_per_class": job.cas_per_class, "cas_epochs": job.cas_epochs, "cas_seeds": job.cas_seeds,
              "n_test": len(test), "fingerprint": generator.fingerprint,
              "code": code_version()}  # the commit of the last stretch, where the run resumed
    generator.save(job.out, extra=report)
    atomic_write_bytes(job.out.with_suffix(".json"), json.dumps(report, indent=2).encode())
    print(f"wrote {job.out} and {job.out.with_suffix('.json')}")
    return report


def main(argv: list[str] | None = None) -> int:
    line_buffered_output()
    args = parse_args(argv)
    try:
        job = PretrainRun(args.dataset, args.out, config_from_args(args, PRESETS[args.preset]), args.preset, args.workdir,
                          args.device, args.validation_per_class, args.cas_per_class, args.cas_epochs, args.cas_seeds,
                          not args.no_progress, args.data_root, args.image_size, args.resize, args.share,
                          tuple(c.strip() for c in args.classes.split(",") if c.strip()) if args.classes else None)
    except ValueError as err:  # a setting's message names its --option
        print(f"error: {err}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` checkpoints like Ctrl-C
    try:
        pretrain(job)
    except (UsageError, DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped; run the same command again to resume from the checkpoint", file=sys.stderr)
        return 130
    except TrainingDivergedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

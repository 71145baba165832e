"""Replay overhead: wall time of one Avalanche training experience with IT-GAN replay against exemplar replay.

    python benchmarks/replay_overhead.py [--images 200] [--stored 500] [--batch 64] [--ch 8] [--repeats 2]

Generated data: 10 classes, ``--images`` per class, two experiences of 5 classes. Every method
first trains experience 0 (untimed; it fills the exemplar buffer), then experience 1 is timed
from the first ``before_training_exp`` to the first ``after_training_exp`` callback, so buffer
updates and condensation afterwards are not counted. Every replay method holds ``--stored``
samples of the old classes (images, or latents; ``jpeg`` keeps every old image as JPEG, decoded
for each replayed sample; the IT-GAN memory is filled with N(0, I)
latents, because condensation is not what is timed) and adds ``--batch`` replay samples to
every mini-batch of ``--batch`` new images. ``itgan-batch`` regenerates each replay batch;
``itgan-experience`` regenerates all stored samples once at the start of the experience. The
methods run interleaved, ``--repeats`` times; the table shows the median and its ratio to
exemplar replay.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.common import add_network_options, report
from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.nets import ConvNet
from itgan_replay.condensation.recipe import LatentRecipe
from itgan_replay.data import ImageTensors
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig
from itgan_replay.memory.latent import LatentMemory

from strategies import BufferReplayPlugin, ITGANReplayConfig, ITGANReplayPlugin  # first: it silences known warnings
from strategies.jpeg_buffer import JPEGClassBalancedBuffer
from strategies.scenario import class_incremental_stream
from avalanche.core import SupervisedPlugin  # noqa: I001
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.storage_policy import ClassBalancedBuffer
from avalanche.training.supervised import Naive
METHODS = ("naive", "exemplar", "jpeg", "itgan-batch", "itgan-experience")


def build_plugins(method: str, generator: FrozenGenerator, stored: int, batch: int, old_classes: list[int],
                  jpeg_quality: int, image_size: int) -> list:
    if method == "naive":
        return []
    if method == "exemplar":
        policy = ClassBalancedBuffer(stored, adaptive_size=False, total_num_classes=2 * len(old_classes))
        return [BufferReplayPlugin(stored, batch_size_mem=batch, storage_policy=policy)]
    if method == "jpeg":  # a budget that holds every old image: what is timed is decoding each replayed sample
        policy = JPEGClassBalancedBuffer(10**9, 2 * len(old_classes), jpeg_quality, (0.5,) * 3, (0.5,) * 3,
                                         image_size)
        return [BufferReplayPlugin(policy.max_size, batch_size_mem=batch, storage_policy=policy)]
    memory = LatentMemory(generator)
    g = torch.Generator().manual_seed(0)
    for c in old_classes:
        memory.add(c, torch.randn(stored // len(old_classes), generator.config.z_dim, generator=g))
    config = ITGANReplayConfig(LatentRecipe(init="random", condense=CondenseConfig(iterations=0)),
                               latents_per_class=stored // len(old_classes), replay_batch_size=batch,
                               regenerate=method.split("-")[1], progress=False)
    return [ITGANReplayPlugin(generator, config, memory)]


class ExperienceTimer(SupervisedPlugin):
    """Seconds from ``before_training_exp`` to ``after_training_exp``; it must be the strategy's first plugin."""

    def __init__(self) -> None:
        super().__init__()
        self.start = self.seconds = 0.0

    def before_training_exp(self, strategy, **kwargs) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def after_training_exp(self, strategy, **kwargs) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


def time_method(method: str, benchmark, generator: FrozenGenerator, args: argparse.Namespace) -> float:
    torch.manual_seed(0)
    model = ConvNet(10, width=args.width, image_size=args.image_size)
    timer = ExperienceTimer()
    plugins = build_plugins(method, generator, args.stored, args.batch, list(range(5)), args.jpeg_quality,
                            args.image_size)
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), criterion=torch.nn.CrossEntropyLoss(),
                     train_mb_size=args.batch, train_epochs=args.epochs, device=args.device,
                     plugins=[timer, *plugins], evaluator=EvaluationPlugin(loggers=[]))
    first, second = benchmark.train_stream
    strategy.train(first)
    strategy.train(second)
    return timer.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=200, help="training images per class")
    p.add_argument("--stored", type=int, default=500, help="stored replay samples (images or latents) of the old classes")
    p.add_argument("--batch", type=int, default=64, help="new images and replay samples per mini-batch")
    p.add_argument("--epochs", type=int, default=1, help="training epochs per experience")
    add_network_options(p, 64, "ConvNet classifier width")
    p.add_argument("--jpeg-quality", type=int, default=50, help="quality of the jpeg method's exemplars")
    p.add_argument("--repeats", type=int, default=2, help="interleaved repetitions of every method")
    p.add_argument("--device", default="cpu", help="training and regeneration device")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/replay_overhead.json"), help="JSON output")
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat_interleave(args.images)
    data = ImageTensors(torch.randint(256, (len(labels), 3, args.image_size, args.image_size), generator=g,
                                      dtype=torch.uint8), labels,
                        [str(c) for c in range(10)])
    benchmark = class_incremental_stream(data, data, 2, list(range(10)))
    torch.manual_seed(0)
    generator = FrozenGenerator(Generator(GeneratorConfig(n_classes=10, ch=args.ch, img_size=args.image_size)), (0.5,) * 3, (0.5,) * 3)
    seconds = {m: [] for m in METHODS}
    for r in range(args.repeats):
        for method in METHODS:
            seconds[method].append(time_method(method, benchmark, generator, args))
            print(f"  repeat {r + 1}: {method} {seconds[method][-1]:.2f} s", flush=True)
    exemplar = statistics.median(seconds["exemplar"])
    rows = [{"method": m, "s_per_experience": statistics.median(s), "vs_exemplar": statistics.median(s) / exemplar,
             "replay_per_batch": 0 if m == "naive" else args.batch, "runs": s} for m, s in seconds.items()]
    report(rows, ["method", "s_per_experience", "vs_exemplar", "replay_per_batch"], args.out,
           vars(args))


if __name__ == "__main__":
    main()

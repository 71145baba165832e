"""Checks on the real CIFAR-10 JPEG data beside the repository (``../shared/data/cifar10-jpeg``).

Slow (minutes): run with ``pytest -m slow``. Skipped where the data or the demo generator is absent.
"""
from pathlib import Path

import pytest
import torch

from itgan_replay.data import load_dataset
from itgan_replay.gan.generator import FrozenGenerator, Generator
from itgan_replay.gan.pretrain import init_normal_
from itgan_replay.gan.quality import classification_accuracy_scores

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg"
DEMO = ROOT / "generators" / "demo-cifar10-cpu.pt"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DATA.is_dir() and DEMO.is_file()), reason="needs the CIFAR-10 JPEG data and the demo generator")]


def test_demo_generator_beats_random_init_on_real_test_images():
    generator = FrozenGenerator.load(DEMO)
    _, test = load_dataset(f"imagefolder:{DATA}")
    test_x = test.with_stats(generator.mean_values, generator.std_values).normalize(test.images)
    torch.manual_seed(0)
    random_init = FrozenGenerator(init_normal_(Generator(generator.config)), generator.mean_values, generator.std_values)
    trained, baseline = (classification_accuracy_scores(g, {"test": (test_x, test.labels)}, n_per_class=200, epochs=10)["test"]
                         for g in (generator, random_init))
    print(f"CAS trained {trained:.4f}, random init {baseline:.4f}")
    assert trained > baseline + 0.15

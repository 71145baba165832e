from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from itgan_replay.data import DatasetError, load_dataset, load_image_folder
from itgan_replay.generator import FrozenGenerator
from itgan_replay.io import load_checked
from itgan_replay.pretrain import CHECKPOINT_KIND, CHECKPOINT_VERSION, GANTrainer, PretrainConfig, TrainingDivergedError

TINY = PretrainConfig(ch=2, d_ch=2, z_dim=16, batch_size=8, d_steps=2, ema_decay=0.9, ema_start=2,
                      iterations=6, checkpoint_every=3, log_every=1, seed=1)


def trainer(workdir, config=TINY):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(4).repeat(10)
    return GANTrainer(images, labels, ["a", "b", "c", "d"], (0.5,) * 3, (0.25,) * 3, config, workdir)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    full = trainer(tmp_path / "full")
    full.train(progress=False)
    first = trainer(tmp_path / "split", replace(TINY, iterations=3))
    first.train(progress=False)
    resumed = trainer(tmp_path / "split")
    resumed.load_checkpoint()
    assert resumed.iteration == 3
    resumed.train(progress=False)
    for name in ("G", "D", "G_ema"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert full.frozen().fingerprint == resumed.frozen().fingerprint
    assert (tmp_path / "full" / "samples" / "iter_000006.png").exists()


def test_checkpoint_of_another_config_is_refused(tmp_path):
    trainer(tmp_path, replace(TINY, iterations=3)).train(progress=False)
    other = trainer(tmp_path, replace(TINY, lr_g=1e-3))
    with pytest.raises(ValueError, match="different run"):
        other.load_checkpoint()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    t = trainer(tmp_path)
    real_forward = type(t.D).forward
    monkeypatch.setattr(type(t.D), "forward", lambda self, x, y: real_forward(self, x, y) * (float("nan") if t.iteration >= 4 else 1))
    with pytest.raises(TrainingDivergedError, match="last good checkpoint"):
        t.train(progress=False)
    _, state = load_checked(t.checkpoint_path, CHECKPOINT_KIND, CHECKPOINT_VERSION)
    assert state["iteration"] == 3 and all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_generator_file_from_trainer_loads_with_core_only(tmp_path):
    t = trainer(tmp_path, replace(TINY, iterations=1))
    t.train(progress=False)
    t.frozen().save(tmp_path / "g.pt")
    g = FrozenGenerator.load(tmp_path / "g.pt")
    assert g.class_names == ["a", "b", "c", "d"] and g.std_values == (0.25,) * 3


def write_folder(root, classes, n=2, size=32):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((size, size, 3), 10 * i, np.uint8)).save(root / c / f"{i}.png")


def test_image_folder_loads_and_normalises(tmp_path):
    write_folder(tmp_path / "train", ["cat", "dog"])
    write_folder(tmp_path / "test", ["cat", "dog"], n=1)
    train, test = load_dataset(f"imagefolder:{tmp_path}")
    assert train.images.shape == (4, 3, 32, 32) and train.class_names == ["cat", "dog"]
    assert train.labels.tolist() == [0, 0, 1, 1] and len(test) == 2
    assert train.mean[0] == pytest.approx(5 / 255)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such directory"):
        load_image_folder(tmp_path / "nope")
    write_folder(tmp_path / "one", ["cat"])
    with pytest.raises(DatasetError, match="at least 2"):
        load_image_folder(tmp_path / "one")
    write_folder(tmp_path / "empty", ["cat"])
    (tmp_path / "empty" / "dog").mkdir()
    with pytest.raises(DatasetError, match="'dog' has no images"):
        load_image_folder(tmp_path / "empty")
    write_folder(tmp_path / "big", ["cat", "dog"], size=40)
    with pytest.raises(DatasetError, match="--resize"):
        load_image_folder(tmp_path / "big")
    assert load_image_folder(tmp_path / "big", resize=True).images.shape == (4, 3, 32, 32)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("mnist")


def test_offline_cifar_says_where_to_put_files(tmp_path, monkeypatch):
    from torchvision import datasets

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(datasets.CIFAR10, "download", offline)
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", tmp_path)


def test_dead_discriminator_is_reported(tmp_path, monkeypatch, capsys):
    t = trainer(tmp_path, replace(TINY, iterations=2))
    real_forward = type(t.D).forward
    monkeypatch.setattr(type(t.D), "forward", lambda self, x, y: real_forward(self, x, y) * 0 + 0.5)
    t.train(progress=False)
    captured = capsys.readouterr()
    assert "gives every image the same score" in captured.out + captured.err

import copy
import math
import statistics
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from itgan_replay.data import DatasetError, count_classes, load_dataset, load_image_folder
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.gan.pretrain import (CHECKPOINT_KIND, CHECKPOINT_VERSION, Discriminator, GANTrainer, PretrainConfig,
                                   TrainingDivergedError, init_normal_)
from itgan_replay.memory.files import load_checked

TINY = PretrainConfig(ch=2, d_ch=2, z_dim=16, batch_size=8, d_steps=2, ema_decay=0.9, ema_start=2,
                      iterations=6, checkpoint_every=3, log_every=1, seed=1)


def trainer(workdir, config=TINY, size=32):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, size, size), dtype=torch.uint8, generator=g)
    labels = torch.arange(4).repeat(10)
    return GANTrainer(images, labels, ["a", "b", "c", "d"], (0.5,) * 3, (0.25,) * 3, config, workdir)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    full = trainer(tmp_path / "full")
    full.train(progress=False)
    first = trainer(tmp_path / "split", replace(TINY, iterations=3))
    first.train(progress=False)
    resumed = trainer(tmp_path / "split")
    resumed.load_checkpoint()
    assert resumed.iteration == 3 and resumed.train_seconds > 0
    resumed.train(progress=False)
    for name in ("G", "D", "G_ema"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert full.frozen().fingerprint == resumed.frozen().fingerprint
    assert (tmp_path / "full" / "samples" / "iter_000006.png").exists()


def test_a_64_pixel_run_builds_its_networks_for_64_pixels_and_its_checkpoint_refuses_32(tmp_path):
    big = trainer(tmp_path, replace(TINY, iterations=3), size=64)
    big.train(progress=False)
    assert big.G.config.img_size == 64 and len(big.G.blocks) == 4
    feature_maps = []  # D halves 64 px in one narrow block (ch channels) before its 32-px blocks, as at 32 px
    big.D.blocks[1].register_forward_hook(lambda m, x, out: feature_maps.append((x[0].shape, out.shape)))
    big.D(torch.zeros(2, 3, 64, 64), torch.tensor([0, 1]))
    assert feature_maps == [(torch.Size([2, 2, 32, 32]), torch.Size([2, 8, 16, 16]))]
    assert big.frozen().generate(torch.randn(2, 16), torch.tensor([0, 3])).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="trained on 64-pixel images, this run has 32-pixel ones"):
        trainer(tmp_path).load_checkpoint()
    shape = lambda d: [(b.conv1.in_channels, b.conv2.out_channels, b.down) for b in d.blocks]  # noqa: E731
    assert shape(Discriminator(4, 2, 32)) == [(3, 8, True), (8, 8, True), (8, 8, False), (8, 8, False)]  # as before
    assert shape(Discriminator(4, 2, 64)) == [(3, 2, True), (2, 8, True), (8, 8, True), (8, 8, False), (8, 8, False)]


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
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("mnist")


def test_image_size_is_the_datasets_own_or_resized_to_on_request(tmp_path):
    write_folder(tmp_path / "big", ["cat", "dog"], size=40)
    assert load_image_folder(tmp_path / "big").image_size == 40  # the photos' own size
    with pytest.raises(DatasetError, match="not 32x32; pass --image-size 32 --resize"):
        load_image_folder(tmp_path / "big", image_size=32)
    small = load_image_folder(tmp_path / "big", image_size=32, resize=True)
    assert small.images.shape == (4, 3, 32, 32)
    with pytest.raises(DatasetError, match="--resize needs --image-size"):
        load_image_folder(tmp_path / "big", resize=True)
    with pytest.raises(DatasetError, match="--image-size must be 8 or more"):
        load_dataset("cifar10", tmp_path, image_size=4)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "big" / "dog" / "9.png")
    with pytest.raises(DatasetError, match="9.png is 64x64, not 40x40"):  # a mixed folder stops at the first odd photo
        load_image_folder(tmp_path / "big")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "big" / "cat" / "0.png")
    with pytest.raises(DatasetError, match="not square"):
        load_image_folder(tmp_path / "big")
    write_folder(tmp_path / "pair" / "train", ["cat", "dog"], size=64)
    write_folder(tmp_path / "pair" / "test", ["cat", "dog"], size=32)
    with pytest.raises(DatasetError, match="not 64x64"):  # test photos must match the train photos
        load_dataset(f"imagefolder:{tmp_path / 'pair'}")
    train, test = load_dataset(f"imagefolder:{tmp_path / 'pair'}", image_size=48, resize=True)
    assert train.image_size == test.image_size == 48


def test_count_classes_reads_folder_names_only(tmp_path):
    write_folder(tmp_path / "train", ["cat", "dog", "eel"])
    (tmp_path / "train" / "notes.txt").write_text("not a class")
    assert count_classes(f"imagefolder:{tmp_path}") == 3
    assert count_classes("cifar100") == 100 and count_classes("cifar10") == 10
    with pytest.raises(DatasetError, match="no such directory"):
        count_classes(f"imagefolder:{tmp_path / 'nope'}")
    with pytest.raises(DatasetError, match="unknown dataset"):
        count_classes("mnist")


def test_offline_cifar_says_where_to_put_files(tmp_path, monkeypatch):
    from torchvision import datasets

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(datasets.CIFAR10, "download", offline)
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", tmp_path)


def kill_discriminator(t, monkeypatch, when):
    """Zero D's features (a dead D: one score for every image) in the steps where ``when()`` holds."""
    real_features = type(t.D).features
    monkeypatch.setattr(type(t.D), "features", lambda self, x: real_features(self, x) * (0 if when() else 1))


def test_dead_discriminator_rolls_back_to_last_good_checkpoint_with_halved_lr(tmp_path, monkeypatch, capsys):
    t = trainer(tmp_path, replace(TINY, iterations=8, checkpoint_every=1))
    kill_discriminator(t, monkeypatch, lambda: t.rollbacks == 0 and t.iteration >= 3)  # dead at iterations 4 and 5
    t.train(progress=False)
    captured = capsys.readouterr()
    assert "rolled back to iteration 3 with lr_d 0.0001" in captured.out + captured.err
    assert t.iteration == 8 and t.rollbacks == 1
    assert [g["lr"] for g in t.opt_d.param_groups] == [TINY.lr_d / 2]
    _, state = load_checked(t.checkpoint_path, CHECKPOINT_KIND, CHECKPOINT_VERSION)
    assert state["rollbacks"] == 1 and state["opt_d"]["param_groups"][0]["lr"] == TINY.lr_d / 2
    resumed = trainer(tmp_path, replace(TINY, iterations=8, checkpoint_every=1))
    resumed.load_checkpoint()
    assert resumed.rollbacks == 1 and resumed.opt_d.param_groups[0]["lr"] == TINY.lr_d / 2


def test_discriminator_that_stays_dead_stops_with_advice_and_keeps_good_checkpoint(tmp_path, monkeypatch):
    t = trainer(tmp_path, replace(TINY, iterations=8, checkpoint_every=1, max_rollbacks=2))
    kill_discriminator(t, monkeypatch, lambda: t.iteration >= 3)
    with pytest.raises(TrainingDivergedError, match="after 2 rollbacks.*lower --lr-d"):
        t.train(progress=False)
    assert t.opt_d.param_groups[0]["lr"] == TINY.lr_d / 4
    _, state = load_checked(t.checkpoint_path, CHECKPOINT_KIND, CHECKPOINT_VERSION)
    assert state["iteration"] == 3  # the dead iteration 4 was never checkpointed


def test_active_units_is_the_fraction_of_positive_real_features(tmp_path, monkeypatch):
    t = trainer(tmp_path)
    width = 4 * TINY.d_ch
    pattern = torch.tensor([1.0, -1.0] * (width // 2))[:width]  # half the units positive for every image
    monkeypatch.setattr(type(t.D), "features", lambda self, x: F.relu(self.blocks(x)).sum((2, 3)) * 0 + F.relu(pattern))
    assert t.step()["d/active_units"] == 0.5


def test_weights_start_from_normal_002_with_fresh_spectral_norm_vectors():
    torch.manual_seed(0)
    d = init_normal_(Discriminator(4, ch=8))
    w = d.blocks[1].conv1.parametrizations.weight.original
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    sigma = torch.linalg.matrix_norm(w.flatten(1), ord=2)
    d.eval()
    assert torch.allclose(torch.linalg.matrix_norm(d.blocks[1].conv1.weight.flatten(1), ord=2), torch.tensor(1.0), atol=0.02)
    assert sigma.item() > 0.1  # so the normalised weight above really was divided by the new weights' norm


def test_ema_averages_parameters_and_copies_spectral_norm_vectors(tmp_path):
    config = replace(TINY, ema_start=0, ema_decay=0.7)
    t = trainer(tmp_path, config)
    expected = {k: v.detach().double().clone() for k, v in t.G.named_parameters()}
    for _ in range(3):
        t.step()
        for k, v in t.G.named_parameters():
            expected[k] = 0.7 * expected[k] + 0.3 * v.detach().double()
    ema_params = dict(t.G_ema.named_parameters())
    assert all(torch.allclose(ema_params[k].double(), expected[k], atol=1e-6) for k in expected)
    assert not torch.allclose(ema_params["shared.weight"], dict(t.G.named_parameters())["shared.weight"])
    ema_buffers = dict(t.G_ema.named_buffers())
    assert all(torch.equal(ema_buffers[k], b) for k, b in t.G.named_buffers())


def test_frozen_generator_uses_ema_weights_with_standing_statistics(tmp_path):
    t = trainer(tmp_path, replace(TINY, ema_start=0, ema_decay=0.7, standing_batches=1, batch_size=64))
    for _ in range(3):
        t.step()
    frozen = t.frozen()
    assert all(torch.equal(frozen.state[k], v) for k, v in t.G_ema.state_dict().items()
               if "running" not in k and "num_batches" not in k)
    # independently: each batch norm's input statistics on frozen()'s standing batch, through the EMA weights
    rng = torch.Generator().manual_seed(TINY.seed + 2)
    z, y = torch.randn(64, TINY.z_dim, generator=rng), torch.randint(4, (64,), generator=rng)
    net, inputs = copy.deepcopy(t.G_ema).eval(), {}
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.track_running_stats, m.running_mean, m.running_var = False, None, None  # normalise by the batch
            m.register_forward_pre_hook(lambda mod, args, name=name: inputs.__setitem__(name, args[0]))
    with torch.no_grad():
        net(z, y)
    frozen_norms = dict(frozen.net.named_modules())
    reference = copy.deepcopy(t.G_ema).eval()  # the EMA weights with those statistics, evaluated as is
    reference_norms = dict(reference.named_modules())
    for name, x in inputs.items():
        assert torch.allclose(frozen_norms[name].running_mean, x.mean((0, 2, 3)), atol=1e-5), name
        assert torch.allclose(frozen_norms[name].running_var, x.var((0, 2, 3)), rtol=1e-4, atol=1e-6), name
        reference_norms[name].running_mean.copy_(x.mean((0, 2, 3)))
        reference_norms[name].running_var.copy_(x.var((0, 2, 3)))
    # FrozenGenerator bakes each spectral norm after one more power iteration on the EMA weights (G's
    # copied vectors are its warm start): one forward with the spectral norms, not the batch norms, training
    reference.train()
    for m in reference_norms.values():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    z2, y2 = torch.randn(10, TINY.z_dim), torch.arange(10) % 4
    with torch.no_grad():
        expected = ((reference(z2, y2) + 1) / 2 - frozen.mean) / frozen.std
    assert torch.allclose(frozen.generate(z2, y2), expected, atol=1e-4)
    assert not torch.allclose(frozen.net.out_bn.running_mean, t.G.out_bn.running_mean, atol=1e-3)


def test_validation_split_holds_out_training_photos_per_class():
    from itgan_replay.data import ImageTensors, split_validation
    labels = torch.arange(3).repeat_interleave(10)
    images = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1).expand(30, 3, 32, 32).contiguous()  # image i is all i
    data = ImageTensors(images, labels, ["a", "b", "c"], (0.1, 0.2, 0.3), (0.5, 0.5, 0.5))
    rest, held = split_validation(data, 4, seed=1)
    assert torch.bincount(held.labels).tolist() == [4, 4, 4] and torch.bincount(rest.labels).tolist() == [6, 6, 6]
    ids = lambda d: set(d.images[:, 0, 0, 0].tolist())  # noqa: E731
    assert ids(rest) | ids(held) == set(range(30)) and not ids(rest) & ids(held)
    assert all(labels[i] == y for i, y in zip(held.images[:, 0, 0, 0].tolist(), held.labels.tolist()))
    assert held.mean == data.mean and held.class_names == data.class_names
    assert ids(split_validation(data, 4, seed=1)[1]) == ids(held) != ids(split_validation(data, 4, seed=2)[1])
    with pytest.raises(DatasetError, match="would leave none"):
        split_validation(data, 10)


def test_build_pool_and_trained_net_leave_the_global_rng_alone():
    from itgan_replay.condensation.nets import build_pool, trained_net
    x, y = torch.randn(16, 3, 32, 32), torch.arange(4).repeat(4)
    torch.manual_seed(5)
    state = torch.get_rng_state()
    pool = build_pool(x, y, 4, n_nets=2, epochs=1, width=8, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    again = trained_net(x, y, 4, 1, width=8, seed=4)  # net i of a pool is the trained net of seed + i
    assert all(torch.equal(again.state_dict()[k], v) for k, v in pool[1].items())


def test_mixed_precision_step_runs_under_bfloat16_autocast_keeps_float32_weights_and_a_finished_run_ends_anywhere(tmp_path, monkeypatch):
    from itgan_replay.gan import pretrain
    images, labels = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8), torch.arange(40) % 4
    config = PretrainConfig(ch=2, d_ch=2, batch_size=8, d_steps=1, iterations=1, amp=True)
    monkeypatch.setattr(pretrain, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(pretrain.NoNativeBF16Error, match=r"Start a new run with --amp 0.*native bfloat16$"):
        GANTrainer(images, labels, list("abcd"), (0.5,) * 3, (0.5,) * 3, config, tmp_path).train(progress=False)
    assert not (tmp_path / "checkpoint.pt").exists()  # it stopped before anything, rather than crawl
    monkeypatch.setattr(pretrain, "cpu_has_native_bf16", lambda: True)  # emulated here if need be: one tiny step
    GANTrainer(images, labels, list("abcd"), (0.5,) * 3, (0.5,) * 3, config, tmp_path).train(progress=False)
    monkeypatch.setattr(pretrain, "cpu_has_native_bf16", lambda: False)
    finished = GANTrainer(images, labels, list("abcd"), (0.5,) * 3, (0.5,) * 3, config, tmp_path)
    finished.load_checkpoint()
    finished.train(progress=False)  # nothing left to train: it ends without bfloat16
    assert finished.iteration == 1
    longer = GANTrainer(images, labels, list("abcd"), (0.5,) * 3, (0.5,) * 3, replace(config, iterations=2), tmp_path)
    longer.load_checkpoint()
    with pytest.raises(pretrain.NoNativeBF16Error, match=r"or end it at its checkpoint \(--iterations 1\)"):
        longer.train(progress=False)
    monkeypatch.setattr(pretrain, "cpu_has_native_bf16", lambda: True)
    trainer = GANTrainer(images, labels, list("abcd"), (0.5,) * 3, (0.5,) * 3, config, tmp_path / "fresh")
    dtypes = []
    forward = trainer.D.features
    monkeypatch.setattr(trainer.D, "features", lambda x: dtypes.append(forward(x).dtype) or forward(x))
    losses = trainer.step()
    assert dtypes and set(dtypes) == {torch.bfloat16}  # D ran under autocast
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters()) and all(map(math.isfinite, losses.values()))


def test_pretraining_holds_out_validation_photos_and_scores_cas_on_them(tmp_path, capsys):
    import json

    from conftest import write_image_folder
    from experiments.cli import code_version
    from experiments.pretrain_generator import main as pretrain_main

    data = write_image_folder(tmp_path / "photos", ["a", "b"], n_train=6, n_test=3)
    out = tmp_path / "g.pt"
    common = ["--dataset", f"imagefolder:{data}", "--out", str(out), "--ch", "2", "--d-ch", "2", "--batch-size", "4",
              "--iterations", "2", "--checkpoint-every", "2", "--log-every", "1", "--standing-batches", "1",
              "--cas-per-class", "4", "--cas-epochs", "1", "--no-progress"]
    assert pretrain_main(common + ["--validation-per-class", "2", "--cas-seeds", "3"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["n_train"] == 2 * 4 and report["validation_per_class"] == 2 and report["cas_seeds"] == 3
    assert 0 <= report["cas_validation"] <= 1 and 0 <= report["cas_validation_random_init"] <= 1
    for name in ("trained", "random_init"):  # three CAS classifiers, their mean and sample std
        for split in ("validation", "test"):
            score = report["cas_scores"][name][split]
            assert len(score["per_seed"]) == 3 and score["mean"] == pytest.approx(sum(score["per_seed"]) / 3)
            assert score["std"] == pytest.approx(statistics.stdev(score["per_seed"]))
    assert report["cas_validation"] == report["cas_scores"]["trained"]["validation"]["mean"]
    assert report["code"] == code_version() and report["images_per_s"] > 0
    # ended again at its checkpoint (nothing left to train): no speed to report, written as null (NaN is not JSON)
    assert pretrain_main(common + ["--validation-per-class", "2", "--cas-seeds", "3"]) == 0
    ended = json.loads(out.with_suffix(".json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the report"))
    assert ended["images_per_s"] is None and ended["iterations"] == 2
    # resuming with another hold-out would train on other photos: refused
    assert pretrain_main(common + ["--validation-per-class", "1"]) == 2
    assert "was trained on 8 images, this run has 10" in capsys.readouterr().err
    assert pretrain_main(common + ["--validation-per-class", "-1"]) == 2
    assert pretrain_main(common + ["--lr-d", "0"]) == 2
    assert pretrain_main(common + ["--cas-seeds", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --validation-per-class must be 0 or more, got -1",
                                                    "error: --lr-d must be positive, got 0.0",
                                                    "error: --cas-seeds must be 1 or more, got 0"]


def test_snapshots_are_generator_files_of_the_ema_at_fixed_iterations_and_do_not_change_training(tmp_path):
    plain = trainer(tmp_path / "plain")
    plain.train(progress=False)
    snapped = trainer(tmp_path / "snapped", replace(TINY, snapshot_every=2))
    snapped.train(progress=False)
    assert sorted(p.name for p in (tmp_path / "snapped/snapshots").iterdir()) == [
        "iter_000000.pt", "iter_000002.pt", "iter_000004.pt", "iter_000006.pt"]  # the random init included
    assert not (tmp_path / "plain/snapshots").exists()
    last = FrozenGenerator.load(snapped.snapshot_path(6))
    assert last.fingerprint == snapped.frozen().fingerprint == plain.frozen().fingerprint
    assert last.extra["iteration"] == 6
    assert FrozenGenerator.load(snapped.snapshot_path(0)).fingerprint != last.fingerprint


def test_score_generators_scores_each_snapshot_on_the_held_out_photos_and_resumes(tmp_path, capsys):
    import json

    from conftest import write_image_folder
    from experiments import score_generators
    from experiments.pretrain_generator import main as pretrain_main

    data = write_image_folder(tmp_path / "photos", ["a", "b"], n_train=6, n_test=3)
    spec = f"imagefolder:{data}"
    assert pretrain_main(["--dataset", spec, "--out", str(tmp_path / "g.pt"), "--ch", "2", "--d-ch", "2",
                          "--batch-size", "4", "--iterations", "2", "--snapshot-every", "1", "--standing-batches", "1",
                          "--cas-per-class", "4", "--cas-epochs", "1", "--cas-seeds", "1", "--validation-per-class", "2",
                          "--no-progress"]) == 0
    snapshots, out = tmp_path / "g.work/snapshots", tmp_path / "cas.json"
    argv = [str(snapshots), "--dataset", spec, "--validation-per-class", "2", "--cas-per-class", "4", "--cas-epochs", "1",
            "--cas-seeds", "2", "--out", str(out)]
    assert score_generators.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["iteration"] for r in rows] == [0, 1, 2] and {r["trained_on"] for r in rows} == {spec}
    assert all(len(r["cas"][split]["per_seed"]) == 2 for r in rows for split in ("validation", "test"))
    # the last snapshot is the shipped generator; its validation photos are the ones pretraining held out
    report = json.loads((tmp_path / "g.json").read_text())
    assert rows[2]["fingerprint"] == report["fingerprint"]
    assert rows[2]["cas"]["validation"]["per_seed"][0] == report["cas_scores"]["trained"]["validation"]["per_seed"][0]
    assert score_generators.main(argv) == 0 and capsys.readouterr().out.count("already in") == 3
    assert score_generators.main(argv[:-4] + ["--cas-seeds", "1", "--out", str(out)]) == 2
    assert "cas_seeds: 2 (saved) -> 1 (now)" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert score_generators.main([str(tmp_path / "empty"), "--dataset", spec, "--out", str(tmp_path / "x.json")]) == 2
    assert "no generator files (*.pt) in this folder" in capsys.readouterr().err


def test_demo_stream_is_seeded_its_generator_photos_are_other_photos_and_both_share_the_test_photos():
    from itgan_replay.data import demo_images

    train, test = load_dataset("demo")
    more, more_test = load_dataset("demo-more")
    assert train.images.shape == (600, 3, 32, 32) and test.images.shape == (200, 3, 32, 32)
    assert torch.equal(train.labels.bincount(), torch.full((10,), 60)) and count_classes("demo") == 10
    assert torch.equal(test.images, more_test.images) and train.class_names[1] == "stripes018"
    assert torch.equal(demo_images(3, seed=7).images, demo_images(3, seed=7).images)  # the same draw every time
    flat = lambda d: {bytes(x.numpy()) for x in d.images}  # noqa: E731
    assert not flat(train) & flat(more) and not flat(train) & flat(test)  # no photo in two sets
    assert 0.2 < train.mean[0] < 0.4 and train.images.float().std() > 30  # varied, not saturated
    with pytest.raises(DatasetError, match="the demo photos are 32x32"):
        load_dataset("demo", image_size=64, resize=True)


def test_console_commands_are_the_main_job_and_pretraining():
    from importlib.metadata import entry_points

    from experiments import pretrain_generator, split_cifar100

    commands = {e.name: e for e in entry_points(group="console_scripts") if e.name.startswith("itgan-replay")}
    assert commands["itgan-replay-run"].load() is split_cifar100.main
    assert commands["itgan-replay-pretrain"].load() is pretrain_generator.main


def test_pretraining_on_some_classes_knows_only_them_and_records_them(tmp_path, capsys):
    import json

    from conftest import write_image_folder
    from experiments.pretrain_generator import main as pretrain_main
    from itgan_replay.data import select_classes

    data = write_image_folder(tmp_path / "photos", ["a", "b", "c"], n_train=6, n_test=3)
    train = load_dataset(f"imagefolder:{data}")[0]
    picked = select_classes(train, ["c", "a"])
    assert picked.class_names == ["a", "c"] and picked.labels.tolist() == [0] * 6 + [1] * 6  # the dataset's order
    assert torch.equal(picked.images[6:], train.images[train.labels == 2])
    with pytest.raises(DatasetError, match="no class zebra in the dataset"):
        select_classes(train, ["zebra"])
    out = tmp_path / "g.pt"
    assert pretrain_main(["--dataset", f"imagefolder:{data}", "--out", str(out), "--ch", "2", "--d-ch", "2", "--batch-size",
                          "4", "--iterations", "1", "--checkpoint-every", "1", "--standing-batches", "1", "--cas-per-class",
                          "2", "--cas-epochs", "1", "--cas-seeds", "1", "--validation-per-class", "2", "--no-progress",
                          "--classes", "c,a"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["classes"] == ["a", "c"] and report["n_train"] == 2 * 4
    assert FrozenGenerator.load(out).class_names == ["a", "c"]

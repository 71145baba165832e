import json
import re
from dataclasses import replace

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments import split_cifar100
from experiments.cli import UsageError
from itgan_replay import FrozenGenerator, load_dataset
from itgan_replay.gan import quality
from conftest import smoke_stream, tiny_generator, write_image_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return smoke_stream(tmp_path_factory.mktemp("exp"))


def run(setup, *extra):
    root, dataset, gen = setup
    return split_cifar100.main(["--preset", "smoke", "--dataset", dataset, "--generator", str(gen), "--experiences", "2",
                                "--out-dir", str(root / "runs"), "--name", "t", "--no-progress", *extra])


def test_smoke_run_writes_results_plots_and_tensorboard(setup, capsys):
    root = setup[0]
    assert run(setup) == 0
    results = json.loads((root / "runs/t/results.json").read_text())["results"]
    assert list(results) == ["itgan", "inversion", "gan-stored", "gan-fresh", "exemplar", "jpeg", "naive", "joint"]
    for name, r in results.items():
        acc = r["accuracy_matrix"]  # acc[i][j]: experience j after training experience i, j <= i
        assert [len(row) for row in acc] == [1, 2] and 0 <= r["final_average_accuracy"] <= 1
        assert r["average_accuracy"] == pytest.approx([acc[0][0], (acc[1][0] + acc[1][1]) / 2])  # equal-size experiences
        if name != "joint":  # Avalanche's StreamForgetting: first accuracy minus last, averaged over the experiences
            assert r["average_forgetting"] == pytest.approx([0, acc[0][0] - acc[1][0]])  # trained before the last one
        [events] = (root / "runs/t/tb" / name).glob("events.out.tfevents.*")
        logged = EventAccumulator(str(events)).Reload().Tags()["scalars"]
        assert "Top1_Acc_Stream/eval_phase/test_stream" in logged
        assert "Loss_Epoch/train_phase/train_stream" in logged  # the training loss
        assert "Top1_Acc_Stream" in (root / "runs/t/logs" / f"{name}.txt").read_text()
    assert results["naive"]["stored_bytes"] == 0 and results["exemplar"]["stored_bytes"] == 48 * 3072  # all fits
    assert 623 + 48 * 100 < results["jpeg"]["stored_bytes"] < 48 * 3072  # all fits as JPEG, header counted once
    assert results["itgan"]["stored_bytes"] <= 1_200_000
    generator_bytes = results["gan-fresh"]["generator_bytes"]
    assert results["gan-fresh"]["stored_bytes"] == generator_bytes == results["itgan"]["generator_bytes"] > 0
    assert results["gan-fresh"]["stored_samples"] == 0
    assert results["joint"]["final_average_forgetting"] == 0
    for r in results.values():  # per class, the final model on each class's 4 test photos: the average of them all
        per_class = r["final_class_accuracy"]
        assert list(per_class) == ["0", "1", "2", "3"] and all(v in (0, 0.25, 0.5, 0.75, 1) for v in per_class.values())
        assert sum(per_class.values()) / 4 == pytest.approx(r["final_average_accuracy"])
    assert (root / "runs/t/curves.png").stat().st_size > 1000
    for saved in ("methods/itgan.json", "results.json"):  # both say which photos the generator saw
        assert json.loads((root / "runs/t" / saved).read_text())["settings"]["generator_trained_on"] == "imagefolder:pretrain-photos"
    assert "generator_trained_on" not in json.loads((root / "runs/t/methods/exemplar.json").read_text())["settings"]
    settings = json.loads((root / "runs/t/results.json").read_text())["settings"]
    assert settings["generator_saw_stream"] is False and settings["generator_classes"] == ["0", "1", "2", "3"]
    assert "trained on photos of imagefolder:pretrain-photos, 4 classes; not the stream's photos" in capsys.readouterr().out
    # a rerun with the same name loads finished methods instead of training again, and keeps the others in results.json
    assert json.loads((root / "runs/t/results.json").read_text())["generator_file"] == str(setup[2])
    assert run(setup, "--methods", "naive") == 0
    assert "already done" in capsys.readouterr().out
    rerun = json.loads((root / "runs/t/results.json").read_text())
    assert rerun["results"] == results and rerun["generator_file"] == str(setup[2])  # it loaded none: the file kept


def test_a_64_pixel_stream_runs_at_its_size_and_a_generator_of_another_size_stops_before_training(setup, tmp_path, capsys):
    data = write_image_folder(tmp_path / "data64", ["0", "1", "2", "3"], size=64)
    tiny_generator(img_size=64).save(tmp_path / "g64.pt", extra={"dataset": "imagefolder:pretrain-photos"})
    common = ["--preset", "smoke", "--dataset", f"imagefolder:{data}", "--experiences", "2", "--out-dir",
              str(tmp_path / "runs"), "--no-progress"]
    assert split_cifar100.main([*common, "--generator", str(tmp_path / "g64.pt"), "--methods", "itgan,exemplar,jpeg,jpeg32",
                                "--name", "big"]) == 0
    results = json.loads((tmp_path / "runs/big/results.json").read_text())["results"]
    assert results["exemplar"]["stored_bytes"] == 48 * 64 * 64 * 3  # every photo fits, at its own size
    assert results["jpeg32"]["stored_samples"] == results["jpeg"]["stored_samples"] == 48
    assert 0 < results["jpeg32"]["stored_bytes"] < results["jpeg"]["stored_bytes"] < 48 * 64 * 64 * 3
    itgan = results["itgan"]  # a latent costs its 16 float32 numbers at any image size
    assert itgan["stored_bytes_without_generator"] == 64 * itgan["stored_samples"] > 0 and itgan["stored_bytes"] <= 1_200_000
    assert split_cifar100.main([*common, "--generator", str(setup[2]), "--methods", "itgan", "--name", "mixed"]) == 2
    assert ("the generator makes 32x32 images, the stream's photos are 64x64; use a generator pretrained at this size, "
            "or pass --image-size 32 --resize") in capsys.readouterr().err
    assert not (tmp_path / "runs/mixed/checkpoints").exists()  # stopped before any training
    assert split_cifar100.main([*common, "--methods", "jpeg32", "--name", "small", "--image-size", "32", "--resize"]) == 2
    assert "jpeg32 stores photos downsampled to 32x32; these are 32x32: use jpeg" in capsys.readouterr().err
    assert split_cifar100.main([*common, "--generator", str(setup[2]), "--methods", "exemplar", "--name", "small",
                                "--image-size", "32", "--resize"]) == 0
    small = json.loads((tmp_path / "runs/small/results.json").read_text())["results"]["exemplar"]
    assert small["stored_bytes"] == 48 * 32 * 32 * 3


def test_pretrain_option_pretrains_and_caches_the_generator_the_stream_lacks(setup, tmp_path, monkeypatch, capsys):
    from itgan_replay.gan import pretrain

    monkeypatch.setitem(pretrain.PRESETS, "cpu", replace(pretrain.PRESETS["cpu"], ch=2, d_ch=2, z_dim=16, batch_size=8,
                                                         iterations=2, checkpoint_every=1, standing_batches=1))
    monkeypatch.setattr(quality, "classification_accuracy_scores",  # CAS is tested with pretraining itself
                        lambda generator, eval_sets, *args, **kwargs: {name: 0.5 for name in eval_sets})
    monkeypatch.chdir(tmp_path)
    dataset = f"imagefolder:{write_image_folder(tmp_path / 'data', ['0', '1', '2', '3'], n_train=104)}"  # 100 held out
    options = ["--preset", "smoke", "--dataset", dataset, "--experiences", "2", "--methods", "gan-fresh", "--no-progress"]
    assert split_cifar100.main(options) == 2
    hint = capsys.readouterr().err  # pretrain on other photos of the classes; --pretrain uses the stream's own
    assert "no generator at generators/data-cpu.pt. Pretrain one on photos of these classes that the stream never shows" in hint
    assert "python experiments/pretrain_generator.py --preset cpu --dataset imagefolder:OTHER_PHOTOS --out " \
           "generators/data-cpu.pt" in hint and "(the generator then has seen the stream)" in hint
    assert "--pretrain-share 0.5" in hint
    assert split_cifar100.main([*options, "--pretrain"]) == 0
    report = json.loads((tmp_path / "generators/data-cpu-stream.json").read_text())  # the name says what it saw
    assert report["dataset"] == dataset and report["iterations"] == 2 and report["image_size"] == 32
    assert report["cas_validation"] == 0.5 and report["share"] == 1.0 and report["n_train"] == 4 * 4
    saved = json.loads((tmp_path / "runs/data-smoke-seed0/results.json").read_text())
    assert saved["results"]["gan-fresh"]["generator_bytes"] > 0
    assert saved["settings"]["generator_saw_stream"] is True and saved["settings"]["generator_photos"] == 16
    assert "SAW THE STREAM'S OWN TRAINING PHOTOS" in capsys.readouterr().out
    assert split_cifar100.main(options) == 2  # no other protocol reuses it
    assert "no generator at generators/data-cpu.pt" in capsys.readouterr().err


def test_pretrain_share_trains_the_generator_on_photos_the_stream_never_holds(tmp_path, monkeypatch, capsys):
    from itgan_replay.gan import pretrain

    monkeypatch.setitem(pretrain.PRESETS, "cpu", replace(pretrain.PRESETS["cpu"], ch=2, d_ch=2, z_dim=16, batch_size=8,
                                                         iterations=2, checkpoint_every=1, standing_batches=1))
    monkeypatch.setattr(quality, "classification_accuracy_scores",
                        lambda generator, eval_sets, *args, **kwargs: {name: 0.5 for name in eval_sets})
    monkeypatch.chdir(tmp_path)
    dataset = f"imagefolder:{write_image_folder(tmp_path / 'data', ['0', '1', '2', '3'], n_train=208)}"
    options = ["--preset", "smoke", "--dataset", dataset, "--experiences", "2", "--methods", "gan-fresh,naive", "--no-progress"]
    assert split_cifar100.main([*options, "--pretrain-share", "0.5", "--name", "share"]) == 0
    report = json.loads((tmp_path / "generators/data-cpu-share50.json").read_text())
    assert report["share"] == 0.5 and report["n_train"] == 4 * (104 - 100)  # its half, less the 100 held out per class
    settings = json.loads((tmp_path / "runs/share/results.json").read_text())["settings"]
    assert settings["generator_saw_stream"] is False and settings["pretrain_share"] == 0.5
    assert "not the stream's photos" in capsys.readouterr().out
    assert split_cifar100.main([*options, "--pretrain-share", "1.5"]) == 2
    assert "--pretrain-share must lie strictly between 0 and 1, got 1.5" in capsys.readouterr().err


def test_split_share_parts_hold_every_photo_once_and_the_draw_is_seeded():
    from itgan_replay.data import DatasetError, split_share

    train = load_dataset("demo")[0]
    part, rest = split_share(train, 0.3, seed=0)
    rows = lambda d: {bytes(img.numpy().tobytes()) for img in d.images}  # noqa: E731
    assert not rows(part) & rows(rest) and rows(part) | rows(rest) == rows(train)
    assert len(part) + len(rest) == len(train) and part.labels.bincount().tolist() == [18] * 10  # 0.3 of 60 a class
    assert torch.equal(split_share(train, 0.3, seed=0)[0].images, part.images)
    assert not torch.equal(split_share(train, 0.3, seed=1)[0].images, part.images)
    with pytest.raises(DatasetError, match="strictly between 0 and 1"):
        split_share(train, 1.0)


def test_kept_memory_loads_with_its_generator_and_keeping_it_does_not_change_training(setup):
    from itgan_replay import FrozenGenerator, LatentMemory

    root, _, gen = setup
    assert run(setup, "--methods", "itgan") == 0  # the plain run (reused if the smoke test ran first)
    assert run(setup, "--methods", "itgan", "--keep-memories", "--name", "kept") == 0
    plain, kept = (json.loads((root / f"runs/{n}/results.json").read_text())["results"]["itgan"] for n in ("t", "kept"))
    assert kept["final_model_sha256"] == plain["final_model_sha256"] and plain["memory_file"] is None
    memory = LatentMemory.load(kept["memory_file"], FrozenGenerator.load(gen))
    assert sorted(memory.classes) == [0, 1, 2, 3]  # the last experience's classes condensed too
    assert memory.total_bytes == kept["stored_bytes"] and len(memory) == kept["stored_samples"]


def test_a_methods_final_model_does_not_depend_on_which_other_methods_ran(setup):
    """One normalisation for every method: the stream's own statistics, whatever the generator's (the tiny
    generator's differ from the stream's), so a method trains the same model beside generator methods or alone."""
    root = setup[0]
    assert run(setup, "--methods", "naive,exemplar", "--name", "alone") == 0
    assert run(setup, "--methods", "gan-fresh,naive,exemplar", "--name", "beside-generator") == 0
    alone, beside = (json.loads((root / f"runs/{n}/results.json").read_text()) for n in ("alone", "beside-generator"))
    for method in ("naive", "exemplar"):
        assert alone["results"][method]["final_model_sha256"] == beside["results"][method]["final_model_sha256"]
    stream = load_dataset(setup[1])[0]
    assert alone["settings"]["normalisation"] == beside["settings"]["normalisation"] == {"mean": list(stream.mean),
                                                                                           "std": list(stream.std)}
    assert stream.mean != FrozenGenerator.load(setup[2]).mean_values  # the case this guards


def test_code_version_counts_an_untracked_file_as_dirty():
    from pathlib import Path

    from experiments.cli import code_version

    probe = Path(split_cifar100.__file__).resolve().parents[1] / "dirty-probe.txt"
    probe.write_text("not committed")
    try:
        assert code_version()["dirty"] is True
    finally:
        probe.unlink()


def test_rerun_with_other_settings_or_code_is_refused(setup, capsys, monkeypatch):
    run(setup, "--methods", "naive")
    assert run(setup, "--methods", "naive", "--epochs", "2") == 2
    assert "other settings (they differ in values.epochs: 1 (saved) -> 2 (now))" in capsys.readouterr().err
    saved = json.loads((setup[0] / "runs/t/methods/naive.json").read_text())["settings"]["code"]
    assert saved == split_cifar100.code_version() and len(saved["commit"]) == 40 and isinstance(saved["dirty"], bool)
    other = {"commit": "0" * 40, "dirty": False}
    monkeypatch.setattr(split_cifar100, "code_version", lambda: other)
    assert run(setup, "--methods", "naive") == 2  # a finished method is reused only from the same commit
    assert f"it was written at {saved}, this is {other}" in capsys.readouterr().err


def test_results_file_leaves_out_methods_of_other_settings_and_a_corrupt_method_file_stops_the_run(setup, capsys):
    root = setup[0]
    assert run(setup, "--name", "partial", "--methods", "naive") == 0
    assert run(setup, "--name", "partial", "--methods", "exemplar", "--epochs", "2") == 0
    assert "[naive] finished at other settings (they differ in values.epochs: 1 (saved) -> 2 (now))" in capsys.readouterr().out
    results = json.loads((root / "runs/partial/results.json").read_text())["results"]
    assert list(results) == ["exemplar"]
    # a generator method of another generator is left out beside this run's generator methods
    other = root / "other-g.pt"
    tiny_generator(seed=1).save(other, extra={"dataset": "imagefolder:pretrain-photos"})
    assert run(setup, "--name", "partial", "--methods", "gan-fresh", "--epochs", "2") == 0
    assert run(setup, "--name", "partial", "--methods", "gan-stored", "--epochs", "2", "--generator", str(other)) == 0
    assert (f"[gan-fresh] finished at other settings (they differ in generator: '{FrozenGenerator.load(setup[2]).fingerprint}' "
            f"(saved) -> '{FrozenGenerator.load(other).fingerprint}' (now))") in capsys.readouterr().out
    results = json.loads((root / "runs/partial/results.json").read_text())["results"]
    assert list(results) == ["gan-stored", "exemplar"]
    (root / "runs/partial/methods/exemplar.json").write_text('{"settings": {')
    assert run(setup, "--name", "partial", "--methods", "exemplar", "--epochs", "2") == 2
    assert "exemplar.json is not a finished method's results" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--methods", "itgan,replay"], "unknown method"),
    (["--budget-bytes", "20000"], "below the generator's 34,372 bytes in float32; raise the budget, store the generator "
                                  "in fewer bits (--generator-dtype) or use a narrower generator"),  # the option, not the field
    (["--budget-bytes", "10000", "--methods", "exemplar"], "fewer than one exemplar"),
    (["--experiences", "3"], "cannot split"),
    (["--budget-bytes", "600", "--methods", "jpeg"], "leaves nothing beside the 623-byte JPEG header"),
    (["--jpeg-quality", "0", "--methods", "jpeg"], "quality must lie in [1, 100]"),
    (["--generator", "/nonexistent/g.pt"], "no generator at"),
])
def test_bad_options_stop_before_training(setup, capsys, extra, message):
    root = setup[0]
    assert run(setup, "--name", "bad", *extra) == 2
    assert message in capsys.readouterr().err
    assert not (root / "runs/bad").exists()


def synthetic(setup, out, *extra):
    from experiments import synthetic_training

    root, dataset, gen = setup
    return synthetic_training.main(["--dataset", dataset, "--generator", str(gen), "--per-class", "3", "--epochs", "1",
                                    "--condense-iterations", "1", "--inversion-steps", "1", "--width", "8", "--resnet-width",
                                    "4", "--embedding-width", "8", "--condense-real-batch", "8", "--no-progress", "--out",
                                    str(out), *extra])


def test_synthetic_training_compares_sources_of_equal_size_and_resumes(setup, capsys):
    out = setup[0] / "synthetic"
    assert synthetic(setup, out, "--seeds", "0", "1") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(r["source"] for r in summary) == ["gan", "inversion", "itgan", "real"]
    assert all(r["seeds"] == 2 and 0 <= r["mean"] <= 1 for r in summary)
    assert (out / "accuracy.png").exists()
    # a rerun adds an architecture and an ablation, and trains only what is missing
    assert synthetic(setup, out, "--seeds", "0", "1", "--archs", "convnet", "resnet18",
                     "--sources", "itgan", "itgan+random+lam0.5") == 0
    saved = json.loads((out / "results.json").read_text())
    runs = saved["runs"]
    assert saved["settings"]["code"] == split_cifar100.code_version()
    assert len(runs) == 8 + 2 * 2 + 2
    assert {(r["arch"], r["width"]) for r in runs} == {("convnet", 8), ("resnet18", 4)}
    # other settings are refused, and the saved runs are kept
    assert synthetic(setup, out, "--seeds", "0", "--condense-iterations", "2") == 2
    assert "other settings" in capsys.readouterr().err
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 14


def test_each_source_has_its_recipe_and_itgan_variants_set_split_lambda_pool_precision_and_compile():
    from dataclasses import replace

    from experiments.synthetic_training import BASE, recipe_of

    base = replace(BASE, condense=replace(BASE.condense, subset_size=10))
    assert recipe_of("itgan", base) == base
    assert (recipe_of("gan", base).init, recipe_of("gan", base).condense.iterations) == ("random", 0)
    assert (recipe_of("inversion", base).init, recipe_of("inversion", base).condense.iterations) == ("inversion", 0)
    recipe = recipe_of("itgan+random+lam0.02+pool", base)
    assert (recipe.condense.split, recipe.condense.lam, recipe.condense.subset_size, recipe.embedding) == ("random", 0.02, 10, "pool")
    config = recipe_of("itgan+compiled+bf16", base).condense
    assert (config.compile, config.real_dtype, config.input_grad_dtype) == (True, "bfloat16", "float32")
    config = recipe_of("itgan+bf16grads", base).condense
    assert (config.compile, config.real_dtype, config.input_grad_dtype) == (False, "float32", "bfloat16")
    for bad in ("gan+random", "itgan+lam", "itgan+shuffle"):
        with pytest.raises(ValueError, match="unknown"):
            recipe_of(bad, base)


def test_synthetic_training_pooled_ablation_runs(setup):
    out = setup[0] / "synthetic-pool"
    assert synthetic(setup, out, "--seeds", "0", "--sources", "itgan+pool", "--pool-size", "2", "--pool-epochs", "1") == 0
    assert [r["source"] for r in json.loads((out / "summary.json").read_text())] == ["itgan+pool"]


def test_accuracy_plot_draws_lines_over_sizes_and_rows_for_one_size(tmp_path):
    from experiments.synthetic_training import plot

    row = {"arch": "convnet", "width": 8, "mean": 0.3, "std": 0.01, "seeds": 3}
    sweep = [row | {"per_class": n, "source": s} for n in (10, 50) for s in ("real", "itgan")]
    ablation = [row | {"per_class": 50, "source": s} for s in ("itgan", "itgan+pool")]
    for name, summary in (("sweep.png", sweep), ("ablation.png", ablation)):
        plot(summary, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_crossings_interpolate_where_the_accuracy_difference_changes_sign():
    from experiments.budget_sweep import crossings

    points = {"itgan": [(1, 0.2), (2, 0.3), (4, 0.5)], "exemplar": [(0, 0.1), (1, 0.3), (2, 0.35), (4, 0.4)]}
    # differences -0.1, -0.05, +0.1 at 1, 2, 4: zero at 2 + 2 * 0.05 / 0.15
    assert crossings(points, "itgan", "exemplar") == pytest.approx([2 + 2 / 3])
    assert crossings(points, "exemplar", "itgan") == pytest.approx([2 + 2 / 3])
    assert crossings({"a": [(1, 0.5), (2, 0.6)], "b": [(1, 0.4), (2, 0.5)]}, "a", "b") == []


def test_budget_sweep_runs_each_budget_and_records_latent_methods_that_do_not_fit(setup, capsys):
    from experiments import budget_sweep

    root, dataset, gen = setup
    small = 30_000  # below the tiny generator's bytes: exemplar only
    assert budget_sweep.main(["--dataset", dataset, "--generator", str(gen), "--budgets", "200000", str(small),
                              "--preset", "smoke", "--name", "sweep", "--out-dir", str(root / "runs"), "--no-progress"]) == 0
    sweep = json.loads((root / "runs/sweep/sweep.json").read_text())
    assert [(r["method"], r["budget_bytes"]) for r in sweep["runs"]] == [
        ("exemplar", small), ("jpeg", small), ("exemplar", 200_000), ("jpeg", 200_000), ("itgan", 200_000)]
    assert sweep["not_fitting"] == [{"method": "itgan", "budget_bytes": small, "setting": "preset"}]
    assert all(r["stored_bytes"] <= r["budget_bytes"] for r in sweep["runs"])
    assert list(sweep["crossings_bytes"]) == ["exemplar vs jpeg", "exemplar vs itgan", "jpeg vs itgan"]
    assert sweep["code"] == split_cifar100.code_version()
    assert (sweep["generator_file"], sweep["generator"]) == (str(gen), FrozenGenerator.load(gen).fingerprint)
    assert (root / "runs/sweep/accuracy_vs_bytes.png").exists()
    assert "does not fit" in capsys.readouterr().out


def test_budget_sweep_chooses_each_setting_on_validation_then_runs_only_the_choices_beside_the_ceiling(setup):
    from experiments import budget_sweep

    root, dataset, gen = setup
    runs = root / "runs"
    common = ["--dataset", dataset, "--generator", str(gen), "--preset", "smoke", "--methods", "exemplar,jpeg",
              "--budgets", "40000", "80000", "--out-dir", str(runs), "--no-progress"]
    assert budget_sweep.main(common + ["--validation-per-class", "4", "--name", "val", "--setting",
                                       "jpeg:q10=--jpeg-quality 10", "--setting", "jpeg:q90=--jpeg-quality 90"]) == 0
    val = json.loads((runs / "val/sweep.json").read_text())
    assert val["evaluated_on"] == "validation: 4 held-out training photos per class"
    assert sorted((r["method"], r["budget_bytes"], r["setting"]) for r in val["runs"]) == [
        ("exemplar", b, "preset") for b in (40000, 80000)] + [("jpeg", b, q) for b in (40000, 80000) for q in ("q10", "q90")]
    assert json.loads((runs / "val-40000-q90/results.json").read_text())["settings"]["values"]["jpeg_quality"] == 90
    assert set(json.loads((runs / "val-80000/results.json").read_text())["results"]) == {"exemplar"}
    assert len(val["chosen"]) == 4
    for choice in val["chosen"]:  # each method's best setting at each budget, on the validation photos
        rows = [r for r in val["runs"] if (r["method"], r["budget_bytes"]) == (choice["method"], choice["budget_bytes"])]
        assert choice["setting"] == max(rows, key=lambda r: r["final_average_accuracy"])["setting"]

    assert budget_sweep.main(common + ["--chosen", str(runs / "val/sweep.json"), "--name", "test",
                                       "--ceiling-budget", "2000000"]) == 0
    test = json.loads((runs / "test/sweep.json").read_text())
    assert test["evaluated_on"] == "test photos" and test["chosen"] == []
    assert sorted((r["method"], r["budget_bytes"], r["setting"], r["options"]) for r in test["runs"]) == sorted(
        (c["method"], c["budget_bytes"], c["setting"], c["options"]) for c in val["chosen"])
    ceiling = json.loads((runs / "test-ceiling/results.json").read_text())
    assert ceiling["results"]["jpeg"]["stored_samples"] == ceiling["settings"]["training_photos"] == 4 * 12
    assert test["ceiling"] == {"jpeg, whole stream (48 photos)": ceiling["results"]["jpeg"]["final_average_accuracy"],
                               "joint training": ceiling["results"]["joint"]["final_average_accuracy"]}


def test_setting_up_to_holds_a_setting_to_the_budgets_up_to_its_limit_and_leaves_every_method_a_setting():
    from experiments.budget_sweep import budget_grids

    i50, i200 = ["--condense-iterations", "50"], ["--condense-iterations", "200"]
    grid = {"jpeg": {"preset": []}, "itgan": {"i50": i50, "i200": i200}}
    grids = budget_grids(grid, ["i200=620000"], [270000, 620000, 620001])
    assert grids == {270000: grid, 620000: grid, 620001: {"jpeg": {"preset": []}, "itgan": {"i50": i50}}}
    assert budget_grids(grid, [], [1]) == {1: grid}
    for up_to, message in ((["i200=lots"], "write NAME=BYTES"), (["i200=0"], "write NAME=BYTES"),
                           (["preset=5"], "preset is not a --setting name (i200, i50)"),
                           (["i50=500000", "i200=600000"], "leaves itgan no setting at 620,000 bytes")):
        with pytest.raises(UsageError, match=re.escape(message)):
            budget_grids(grid, up_to, [270000, 620000])


def test_budget_sweep_refuses_a_ceiling_short_of_the_stream_and_choices_it_lacks(setup, capsys):
    from experiments import budget_sweep

    root, dataset, gen = setup
    runs = root / "runs"
    common = ["--dataset", dataset, "--generator", str(gen), "--preset", "smoke", "--methods", "jpeg",
              "--out-dir", str(runs), "--no-progress"]
    assert budget_sweep.main(common + ["--budgets", "40000", "--validation-per-class", "4", "--name", "val1"]) == 0
    assert budget_sweep.main(common + ["--budgets", "60000", "--chosen", str(runs / "val1/sweep.json")]) == 2
    assert "has no choice for jpeg at 60,000 bytes; sweep that budget and method on validation first" in capsys.readouterr().err
    assert budget_sweep.main(common + ["--budgets", "40000", "--chosen", str(runs / "val1/sweep.json"),
                                       "--name", "short", "--ceiling-budget", "5000"]) == 2
    assert "--ceiling-budget 5,000 holds" in capsys.readouterr().err and not (runs / "short/sweep.json").exists()


def test_validation_split_and_float16_generator_are_recorded_with_both_byte_columns(setup):
    import torch

    from conftest import tiny_generator

    root = setup[0]
    assert run(setup, "--name", "val", "--methods", "itgan,exemplar", "--validation-per-class", "4",
               "--generator-dtype", "float16", "--storage-dtype", "float16", "--seed", "1") == 0
    saved = json.loads((root / "runs/val/results.json").read_text())
    assert saved["settings"]["seed"] == 1 and not {"seed", "progress"} & set(saved["settings"]["values"]["itgan"])
    assert saved["settings"]["evaluated_on"] == "validation: 4 held-out training photos per class"
    itgan, exemplar = saved["results"]["itgan"], saved["results"]["exemplar"]
    assert itgan["generator_bytes"] == tiny_generator().stored_as(torch.float16).param_bytes
    assert itgan["stored_bytes_without_generator"] == itgan["stored_bytes"] - itgan["generator_bytes"] > 0
    assert itgan["stored_bytes_without_generator"] % (16 * 2) == 0  # float16 latents of z_dim 16
    assert exemplar["stored_bytes_without_generator"] == exemplar["stored_bytes"] == 4 * 8 * 3072  # 8 left per class
    assert exemplar["stored_samples"] == 32 and itgan["stored_samples"] == itgan["stored_bytes_without_generator"] // 32
    assert set(itgan["seconds"]) == {"inversion_net", "inversion", "condensation"}
    method_file = json.loads((root / "runs/val/methods/itgan.json").read_text())
    assert method_file["settings"]["generator_storage_dtype"] == "float16"


def test_preset_sweep_scores_each_setting_on_held_out_photos(setup, capsys):
    from experiments import preset_sweep

    root, dataset, gen = setup
    argv = ["--dataset", dataset, "--generator", str(gen), "--preset", "smoke", "--validation-per-class", "4",
            "--methods", "itgan", "--name", "ps", "--out-dir", str(root / "runs"), "--no-progress",
            "--setting", "a=--condense-lr 0.01", "--setting", "b=--condense-lr 0.1 --condense-real-batch 8"]
    assert preset_sweep.main(argv) == 0
    sweep = json.loads((root / "runs/ps/sweep.json").read_text())
    rows = sweep["rows"]
    assert sweep["code"] == split_cifar100.code_version()
    assert (sweep["generator_file"], sweep["generator"]) == (str(gen), [FrozenGenerator.load(gen).fingerprint])
    assert sorted(r["setting"] for r in rows) == ["a", "b"]
    assert [r["validation_accuracy"] for r in rows] == sorted((r["validation_accuracy"] for r in rows), reverse=True)
    condense = {r["setting"]: r["values"]["itgan"]["recipe"]["condense"] for r in rows}
    assert {s: (c["lr"], c["real_batch"]) for s, c in condense.items()} == {"a": (0.01, 16), "b": (0.1, 8)}
    assert preset_sweep.main(argv[:-4] + ["--setting", "no-equals-sign"]) == 2
    assert "NAME=" in capsys.readouterr().err


def test_generator_dtype_scores_every_storage_dtype_and_resumes(setup, tmp_path, capsys):
    from experiments import generator_dtype

    root, dataset, gen = setup
    out = tmp_path / "dtype.json"
    argv = ["--dataset", dataset, "--generator", str(gen), "--seeds", "0", "--per-class", "3",
            "--epochs", "1", "--validation-per-class", "2", "--out", str(out)]
    assert generator_dtype.main(argv) == 0
    saved = json.loads(out.read_text())
    rows = saved["rows"]
    assert saved["code"] == split_cifar100.code_version()
    assert [(r["generator_dtype"], r["latent_dtype"]) for r in rows] == list(generator_dtype.VARIANTS)
    assert rows[0]["image_abs_diff_max"] == 0 and all(r["image_abs_diff_max"] > 0 for r in rows[1:])
    assert rows[3]["generator_bytes"] < rows[1]["generator_bytes"] == rows[2]["generator_bytes"] < rows[0]["generator_bytes"]
    assert all(0 <= r[f"cas_{split}_mean"] <= 1 for r in rows for split in ("validation", "test"))
    # a rerun of a check cut short keeps the pairs it finished and scores the rest
    saved["rows"] = rows[:2]
    saved["rows"][1]["cas_test_mean"] = -1.0  # a mark: a row scored again would not carry it
    out.write_text(json.dumps(saved))
    assert generator_dtype.main(argv) == 0
    assert "already in" in capsys.readouterr().out
    again = json.loads(out.read_text())["rows"]
    assert again[1]["cas_test_mean"] == -1.0 and again[2:] == rows[2:] and len(again) == len(rows)
    assert generator_dtype.main(argv[:-1] + [str(out), "--epochs", "2"]) == 2  # other settings: refused, file kept
    assert "other settings (they differ in cas_epochs: 1 (saved) -> 2 (now))" in capsys.readouterr().err
    out.write_text("{")
    assert generator_dtype.main(argv) == 2 and "is not a results file of this script" in capsys.readouterr().err


def test_seed_summary_gives_mean_std_and_per_seed_numbers_and_refuses_mixed_runs(tmp_path, capsys):
    from experiments import seed_summary

    def write(name, seed, accs, epochs=4):
        results = {m: {"final_average_accuracy": a, "final_average_forgetting": 0.5, "stored_bytes": 100,
                       "stored_bytes_without_generator": 40, "stored_samples": 4, "wall_s": 1.0} for m, a in accs.items()}
        settings = {"seed": seed, "class_order": [seed], "values": {"epochs": epochs}}
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"settings": settings, "generator_file": "g.pt",
                                                                  "results": results}))
        return str(tmp_path / name)

    runs = [write("a", 0, {"itgan": 0.2, "exemplar": 0.1}), write("b", 1, {"itgan": 0.4, "exemplar": 0.1})]
    assert seed_summary.main([*runs, "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["generator_files"] == ["g.pt"]
    itgan = json.loads((tmp_path / "s.json").read_text())["methods"]["itgan"]
    assert itgan["final_average_accuracy"]["per_seed"] == [0.2, 0.4] and itgan["seeds"] == [0, 1]
    assert itgan["final_average_accuracy"]["mean"] == pytest.approx(0.3)
    assert itgan["final_average_accuracy"]["std"] == pytest.approx(0.02**0.5)  # sample std of 0.2, 0.4
    mixed = write("c", 2, {"itgan": 0.3}, epochs=5)
    assert seed_summary.main([runs[0], mixed, "--out", str(tmp_path / "t.json")]) == 2
    assert "differ in more than their seed" in capsys.readouterr().err and not (tmp_path / "t.json").exists()


def test_seed_summary_gives_the_accuracy_on_class_groups(tmp_path, capsys):
    from experiments import seed_summary

    runs = []
    for seed, per_class in enumerate([{"cat": 0.2, "dog": 0.4, "frog": 0.9}, {"cat": 0.4, "dog": 0.6, "frog": 0.7}]):
        result = {"final_average_accuracy": 0.5, "final_average_forgetting": 0.1, "stored_bytes": 9, "wall_s": 1.0,
                  "final_class_accuracy": per_class}
        (tmp_path / str(seed)).mkdir()
        (tmp_path / str(seed) / "results.json").write_text(json.dumps({"settings": {"seed": seed}, "results": {"itgan": result}}))
        runs.append(str(tmp_path / str(seed)))
    out = str(tmp_path / "s.json")
    assert seed_summary.main([*runs, "--out", out, "--class-group", "pets=cat,dog", "--class-group", "frog=frog"]) == 0
    groups = json.loads((tmp_path / "s.json").read_text())["methods"]["itgan"]["class_groups"]
    assert groups["pets"]["per_seed"] == pytest.approx([0.3, 0.5]) and groups["pets"]["mean"] == pytest.approx(0.4)
    assert groups["frog"]["classes"] == ["frog"] and groups["frog"]["std"] == pytest.approx(0.02**0.5)
    assert "pets 40.0 ± 14.1" in capsys.readouterr().out
    assert seed_summary.main([*runs, "--out", out, "--class-group", "x=owl"]) == 2
    assert "class owl has no final per-class accuracy in the runs (classes: cat, dog, frog)" in capsys.readouterr().err
    assert seed_summary.main([*runs, "--out", out, "--class-group", "pets"]) == 2


def test_seed_summary_compares_methods_seed_by_seed_with_another_summary(tmp_path, capsys):
    from experiments import seed_summary

    def summary(name, accs_by_method, commit="abc", seeds=(0, 1, 2)):
        runs = []
        for i, seed in enumerate(seeds):
            results = {m: {"final_average_accuracy": accs[i], "final_average_forgetting": 0.1, "stored_bytes": 9,
                           "wall_s": 1.0, "final_class_accuracy": {"cat": accs[i] - 0.1, "dog": accs[i] + 0.1}}
                       for m, accs in accs_by_method.items()}
            run = tmp_path / f"{name}{seed}"
            run.mkdir()
            (run / "results.json").write_text(json.dumps({"settings": {"seed": seed, "code": commit, "preset": "quick"},
                                                          "results": results}))
            runs.append(str(run))
        return runs

    today = str(tmp_path / "today.json")
    assert seed_summary.main([*summary("t", {"exemplar": [0.30, 0.40, 0.35]}), "--out", today,
                              "--class-group", "pets=cat"]) == 0
    runs = summary("g", {"itgan": [0.35, 0.38, 0.45]})
    out = tmp_path / "g.json"
    assert seed_summary.main([*runs, "--out", str(out), "--class-group", "pets=cat", "--versus", f"{today}:exemplar"]) == 0
    paired = json.loads(out.read_text())["methods"]["itgan"]["versus"][f"{today}:exemplar"]
    overall = paired["final_average_accuracy"]
    assert overall["per_seed"] == pytest.approx([0.05, -0.02, 0.10]) and overall["seeds_ahead"] == 2
    assert overall["mean"] == pytest.approx(0.13 / 3) and overall["std"] == pytest.approx(0.0602771, abs=1e-6)
    assert paired["class_groups"]["pets"]["per_seed"] == pytest.approx([0.05, -0.02, 0.10])  # cat: both 0.1 lower
    assert "itgan         overall +4.3 ± 6.0 (2/3)  pets +4.3 ± 6.0 (2/3)" in capsys.readouterr().out
    refused = {  # argv tail -> the message
        ("--versus", f"{today}:jpeg"): "has no method jpeg (it has exemplar)",
        ("--versus", today): f"--versus '{today}': write SUMMARY.json:METHOD",
        ("--class-group", "pets=dog", "--versus", f"{today}:exemplar"): "give it the same --class-group pets=dog",
        ("--versus", f"{tmp_path / 'none.json'}:exemplar"): "none.json",
    }
    for tail, message in refused.items():
        assert seed_summary.main([*runs, "--out", str(tmp_path / "x.json"), *tail]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    other_commit = summary("c", {"itgan": [0.3, 0.3, 0.3]}, commit="def")
    assert seed_summary.main([*other_commit, "--out", str(tmp_path / "x.json"), "--versus", f"{today}:exemplar"]) == 2
    assert "differ in code: a seed-by-seed comparison needs the same stream, scoring and commit" in capsys.readouterr().err
    two_seeds = summary("s", {"itgan": [0.3, 0.3]}, seeds=(0, 1))
    assert seed_summary.main([*two_seeds, "--out", str(tmp_path / "x.json"), "--versus", f"{today}:exemplar"]) == 2
    assert "itgan has seeds [0, 1], exemplar [0, 1, 2]: compare the same seeds" in capsys.readouterr().err


class Killed(Exception):
    """Stands in for the process being killed."""


def test_run_killed_after_an_experience_resumes_there_and_ends_bit_identical(setup, monkeypatch, capsys):
    root, methods = setup[0], ["--methods", "itgan,exemplar,jpeg,naive"]
    assert run(setup, *methods, "--name", "whole") == 0
    whole = json.loads((root / "runs/whole/results.json").read_text())["results"]

    killed, real_save = [], split_cifar100.save_strategy

    def save_then_die(strategy, path, settings):  # every method dies once, right after its first experience's checkpoint
        real_save(strategy, path, settings)
        if path.name not in killed:
            killed.append(path.name)
            raise Killed

    monkeypatch.setattr(split_cifar100, "save_strategy", save_then_die)
    capsys.readouterr()
    for _ in range(4):  # each rerun resumes the killed method at its second experience, then the next one dies
        with pytest.raises(Killed):
            run(setup, *methods, "--name", "resumed")
    checkpoint = root / "runs/resumed/checkpoints/naive.ckpt"
    assert run(setup, "--methods", "naive", "--name", "resumed", "--epochs", "2") == 2  # same name, other settings
    refused = capsys.readouterr()
    assert "checkpoint of other settings" in refused.err
    assert run(setup, *methods, "--name", "resumed") == 0
    assert killed == ["itgan.ckpt", "exemplar.ckpt", "jpeg.ckpt", "naive.ckpt"]
    out = refused.out + capsys.readouterr().out
    assert all(out.count(f"[{m}] experience {i}/2") == 1 for m in ("itgan", "exemplar", "jpeg", "naive") for i in (1, 2))
    assert all(f"[{m}] resumed from {root}/runs/resumed/checkpoints/{m}.ckpt: experiences 1-1 of 2 were done" in out
               for m in ("itgan", "exemplar", "jpeg", "naive"))
    resumed = json.loads((root / "runs/resumed/results.json").read_text())["results"]
    timing = ("wall_s", "seconds")
    assert {m: {k: v for k, v in r.items() if k not in timing} for m, r in resumed.items()} == \
           {m: {k: v for k, v in r.items() if k not in timing} for m, r in whole.items()}
    assert not checkpoint.exists()  # removed once the method's results are written


def test_ctrl_c_ends_with_one_line_that_says_how_to_resume(setup, monkeypatch, capsys):
    root, real_save = setup[0], split_cifar100.save_strategy

    def save_then_interrupt(strategy, path, settings):
        real_save(strategy, path, settings)
        raise KeyboardInterrupt

    monkeypatch.setattr(split_cifar100, "save_strategy", save_then_interrupt)
    capsys.readouterr()
    assert run(setup, "--methods", "naive", "--name", "ctrl-c") == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        f"stopped; run the same command again to resume ({root}/runs/ctrl-c/checkpoints holds each method's last "
        "finished experience)"]
    monkeypatch.setattr(split_cifar100, "save_strategy", real_save)
    assert run(setup, "--methods", "naive", "--name", "ctrl-c") == 0
    assert "[naive] resumed from" in capsys.readouterr().out


def test_scripts_write_each_line_at_once_into_a_pipe():
    import subprocess
    import sys

    code = ("from experiments.cli import line_buffered_output; import sys; line_buffered_output(); "
            "print(sys.stdout.line_buffering, sys.stderr.line_buffering)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def no_data_loads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("data loaded before the options were checked")

    monkeypatch.setattr(split_cifar100, "load_dataset", refuse)


def test_boolean_settings_are_flags_that_take_the_recorded_1_and_0_too():
    parse = lambda *options: split_cifar100.preset_from_args(split_cifar100.parse_args(list(options)),  # noqa: E731
                                                             split_cifar100.PRESETS["smoke"]).itgan.recipe.condense.compile
    assert parse() is False and parse("--condense-compile") is True and parse("--condense-compile", "1") is True
    assert parse("--condense-compile", "0") is False and parse("--no-condense-compile") is False
    help_text = split_cifar100.build_parser().format_help()
    assert "--storage-dtype {float32,float16,int8,int4}" in help_text and "--no-condense-compile" in help_text
    assert "(default: 0)" in help_text and "200 (quick)" in help_text  # every default shown, each preset's


@pytest.mark.parametrize("script", ["split_cifar100", "pretrain_generator", "score_generators", "budget_sweep",
                                    "condense_dataset", "generator_dtype", "preset_sweep", "privacy_report", "import_latents",
                                    "accuracy_vs_cas", "class_code_validation", "synthetic_training"])
def test_every_option_with_a_default_shows_it_in_help(script, capsys):
    import importlib

    module = importlib.import_module(f"experiments.{script}")
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    shown = [piece for piece in text.split(" --") if piece.startswith("data-root")]
    assert shown and "(default: data)" in shown[-1]  # an option that says nothing of its default gets it appended
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("extra, message", [
    (["--validation-per-class", "-3"], "--validation-per-class must be 0 or more, got -3"),
    (["--model", "bogus"], "--model must be one of convnet, resnet18; got 'bogus'"),
    (["--storage-dtype", "int3"], "--storage-dtype must be one of float32, float16, int8, int4; got 'int3'"),
    (["--condense-split", "x"], "--condense-split must be one of fixed, random; got 'x'"),
    (["--condense-compile", "2"], "--condense-compile takes 1 or 0 (or the flag alone), got 2"),
    (["--experiences", "0"], "--experiences must be 1 or more, got 0"),
    (["--epochs", "0"], "--epochs must be 1 or more, got 0"),
    (["--lr", "-1"], "--lr must be positive, got -1.0"),
    (["--code-steps", "-1"], "--code-steps must be >= 0, --code-photos >= 1 and --code-lr positive; got -1, 64, 0.05"),
    (["--class-codes", "maybe"], "--class-codes must be one of auto, all, off; got 'maybe'"),
])
def test_bad_values_stop_with_one_line_before_any_data_loads(setup, capsys, monkeypatch, extra, message):
    no_data_loads(monkeypatch)
    assert run(setup, "--name", "bad", *extra) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"  # one line, no traceback


def truncated_checkpoint(path):
    from itgan_replay.memory.files import save_checked
    from strategies.checkpoint import CHECKPOINT_KIND, CHECKPOINT_VERSION

    save_checked(path, CHECKPOINT_KIND, CHECKPOINT_VERSION, {"run_settings": {}, "avalanche_checkpoint": bytes(100)})
    path.write_bytes(path.read_bytes()[:-10])


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b"not a checkpoint"), "no version and checksum (a bare Avalanche checkpoint"),  # no settings
    (truncated_checkpoint, "checksum mismatch"),
])
def test_old_or_corrupt_checkpoint_is_refused_before_data_loads_and_kept(setup, capsys, monkeypatch, write, message):
    checkpoint = setup[0] / "runs/corrupt/checkpoints/naive.ckpt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write(checkpoint)
    content = checkpoint.read_bytes()
    no_data_loads(monkeypatch)
    assert run(setup, "--methods", "naive", "--name", "corrupt") == 2
    err = capsys.readouterr().err
    assert message in err and "remove it to restart this method" in err and err.count("\n") == 1
    assert checkpoint.read_bytes() == content


def test_condense_script_passes_its_precision_settings_to_the_condenser(tmp_path, setup):
    from experiments.condense_dataset import main as condense_main

    from itgan_replay.gan.generator import FrozenGenerator
    from itgan_replay.memory.latent import LatentMemory

    _, dataset, generator_path = setup
    common = ["--generator", str(generator_path), "--dataset", dataset, "--latents-per-class", "3", "--condense-iterations", "2",
              "--condense-subset-size", "3", "--condense-real-batch", "4", "--inversion-steps", "1", "--embedding-width", "8",
              "--no-progress"]
    for name, extra in (("exact", []), ("low", ["--condense-real-dtype", "bfloat16", "--condense-input-grad-dtype", "bfloat16"])):
        assert condense_main(common + ["--out", str(tmp_path / f"{name}.pt")] + extra) == 0
    generator = FrozenGenerator.load(generator_path)
    exact, low = (LatentMemory.load(tmp_path / f"{name}.pt", generator) for name in ("exact", "low"))
    assert exact.classes == low.classes and len(exact) == len(low) > 0
    assert not all(torch.equal(exact.latents[c], low.latents[c]) for c in exact.classes)  # the settings took effect
    assert all(torch.allclose(exact.latents[c], low.latents[c], atol=0.05) for c in exact.classes)  # by rounding only


def test_hundred_classes_in_ten_experiences_stay_within_the_budget_at_every_experience(tmp_path, capsys):
    classes = [f"c{i:03d}" for i in range(100)]
    data = write_image_folder(tmp_path / "data", classes, n_train=2, n_test=1)
    tiny_generator(n_classes=100, class_names=classes).save(tmp_path / "g.pt")
    budget = 400_000  # 130 raw photos: one per class; the latent memories' shares are a few latents per class
    args = ["--dataset", f"imagefolder:{data}", "--generator", str(tmp_path / "g.pt"), "--out-dir", str(tmp_path / "runs"),
            "--name", "h", "--no-progress", "--epochs", "1", "--model-width", "8", "--batch-size", "16",
            "--condense-iterations", "1", "--inversion-steps", "1", "--embedding-width", "8", "--budget-bytes", str(budget)]
    assert split_cifar100.main(args) == 0
    saved = json.loads((tmp_path / "runs/h/results.json").read_text())
    assert saved["settings"]["preset"] == "hundred" and saved["settings"]["experiences"] == 10  # picked for 100 classes
    for name, r in saved["results"].items():
        if name == "joint":
            continue
        curve = r["stored_bytes_curve"]
        assert len(curve) == 10 and all(b <= budget for b in curve), (name, curve)
        assert curve == sorted(curve)  # memories only grow as classes arrive
    assert saved["results"]["exemplar"]["stored_samples"] == 100  # 130 photos' bytes: one per class
    itgan = saved["results"]["itgan"]  # both photos of each class but the last experience's (nothing replays them)
    assert itgan["stored_bytes_without_generator"] == 90 * 2 * 16 * 4  # float32 latents of the tiny generator (z_dim 16)


@pytest.mark.parametrize("script, extra, message", [
    ("condense_dataset", ["--latents-per-class", "0"], "--latents-per-class must be 1 or more, got 0"),
    ("condense_dataset", ["--condense-iterations", "-1"],
     "--condense-iterations must be >= 0, --condense-subset-size and --condense-real-batch >= 1"),
    ("synthetic_training", ["--epochs", "0"], "--epochs must be 1 or more, got 0"),
    ("synthetic_training", ["--per-class", "10", "0"], "--per-class must be 1 or more, got 0"),
    ("budget_sweep", ["--budgets", "1000", "-5"], "--budgets must be 1 or more, got -5"),
    ("preset_sweep", ["--validation-per-class", "0"], "--validation-per-class must be 1 or more, got 0"),
    ("generator_dtype", ["--validation-per-class", "0"], "--validation-per-class must be 1 or more, got 0"),
])
def test_other_scripts_stop_bad_values_with_one_line_before_any_data_loads(setup, tmp_path, capsys, monkeypatch,
                                                                          script, extra, message):
    import importlib

    module = importlib.import_module(f"experiments.{script}")
    _, dataset, generator = setup

    def refuse(*args, **kwargs):
        raise AssertionError("data loaded before the options were checked")

    monkeypatch.setattr(module, "load_dataset_from_args", refuse, raising=False)
    monkeypatch.setattr(split_cifar100, "load_dataset", refuse)
    required = {"condense_dataset": ["--out", str(tmp_path / "m.pt")], "preset_sweep": ["--setting", "a="],
                "budget_sweep": ["--out-dir", str(tmp_path)], "synthetic_training": ["--out", str(tmp_path)],
                "generator_dtype": ["--out", str(tmp_path)]}[script]
    assert module.main(["--dataset", dataset, "--generator", str(generator), *required, *extra]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_main_job_and_dataset_condensation_take_the_same_options_from_the_config_classes(capsys):
    import re
    from dataclasses import fields

    from experiments import condense_dataset
    from itgan_replay.condensation.condense import CondenseConfig
    from itgan_replay.condensation.inversion import InversionConfig

    options = {}
    for script in (split_cifar100, condense_dataset):
        with pytest.raises(SystemExit):
            script.parse_args(["--help"])
        options[script] = set(re.findall(r"--(?:condense|inversion)-[a-z-]+", capsys.readouterr().out))
    expected = {f"--condense-{f.name.replace('_', '-')}" for f in fields(CondenseConfig)}
    expected |= {f"--inversion-{f.name.replace('_', '-')}" for f in fields(InversionConfig)}
    recipe = {"--inversion-net", "--inversion-net-epochs"}  # LatentRecipe's, in both too
    assert options[split_cifar100] == expected | recipe == options[condense_dataset]


def test_inversion_reads_the_inversions_itgan_made_and_trains_the_model_it_trains_alone(setup):
    root = setup[0]
    assert run(setup, "--name", "shared", "--methods", "itgan,inversion") == 0
    assert run(setup, "--name", "alone", "--methods", "inversion") == 0
    shared = json.loads((root / "runs/shared/results.json").read_text())["results"]
    alone = json.loads((root / "runs/alone/results.json").read_text())["results"]["inversion"]
    n_jobs = 2  # experience 1's two classes, one job each (the last experience is not condensed)
    assert (shared["itgan"]["inversions_reused"], shared["inversion"]["inversions_reused"], alone["inversions_reused"]) == (0, n_jobs, 0)
    assert shared["inversion"]["final_model_sha256"] == alone["final_model_sha256"]
    assert not (root / "runs/shared/inversions").exists()  # photo inversions do not outlive the run


def test_least_squares_line_and_its_slope_error_match_hand_computed_values():
    from experiments.accuracy_vs_cas import least_squares

    assert least_squares([(0, 1), (1, 3), (2, 5)]) == {"intercept": 1.0, "slope": 2.0, "slope_stderr": 0.0, "points": 3}
    fit = least_squares([(0, 0), (1, 1), (2, 1)])  # slope 1/2, residuals -1/6, 1/3, -1/6: stderr sqrt((1/6) / 1 / 2)
    assert fit["slope"] == pytest.approx(0.5) and fit["intercept"] == pytest.approx(1 / 6)
    assert fit["slope_stderr"] == pytest.approx((1 / 12) ** 0.5)
    assert least_squares([(0, 0), (1, 1)]) is None


def test_accuracy_vs_cas_runs_each_snapshot_and_the_baselines_once_on_held_out_photos(setup, tmp_path, capsys):
    from experiments import accuracy_vs_cas

    root, dataset, _ = setup
    rows = []
    for iteration, seed in ((0, 3), (100, 4), (200, 5)):
        path = tmp_path / f"iter_{iteration}.pt"
        tiny_generator(seed=seed).save(path, extra={"dataset": "imagefolder:pretrain-photos", "iteration": iteration})
        rows.append({"file": str(path), "fingerprint": FrozenGenerator.load(path).fingerprint, "iteration": iteration,
                     "cas": {"validation": {"mean": 0.1 * (seed - 2), "std": 0.01}}})
    (tmp_path / "cas.json").write_text(json.dumps({"settings": {}, "rows": rows}))
    argv = [str(tmp_path / "cas.json"), "--dataset", dataset, "--preset", "smoke", "--validation-per-class", "4",
            "--out-dir", str(tmp_path / "runs"), "--name", "ac", "--no-progress"]
    assert accuracy_vs_cas.main(argv) == 0
    saved = json.loads((tmp_path / "runs/ac/accuracy_vs_cas.json").read_text())
    assert [r["iteration"] for r in saved["rows"]] == [0, 100, 200] and set(saved["lines"]) == {"jpeg", "exemplar"}
    assert set(saved["rows"][0]["accuracy"]) == {"itgan", "gan-fresh"} and saved["fits"]["itgan"]["points"] == 3
    settings = json.loads((tmp_path / "runs/ac-100/results.json").read_text())["settings"]
    assert settings["evaluated_on"].startswith("validation: 4 held-out") and settings["generator"] == rows[1]["fingerprint"]
    assert (tmp_path / "runs/ac/accuracy_vs_cas.png").stat().st_size > 1000
    assert accuracy_vs_cas.main([*argv, "--methods", "jpeg"]) == 2
    assert "--methods takes generator methods" in capsys.readouterr().err

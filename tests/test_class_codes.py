"""Class codes: a class the generator never saw is drawn through a learned conditioning vector."""
import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import TensorDataset

from experiments import split_cifar100
from itgan_replay import BudgetError, LatentMemory
from itgan_replay.condensation.class_code import (CodeConfig, condition_new_classes, fit_class_code, held_out_error,
                                                  plan_class_codes)
from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.inversion import InversionConfig, invert
from itgan_replay.condensation.recipe import LatentRecipe
from itgan_replay.memory.class_codes import ClassCodes
from strategies import ITGANReplayConfig, ITGANReplayPlugin
from strategies.generative_replay import GenerativeReplayPlugin
from conftest import tiny_generator, write_image_folder


def test_a_code_equal_to_a_class_embedding_draws_that_class_and_codes_change_the_fingerprint(generator):
    z = torch.randn(6, 16)
    row = generator.folded.shared.weight[2].detach()
    coded = generator.with_codes(torch.stack([row, torch.zeros_like(row)]))
    assert coded.n_labels == 6 and coded.base_fingerprint == generator.fingerprint != coded.fingerprint
    assert torch.equal(coded.generate(z, torch.full((6,), 4)), generator.generate(z, torch.full((6,), 2)))
    assert torch.allclose(coded.images_from_vectors(z, row.expand(6, -1)), generator.generate(z, torch.full((6,), 2)))
    assert torch.equal(coded.generate(z, torch.arange(6) % 4), generator.generate(z, torch.arange(6) % 4))  # classes as before
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        generator.generate(z, torch.full((6,), 4))  # the base draws no code
    with pytest.raises(ValueError, match="save the generator itself"):
        coded.save("never.pt")


def test_a_fitted_code_draws_the_class_it_was_fitted_on():
    generator = tiny_generator(n_classes=4)
    photos = generator.generate(torch.randn(48, 16), torch.full((48,), 3))  # photos of class 3
    assert torch.equal(fit_class_code(generator, photos, CodeConfig(steps=0)), generator.folded.shared.weight.mean(0))
    code = fit_class_code(generator, photos, CodeConfig(steps=150), seed=0)
    coded = generator.with_codes(code[None])
    z = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    distance = {y: (coded.generate(z, torch.full((256,), y)).mean(0) - photos.mean(0)).pow(2).mean().item() for y in range(5)}
    assert distance[4] < min(distance[y] for y in (0, 1, 2)) / 2  # nearer class 3's photos than any other class is
    assert torch.equal(fit_class_code(generator, photos, CodeConfig(steps=150), seed=0), code)  # seeded


def test_classes_are_matched_by_name_and_a_missing_class_gets_a_code_or_an_error():
    generator = tiny_generator(n_classes=4, class_names=["a", "b", "c", "d"])
    images, labels = torch.randn(9, 3, 32, 32), torch.tensor([0, 1, 2] * 3)
    codes = ClassCodes(generator)
    plan = plan_class_codes(generator, [0, 1, 2], ["c", "a", "x"], "auto")
    assert plan == {0: 2, 1: 0, 2: None}
    coded = condition_new_classes(codes, plan, images, labels, CodeConfig(steps=2))
    assert coded == [2] and codes.class_index == {0: 2, 1: 0}
    assert codes.generator_labels(torch.tensor([0, 1, 2, 2])).tolist() == [2, 0, 4, 4]  # x: the first code, never a class
    assert codes.code_bytes == 8 * 2  # shared_dim 8 in float16
    assert plan_class_codes(generator, [0, 1], ["c", "a"], "all") == {0: None, 1: None}
    assert plan_class_codes(generator, [0, 5], None, "auto") == {0: 0, 5: None}  # without names: by index
    with pytest.raises(ValueError, match=r"the generator has no class x \(1 of the 3 classes\) and class codes are off"):
        plan_class_codes(generator, [0, 1, 2], ["c", "a", "x"], "off")


def test_codes_round_trip_through_memory_files_and_their_bytes_count(tmp_path):
    generator = tiny_generator(n_classes=4)
    memory = LatentMemory(generator, "float16")
    memory.class_codes.add_code(7, torch.randn(8))
    memory.class_codes.assign(5, 1)
    for label in (0, 5, 7):
        memory.add(label, torch.randn(3, 16))
    with pytest.raises(ValueError, match="class 9 is outside the generator's 4 classes and has no class code"):
        memory.add(9, torch.randn(1, 16))
    assert memory.code_bytes == 16 and memory.total_bytes == memory.generator_bytes + 9 * 16 * 2 + 16
    memory.save(tmp_path / "m.pt")
    loaded = LatentMemory.load(tmp_path / "m.pt", tiny_generator(n_classes=4))
    assert loaded.total_bytes == memory.total_bytes and loaded.class_codes.class_index == {5: 1}
    assert torch.equal(loaded.generate(*loaded.all())[0], memory.generate(*memory.all())[0])
    z, _ = memory.all([5])
    assert torch.equal(memory.generate(z, torch.full((3,), 5))[0], generator.generate(z, torch.full((3,), 1)))  # drawn as 1
    budget = memory.generator_bytes + memory.code_bytes + 4 * 32 + 10
    memory.shrink_to(budget)
    assert len(memory) == 4 and memory.total_bytes <= budget  # the codes' bytes leave room for 4 latents, not 5


def test_plugin_fits_a_code_for_a_class_the_generator_lacks_and_counts_it():
    generator = tiny_generator(n_classes=4, class_names=["a", "b", "c", "d"])
    recipe = LatentRecipe(condense=CondenseConfig(iterations=2, real_batch=8, subset_size=4),
                          inversion=InversionConfig(steps=2), code=CodeConfig(steps=2), embedding_width=8)
    config = ITGANReplayConfig(recipe, latents_per_class=2, progress=False)
    plugin = ITGANReplayPlugin(generator, config, class_names=["b", "zebra"])
    images, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 1] * 4)
    plugin.add_classes(images, labels, [0, 1])
    assert plugin.memory.class_codes.class_index == {0: 1} and list(plugin.memory.class_codes.codes) == [1]
    assert [r["class_code"] for r in plugin.condensed] == [False, True]
    assert plugin.memory_use().stored_bytes == plugin.memory.total_bytes == (
        plugin.memory.generator_bytes + 4 * 16 * 4 + 8 * 2)  # float32 latents, one float16 code
    off = ITGANReplayPlugin(generator, replace(config, class_codes="off"), class_names=["b", "zebra"])
    with pytest.raises(ValueError, match=r"no class zebra \(1 of the 2 classes\) and class codes are off"):
        off.add_classes(images, labels, [0, 1])


def test_generative_replay_counts_its_codes():
    generator = tiny_generator(n_classes=4, class_names=["a", "b", "c", "d"])
    plugin = GenerativeReplayPlugin(generator, 10**7, class_names=["zebra", "a"], code=CodeConfig(steps=2))
    plan = plan_class_codes(generator, [0, 1], plugin.class_names, plugin.class_codes)
    condition_new_classes(plugin.codes, plan, torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 0, 1]), plugin.code)
    used = plugin.memory_use()  # one float16 code of 8 numbers: the stream's, not the generator's
    assert (used.stored_bytes, used.generator_bytes) == (plugin.generator.param_bytes + 16, plugin.generator.param_bytes)
    assert plugin.codes.generator_labels(torch.tensor([0, 1])).tolist() == [4, 0]


def test_generative_replay_refuses_codes_beyond_its_budget_before_fitting_any():
    generator = tiny_generator(n_classes=4, class_names=["a", "b", "c", "d"])
    images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 0, 1])
    experience = SimpleNamespace(classes_in_this_experience=[0, 1], current_experience=0,
                                 dataset=TensorDataset(images, labels))
    tight = GenerativeReplayPlugin(generator, generator.param_bytes + 16, class_names=["zebra", "okapi"],
                                   code=CodeConfig(steps=2))  # room for one 16-byte code, two needed
    with pytest.raises(BudgetError, match=r"cannot hold the [\d,]+-byte generator and 2 class codes of 16 bytes"):
        tight.after_training_exp(SimpleNamespace(experience=experience))
    assert tight.codes.codes == {}
    enough = GenerativeReplayPlugin(generator, generator.param_bytes + 32, class_names=["zebra", "okapi"],
                                    code=CodeConfig(steps=2))
    enough.after_training_exp(SimpleNamespace(experience=experience))
    assert enough.memory_use().stored_bytes == enough.budget_bytes


def test_main_job_takes_a_generator_of_other_classes_and_keeps_the_budget_at_every_experience(tmp_path, capsys):
    data = write_image_folder(tmp_path / "data", ["cat", "dog", "frog", "ship"])
    tiny_generator(class_names=["dog", "owl", "ship", "van"]).save(tmp_path / "g.pt", extra={"dataset": "imagefolder:other"})
    argv = ["--preset", "smoke", "--dataset", f"imagefolder:{data}", "--generator", str(tmp_path / "g.pt"), "--experiences",
            "2", "--methods", "itgan,gan-fresh", "--out-dir", str(tmp_path / "runs"), "--name", "t", "--no-progress",
            "--code-steps", "3", "--budget-bytes", "60000"]
    assert split_cifar100.main(argv) == 0
    saved = json.loads((tmp_path / "runs/t/results.json").read_text())
    assert saved["settings"]["generator_known_classes"] == ["dog", "ship"]
    itgan = saved["results"]["itgan"]
    assert max(itgan["stored_bytes_curve"]) <= 60_000 and itgan["stored_bytes"] <= 60_000
    assert itgan["stored_bytes_without_generator"] == itgan["stored_bytes"] - itgan["generator_bytes"]
    assert split_cifar100.main([*argv, "--class-codes", "off", "--name", "off"]) == 2
    assert ("the generator has no class cat, frog (2 of the 4 classes) and class codes are off; turn them on "
            "(auto) or use a generator of these classes") in capsys.readouterr().err


@pytest.mark.parametrize("script, extra", [
    ("condense_dataset", ["--out", "{out}/m.pt"]),
    ("synthetic_training", ["--out", "{out}"]),
    ("generator_dtype", ["--out", "{out}/d.json", "--validation-per-class", "2"]),
    ("privacy_report", ["--feature-dataset", "{dataset}", "--out", "{out}", "--experiences", "2"]),
    ("score_generators", ["--out", "{out}/cas.json", "--validation-per-class", "2"]),
])
def test_scripts_that_draw_classes_by_index_refuse_a_generator_of_other_classes(tmp_path, capsys, script, extra):
    import importlib

    data = write_image_folder(tmp_path / "data", ["cat", "dog", "frog", "ship"])
    tiny_generator(class_names=["dog", "owl", "ship", "van"]).save(tmp_path / "g.pt")
    values = {"dataset": f"imagefolder:{data}", "out": str(tmp_path / "out")}
    generator = [str(tmp_path / "g.pt")] if script == "score_generators" else ["--generator", str(tmp_path / "g.pt")]
    argv = [*generator, "--dataset", values["dataset"], *(a.format(**values) for a in extra)]
    assert importlib.import_module(f"experiments.{script}").main(argv) == 2
    assert "This script needs a generator of the photos' own classes" in capsys.readouterr().err


def test_held_out_error_reads_zero_for_photos_the_conditioning_draws_and_more_through_another():
    generator = tiny_generator(n_classes=4)
    start = invert(generator, torch.zeros(5, 3, 32, 32), torch.zeros(5, dtype=torch.long), steps=0, seed=3)
    photos = generator.generate(start, torch.full((5,), 2))  # what class 2 draws from the inversion's seeded start
    assert torch.equal(held_out_error(generator, photos, 2, steps=0, lr=0.05, seed=3), torch.zeros(5))
    by_hand = (generator.generate(start, torch.full((5,), 1)) - photos).flatten(1).pow(2).mean(1)
    assert torch.allclose(held_out_error(generator, photos, 1, steps=0, lr=0.05, seed=3), by_hand)
    assert (held_out_error(generator, photos, 1, steps=30, lr=0.05, seed=3) < by_hand).all()  # inversion gets nearer


def test_class_code_validation_scores_codes_on_held_out_photos_beside_the_known_classes_own(tmp_path, capsys):
    from experiments import class_code_validation

    data = write_image_folder(tmp_path / "data", ["cat", "dog", "frog"], n_train=10)
    tiny_generator(class_names=["dog", "owl", "ship", "van"]).save(tmp_path / "g.pt")
    argv = ["--dataset", f"imagefolder:{data}", "--generator", str(tmp_path / "g.pt"), "--preset", "smoke",
            "--validation-per-class", "4", "--held-out", "3", "--out", str(tmp_path / "out"), "--no-progress",
            "--setting", "none=--code-steps 0", "--setting", "fit=--code-steps 40 --code-lr 0.1"]
    assert class_code_validation.main(argv) == 0
    saved = json.loads((tmp_path / "out/class_codes.json").read_text())
    assert list(saved["own"]) == ["dog"] and saved["validation_per_class"] == 4
    rows = {r["setting"]: r for r in saved["rows"]}
    assert set(rows["fit"]["errors"]) == {"cat", "dog", "frog"} and rows["fit"]["code_settings"]["steps"] == 40
    assert saved["chosen"]["setting"] == saved["rows"][0]["setting"] == "fit"  # a fitted code beats the mean embedding
    assert rows["fit"]["mean_error"] == pytest.approx(sum(rows["fit"]["errors"].values()) / 3)
    assert class_code_validation.main([*argv[:-4], "--setting", "x=--condense-lr 0.1"]) == 2
    assert "--condense-lr is not a --code-* option" in capsys.readouterr().err
    cas = ["--cas", "--cas-per-class", "4", "--cas-epochs", "1", "--cas-seeds", "2"]
    assert class_code_validation.main([*argv, *cas]) == 0
    saved = json.loads((tmp_path / "out/class_codes.json").read_text())
    assert saved["cas"]["seeds"] == 2 and "own_cas" not in saved  # dog is known, cat and frog are not
    for row in saved["rows"]:
        for key in ("cas_codes", "cas_auto"):
            assert len(row[key]["validation"]["per_seed"]) == 2 and 0 <= row[key]["validation"]["mean"] <= 1
    tiny_generator(class_names=["cat", "dog", "frog", "van"]).save(tmp_path / "all.pt")
    assert class_code_validation.main([*argv[:2], "--generator", str(tmp_path / "all.pt"), *argv[4:-4],
                                       "--setting", "none=--code-steps 0", *cas]) == 0
    saved = json.loads((tmp_path / "out/class_codes.json").read_text())
    assert 0 <= saved["own_cas"]["validation"]["mean"] <= 1 and "cas_auto" not in saved["rows"][0]
    assert "own embedding" in capsys.readouterr().out
    assert class_code_validation.main([*argv, "--cas", "--cas-seeds", "0"]) == 2
    assert "--cas-seeds must be 1 or more, got 0" in capsys.readouterr().err


def test_cas_draws_each_of_its_classes_through_the_generator_label_given(monkeypatch):
    from itgan_replay.gan import quality

    seen = []
    monkeypatch.setattr(quality, "train_classifier", lambda net, images, labels, *a, **k: seen.append((images, labels)))
    generator = tiny_generator(n_classes=4)
    coded = generator.with_codes(generator.folded.shared.weight[2].detach()[None])  # code 0 (label 4) = class 2
    eval_sets = {"v": (torch.randn(6, 3, 32, 32), torch.tensor([0, 1] * 3))}
    for g, draw in ((coded, [4, 1]), (generator, [2, 1]), (generator, [0, 1]), (generator, None)):
        quality.classification_accuracy_scores(g, eval_sets, n_per_class=3, epochs=1, width=8, draw=draw)
    (through_code, y), (through_class, y2), (other, _), (default, y_default) = seen
    assert torch.equal(y, torch.tensor([0, 0, 0, 1, 1, 1])) and torch.equal(y, y2)
    assert torch.equal(through_code, through_class) and not torch.equal(through_code[:3], other[:3])
    assert torch.equal(through_code[3:], other[3:])  # class 1 is drawn as 1 in both
    assert torch.equal(y_default, torch.arange(4).repeat_interleave(3)) and len(default) == 12  # every class

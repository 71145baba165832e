"""The IT-GAN authors' generators and latents, imported (experiments/import_generator.py, import_latents.py).

The fixture (tests/data/biggan/, made by its make_fixture.py from the authors' own code) holds a BigGAN-CIFAR
generator at G_ch 4 with weights moved off their init, latents z, labels y and the authors' eval-mode images.
"""
import math
from pathlib import Path

import pytest
import torch

from experiments import import_generator, import_latents, split_cifar100
from itgan_replay import FrozenGenerator, LatentMemory
from itgan_replay.gan.biggan import CIFAR10_CLASSES, CIFAR100_CLASSES, generator_from_biggan, latents_by_class
from itgan_replay.gan.generator import StoredVectorSpectralNorm
from conftest import write_image_folder

FIXTURES = Path(__file__).parent / "data" / "biggan"


def fixture(classes: int) -> dict:
    return torch.load(FIXTURES / f"g4-c{classes}.pt", weights_only=True)


def imported(tmp_path: Path, classes: int = 10, *options: str) -> Path:
    """The fixture's generator imported by the script, as ``--classes cifar10`` or ``cifar100``."""
    source, out = tmp_path / f"G_c{classes}.pth", tmp_path / f"imported-c{classes}.pt"
    torch.save(fixture(classes)["state_dict"], source)
    assert import_generator.main(["--format", "itgan-biggan", "--classes", f"cifar{classes}", str(source), "--out", str(out),
                                  *options]) == 0
    return out


@pytest.mark.parametrize("classes", [10, 100])
def test_imported_generator_makes_the_authors_images(tmp_path, classes):
    data = fixture(classes)
    generator = FrozenGenerator.load(imported(tmp_path, classes))
    assert generator.config.n_classes == classes and generator.config.ch == 4
    assert generator.class_names == list(CIFAR10_CLASSES if classes == 10 else CIFAR100_CLASSES)
    mean = (0.4914, 0.4822, 0.4465) if classes == 10 else (0.5071, 0.4866, 0.4409)  # the authors' utils.get_dataset
    assert generator.mean_values == mean
    images = generator.denormalize(generator.generate(data["z"], data["y"]))
    assert (images - data["images"]).abs().max() < 1e-4
    assert (data["images"].std() > 0.05) and len(set(data["y"].tolist())) > 1  # the fixture is not a trivial one
    assert generator.extra["saw_stream_photos"] is True and generator.extra["source_file"] == f"G_c{classes}.pth"


def test_spectral_norm_divides_by_one_power_iteration_from_the_stored_vector():
    sn = StoredVectorSpectralNorm(2)
    sn.u.copy_(torch.tensor([[1.0, 1.0]]))
    weight = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    # by hand: v = (3, 1) / sqrt(10), u' = (9, 1) / sqrt(82), sigma = v W^T u'^T = 82 / sqrt(820) = sqrt(8.2)
    assert torch.allclose(sn(weight), weight / math.sqrt(8.2))
    assert torch.equal(sn.u, torch.tensor([[1.0, 1.0]]))  # never updated


def test_imported_bytes_are_counted_exactly_at_each_storage(tmp_path):
    generator = FrozenGenerator.load(imported(tmp_path))
    # G_ch 4 (width 16), 10 classes, 3 blocks. Floating numbers: linear 128 x 256 + 256; per block two 3x3 convs
    # (16 x 16 x 9 + 16 each), a 1x1 shortcut (16 x 16 + 16), two norms of gain and bias embeddings (2 x 10 x 16)
    # and running mean and variance (2 x 16); the output norm (4 x 16) and conv (16 x 3 x 9 + 3). Seven int64
    # batch counters.
    block = 2 * (16 * 16 * 9 + 16) + 16 * 16 + 16 + 2 * (2 * 10 * 16 + 2 * 16)
    floats = 128 * 256 + 256 + 3 * block + 4 * 16 + 16 * 3 * 9 + 3
    assert generator.param_bytes == 4 * floats + 7 * 8 == 201_540
    assert generator.stored_as(torch.float16).param_bytes == 2 * floats + 7 * 8
    # int8: a byte per weight of every matrix or kernel (the embeddings included) and a float16 scale per row
    matrices = [(256, 128)] + 3 * [(16, 144), (16, 144), (16, 16), (10, 16), (10, 16), (10, 16), (10, 16)] + [(3, 144)]
    int8 = sum(rows * cols + 2 * rows for rows, cols in matrices) + 2 * (floats - sum(r * c for r, c in matrices)) + 7 * 8
    assert generator.stored_as(torch.int8).param_bytes == int8 == 52_132


def test_imported_file_round_trips_and_keeps_its_fingerprint(tmp_path):
    path = imported(tmp_path)
    generator = FrozenGenerator.load(path)
    generator.save(tmp_path / "again.pt", extra=generator.extra)
    again = FrozenGenerator.load(tmp_path / "again.pt")
    assert again.fingerprint == generator.fingerprint and again.config.conditioning == "class"
    z, y = torch.randn(5, 128), torch.tensor([0, 3, 9, 9, 1])
    assert torch.equal(again.generate(z, y), generator.generate(z, y))
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"c{i}" for i in range(10)))
    other = imported(tmp_path, 10, "--classes", str(names), "--mean", "0.5", "0.5", "0.5", "--std", "0.5", "0.5", "0.5")
    assert FrozenGenerator.load(other).class_names == [f"c{i}" for i in range(10)]


def broken(state: dict, change: str) -> dict:
    state = dict(state)
    if change == "missing":
        del state["blocks.1.0.conv2.u0"], state["output_layer.0.gain"]
    elif change == "unexpected":
        state["blocks.0.0.attention.gamma"] = torch.zeros(())
    elif change == "shape":
        state["blocks.2.0.conv_sc.weight"] = torch.zeros(16, 16, 3, 3)
    return state


@pytest.mark.parametrize("change, message", [
    ("missing", "missing blocks.1.0.conv2.u0, output_layer.0.gain"),
    ("unexpected", "unexpected blocks.0.0.attention.gamma"),
    ("shape", "wrong shapes: blocks.2.0.conv_sc.weight (16, 16, 3, 3) (expected (16, 16, 1, 1))"),
])
def test_a_state_dict_with_missing_unexpected_or_misshapen_tensors_is_refused_naming_them(tmp_path, capsys, change, message):
    source = tmp_path / "G.pth"
    torch.save(broken(fixture(10)["state_dict"], change), source)
    assert import_generator.main(["--format", "itgan-biggan", "--classes", "cifar10", str(source), "--out",
                                  str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {source}: not the BigGAN-CIFAR generator") and message in err
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b"not a torch file"), "not a PyTorch file of plain tensors"),
    (lambda p: torch.save([torch.zeros(2)], p), "holds a list, expected a dict of tensors"),
    (lambda p: torch.save({"G": torch.zeros(2)}, p), "no tensor linear.weight, blocks.0.0.bn1.gain.weight (keys found: G"),
    (lambda p: FrozenGenerator.load(imported(p.parent)).save(p), "an itgan-replay file already"),
    (lambda p: None, "no such file"),
])
def test_a_file_of_another_format_is_refused_with_one_line(tmp_path, capsys, write, message):
    source = tmp_path / "G.pth"
    write(source)
    args = ["--format", "itgan-biggan", "--classes", "cifar10", str(source), "--out", str(tmp_path / "out.pt")]
    assert import_generator.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (["--classes", "cifar100"], "the generator has 10 classes, the class names 100"),
    (["--classes", "nowhere.txt"], "neither cifar10 nor cifar100 nor a file of class names"),
    (["--classes", "cifar10", "--mean", "0.5", "0.5", "0.5"], "has its own statistics"),
])
def test_bad_class_options_are_refused(tmp_path, capsys, options, message):
    source = tmp_path / "G.pth"
    torch.save(fixture(10)["state_dict"], source)
    assert import_generator.main(["--format", "itgan-biggan", str(source), "--out", str(tmp_path / "o.pt"), *options]) == 2
    assert message in capsys.readouterr().err


def authors_latents(tmp_path: Path, key: str = "z_eff_all") -> tuple[Path, Path, torch.Tensor, torch.Tensor]:
    """A latent file as the authors save theirs (one latent per training image) and a labels file."""
    labels = torch.arange(60) % 10
    latents = torch.randn(60, 128)
    torch.save({key: latents}, tmp_path / "z.pt")
    (tmp_path / "labels.txt").write_text("\n".join(map(str, labels.tolist())))
    return tmp_path / "z.pt", tmp_path / "labels.txt", latents, labels


def test_imported_latents_are_each_classes_first_or_drawn_latents_counted_exactly(tmp_path):
    generator_file = imported(tmp_path)
    source, labels_file, latents, labels = authors_latents(tmp_path)
    common = [str(source), "--generator", str(generator_file), "--labels", str(labels_file), "--per-class", "3"]
    assert import_latents.main([*common, "--classes", "2,7", "--storage-dtype", "float32", "--out", str(tmp_path / "m.pt")]) == 0
    memory = LatentMemory.load(tmp_path / "m.pt", FrozenGenerator.load(generator_file))
    assert memory.classes == [2, 7]
    assert torch.equal(memory.latents[7], latents[[7, 17, 27]])  # the first three images of class 7
    assert memory.latent_bytes == 6 * 128 * 4 and memory.generator_bytes == FrozenGenerator.load(generator_file).stored_as(
        torch.float16).param_bytes
    assert import_latents.main([*common, "--draw-seed", "5", "--out", str(tmp_path / "d.pt")]) == 0
    drawn = LatentMemory.load(tmp_path / "d.pt", FrozenGenerator.load(generator_file))
    assert drawn.classes == list(range(10)) and drawn.latent_bytes == 30 * 128 * 2  # float16 by default
    expected = latents_by_class(latents, labels, [4], 3, seed=5)[4]
    assert torch.equal(drawn.latents[4], expected.half().float()) and not torch.equal(expected, latents[[4, 14, 24]])


@pytest.mark.parametrize("change, message", [
    (["--per-class", "7"], "class 0 has 6 latents, fewer than the 7 asked for"),
    (["--key", "z_inverse_all"], "expected one of z_inverse_all; the file holds z_eff_all"),
    (["--classes", "3,12"], "--classes: [12] outside the generator's 10 classes"),
    (["--labels", "short"], "60 latents against 59 labels"),
])
def test_bad_latent_imports_are_refused_with_one_line(tmp_path, capsys, change, message):
    generator_file = imported(tmp_path)
    source, labels_file, _, _ = authors_latents(tmp_path)
    (tmp_path / "short").write_text("\n".join(["0"] * 59))
    options = {"--labels": str(labels_file), "--per-class": "3", "--classes": "all"}
    options.update({change[0]: change[1] if change[0] != "--labels" else str(tmp_path / change[1])})
    args = [str(source), "--generator", str(generator_file), "--out", str(tmp_path / "m.pt"), *sum(options.items(), ())]
    if change[0] == "--key":
        args += change
    assert import_latents.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "m.pt").exists()


def test_plugin_replays_prepared_latents_only_after_their_experience_and_never_condenses_them(tmp_path):
    from strategies import ITGANReplayConfig, ITGANReplayPlugin

    generator = FrozenGenerator.load(imported(tmp_path))
    prepared = LatentMemory(generator, "float16", torch.float16)
    for c in (0, 1, 2):
        prepared.add(c, torch.randn(5, 128))
    plugin = ITGANReplayPlugin(generator, ITGANReplayConfig(latents_per_class=2, storage_dtype="float16",
                                                            generator_dtype="float16", progress=False), prepared=prepared)
    images, labels = torch.zeros(4, 3, 32, 32), torch.tensor([0, 0, 1, 1])
    plugin.add_classes(images, labels, [0, 1], experience=0)
    assert plugin.memory.classes == [0, 1] and torch.equal(plugin.memory.latents[1], prepared.latents[1][:2])
    assert plugin.seconds == {"inversion_net": 0.0, "inversion": 0.0, "condensation": 0.0}  # nothing condensed
    with pytest.raises(ValueError, match=r"classes \[3\] of experience 2 have no prepared latents"):
        plugin.add_classes(images, torch.tensor([3, 3, 3, 3]), [3], experience=1)
    with pytest.raises(ValueError, match="a memory holds generator"):  # latents stored otherwise than the config says
        ITGANReplayPlugin(generator, ITGANReplayConfig(latents_per_class=2, generator_dtype="float16"), prepared=prepared)


def test_paper_preset_runs_an_imported_generator_on_the_cpu_with_small_overrides(tmp_path):
    generator_file = imported(tmp_path)
    data = write_image_folder(tmp_path / "photos", list(CIFAR10_CLASSES), n_train=6, n_test=2)
    assert split_cifar100.main([
        "--preset", "paper", "--dataset", f"imagefolder:{data}", "--generator", str(generator_file), "--experiences", "2",
        "--methods", "itgan,naive", "--epochs", "1", "--batch-size", "16", "--condense-iterations", "1",
        "--inversion-steps", "1", "--condense-subset-size", "8", "--condense-real-batch", "8",
        "--out-dir", str(tmp_path / "runs"), "--name", "paper", "--no-progress", "--device", "cpu"]) == 0
    import json

    results = json.loads((tmp_path / "runs/paper/results.json").read_text())
    assert results["settings"]["generator"] == FrozenGenerator.load(generator_file).fingerprint
    assert results["results"]["itgan"]["generator_bytes"] == 201_540  # the paper preset stores it in float32

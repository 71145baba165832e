"""Every Python block of README.md runs as written, with small values for the names its top declares."""
import re
from pathlib import Path

import pytest
import torch

from itgan_replay import LatentMemory
from itgan_replay.gan.biggan import CIFAR10_CLASSES, generator_from_biggan
from conftest import tiny_generator, write_image_folder

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
DECLARATION = re.compile(r"^(?P<names>[A-Z_]+(?:, [A-Z_]+)*) = ", re.M)


def small_values(tmp_path: Path) -> dict[str, str]:
    """The test's value (Python source) for each name a block may declare: a 4-class photo folder, a tiny generator
    file of the same format as a pretrained one, few experiences, epochs and condensation steps."""
    data = write_image_folder(tmp_path / "photos", ["a", "b", "c", "d"], n_train=12, n_test=4)
    tiny_generator().save(tmp_path / "generator.pt", extra={"dataset": "imagefolder:other-photos"})
    biggan = torch.load(Path(__file__).parent / "data/biggan/g4-c10.pt", weights_only=True)["state_dict"]
    imported = generator_from_biggan(biggan, CIFAR10_CLASSES, (0.5,) * 3, (0.5,) * 3)  # as import_generator.py makes it
    imported.save(tmp_path / "imported.pt")
    latents = LatentMemory(imported, "float16", torch.float16)  # as import_latents.py makes it
    for c in range(10):
        latents.add(c, torch.randn(12, 128))
    latents.save(tmp_path / "imported-latents.pt")
    return {"DATASET": repr(f"imagefolder:{data}"), "GENERATOR": repr(str(tmp_path / "generator.pt")),
            "IMPORTED_GENERATOR": repr(str(tmp_path / "imported.pt")),
            "IMPORTED_LATENTS": repr(str(tmp_path / "imported-latents.pt")),
            "MEMORY": repr(str(tmp_path / "memory.pt")), "EXPERIENCES": "2", "EPOCHS": "1", "BUDGET": "3_686_400",
            "RECIPE": "LatentRecipe(condense=CondenseConfig(iterations=2, subset_size=4, real_batch=8), "
                      "inversion=InversionConfig(steps=2), embedding_width=8)"}


def substituted(block: str, values: dict[str, str]) -> str:
    """``block`` with each declaration ``NAME = ...`` / ``A, B = ...`` (one line) set to the test's values."""
    def replace(match: re.Match) -> str:
        names = match["names"].split(", ")
        unknown = [n for n in names if n not in values]
        assert not unknown, f"README block declares {unknown}: give them small values in this test"
        return f"{match['names']} = {', '.join(values[n] for n in names)}  # "
    return DECLARATION.sub(replace, block)


def test_readme_has_the_blocks_this_test_knows():
    assert len(BLOCKS) >= 2 and all(DECLARATION.search(b) for b in BLOCKS)  # each declares what a user sets


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    from itgan_replay import CondenseConfig, InversionConfig

    monkeypatch.chdir(tmp_path)
    values = small_values(tmp_path)
    namespace = {"CondenseConfig": CondenseConfig, "InversionConfig": InversionConfig}  # for RECIPE's small value
    for block in BLOCKS:  # in order: a later block may read what an earlier one wrote (the memory)
        exec(compile(substituted(block, values), str(README), "exec"), dict(namespace))
    assert (tmp_path / "memory.pt").exists()


@pytest.mark.parametrize("line", ["DATASET = 'x'", "EXPERIENCES, EPOCHS = 10, 4"])
def test_a_declared_name_the_test_does_not_know_fails_it(line):
    with pytest.raises(AssertionError, match="give them small values"):
        substituted(line.replace("DATASET", "UNKNOWN").replace("EPOCHS", "OTHER"), {"DATASET": "1", "EXPERIENCES": "2"})

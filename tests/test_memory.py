import os

import pytest
import torch

from itgan_replay.memory import files
from itgan_replay.memory.files import StoredFileError
from itgan_replay.memory.latent import BudgetError, LatentMemory
from conftest import tiny_generator


def filled(generator, dtype=torch.float32, per_class=(5, 3, 4)):
    memory = LatentMemory(generator, dtype)
    for c, n in enumerate(per_class):
        memory.add(c, torch.randn(n, 16, generator=torch.Generator().manual_seed(c)))
    return memory


def test_byte_accounting_is_exact_for_every_storage(generator):
    m32, m16, m8, m4 = (filled(generator, d) for d in (torch.float32, "float16", "int8", "int4"))
    assert m32.latent_bytes == 12 * 16 * 4
    assert m16.latent_bytes * 2 == m32.latent_bytes
    assert m8.latent_bytes == 12 * (16 + 2 + 2)  # one byte a number, a float16 scale and offset per latent
    assert m4.latent_bytes == 12 * (8 + 2 + 2)  # two numbers a byte
    assert [m.bytes_per_latent * len(m) for m in (m32, m16, m8, m4)] == [m.latent_bytes for m in (m32, m16, m8, m4)]
    assert m32.generator_bytes == sum(t.numel() * 4 if t.is_floating_point() else t.numel() * 8
                                      for t in generator.net.state_dict().values())
    assert m32.total_bytes == m32.latent_bytes + m32.generator_bytes


def test_add_from_copies_the_first_latents_as_stored_and_checks_like_add(generator):
    source = filled(generator, "int8")
    memory = LatentMemory(generator, "int8")
    assert memory.add_from(source, 0, 2) == 2 and memory.latent_bytes == 2 * (16 + 2 + 2)
    assert torch.equal(memory.all([0])[0], source.all([0])[0][:2])  # the same stored bytes, so the same latents
    with pytest.raises(ValueError, match="already in memory"):
        memory.add_from(source, 0, 1)
    with pytest.raises(ValueError, match="another generator or storage"):
        LatentMemory(generator, "float16").add_from(source, 1, 1)
    source.stored[7] = source.stored[1]  # a class beyond the generator's 4, with no code
    with pytest.raises(ValueError, match="outside the generator's 4 classes"):
        memory.add_from(source, 7, 1)


def test_sample_gives_labelled_images_of_requested_classes(generator):
    memory = filled(generator)
    x, y = memory.sample(50, "cpu", classes=[1, 2], rng=torch.Generator().manual_seed(0))
    assert x.shape == (50, 3, 32, 32) and set(y.tolist()) == {1, 2}
    with pytest.raises(ValueError, match="no latents"):
        memory.sample(3, classes=[3])
    with pytest.raises(ValueError, match="already in memory"):
        memory.add(0, torch.randn(1, 16))


@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "int4"])
def test_save_load_regenerates_exactly_and_counts_the_saved_tensors(generator, tmp_path, storage):
    memory = filled(generator, storage)
    before = memory.generate(*memory.all())
    memory.save(tmp_path / "m.pt")
    loaded = LatentMemory.load(tmp_path / "m.pt", tiny_generator())
    assert loaded.storage_dtype == storage and loaded.classes == memory.classes
    assert torch.equal(loaded.generate(*loaded.all())[0], before[0])
    a = memory.sample(40, rng=torch.Generator().manual_seed(1))
    b = loaded.sample(40, rng=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    _, payload = files.load_checked(tmp_path / "m.pt", "latent-memory", 4)
    saved = [t for per_class in payload["latents"] for t in per_class.values()]
    assert sum(t.numel() * t.element_size() for t in saved) == loaded.latent_bytes == memory.latent_bytes


def test_shrink_keeps_classes_balanced(generator):
    memory = filled(generator)  # 5, 3, 4 latents
    budget = memory.generator_bytes + 7 * memory.bytes_per_latent + memory.bytes_per_latent // 2
    memory.shrink_to(budget)
    assert {c: len(z) for c, z in memory.latents.items()} == {0: 3, 1: 2, 2: 2}
    assert memory.total_bytes <= budget
    memory.shrink_to(budget * 10)  # a larger budget keeps everything
    assert len(memory) == 7


def test_impossible_budgets_are_errors(generator):
    memory = filled(generator)
    with pytest.raises(BudgetError, match="below the generator"):
        memory.shrink_to(memory.generator_bytes - 1)
    with pytest.raises(BudgetError, match="fewer than one per class"):
        memory.shrink_to(memory.generator_bytes + 2 * memory.bytes_per_latent)
    assert len(memory) == 12  # nothing dropped on error


@pytest.fixture
def saved(generator, tmp_path):
    path = tmp_path / "m.pt"
    filled(generator).save(path)
    return path


def test_mismatched_generator_is_an_error(saved):
    before = saved.read_bytes()
    with pytest.raises(StoredFileError, match="different generator|not with the given generator"):
        LatentMemory.load(saved, tiny_generator(seed=5))
    assert saved.read_bytes() == before


def test_truncated_corrupt_foreign_and_future_files_are_errors(saved, generator, tmp_path):
    raw = saved.read_bytes()
    cases = {
        "truncated": (raw[:20], "truncated"),
        "corrupt": (raw[:-5] + bytes([raw[-5] ^ 0xFF]) + raw[-4:], "checksum"),
        "foreign": (b"PK\x03\x04" + raw[4:], "magic"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        with pytest.raises(StoredFileError, match=message):
            LatentMemory.load(path, generator)
        assert path.read_bytes() == data
    future = tmp_path / "future.pt"
    files.save_checked(future, "latent-memory", 99, {})
    with pytest.raises(StoredFileError, match="newer than this itgan-replay supports"):
        LatentMemory.load(future, generator)
    generator.save(tmp_path / "g.pt")
    with pytest.raises(StoredFileError, match="holds a 'generator'"):
        LatentMemory.load(tmp_path / "g.pt", generator)


def test_keyed_file_round_trips_and_refuses_another_key_naming_what_differs(tmp_path):
    path = tmp_path / "part.pt"
    part = files.KeyedFile(path, "part", 1, {"seed": 0, "config": {"lr": 0.1}}, "pass another --out")
    assert part.load() == {}  # nothing yet
    part.save({3: torch.arange(4)}, code={"commit": "abc"})
    assert torch.equal(part.load()[3], torch.arange(4))
    other = files.KeyedFile(path, "part", 1, {"seed": 0, "config": {"lr": 0.2}}, "pass another --out")
    with pytest.raises(StoredFileError, match=r"was made at other settings \(config.lr: 0.1 \(saved\) -> 0.2 \(now\)\); "
                                              "pass another --out"):
        other.load()
    with pytest.raises(StoredFileError, match="holds a 'part'"):
        files.KeyedFile(path, "shard", 1, {}, "").load()


def test_failed_save_leaves_existing_file_untouched(saved, generator, monkeypatch):
    before = saved.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        filled(generator, per_class=(1,)).save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temp file left behind


@pytest.mark.parametrize("generator_dtype", [torch.bfloat16, torch.int8])
def test_memory_with_a_rounded_generator_counts_it_and_round_trips_exactly(generator, tmp_path, generator_dtype):
    memory = LatentMemory(generator, torch.float16, generator_dtype=generator_dtype)
    memory.add(0, torch.randn(3, 16))
    assert memory.generator.storage_dtype == generator_dtype and generator.storage_dtype == torch.float32
    assert memory.generator_bytes == generator.stored_as(generator_dtype).param_bytes < generator.param_bytes
    assert memory.total_bytes == 3 * 16 * 2 + memory.generator_bytes
    memory.save(tmp_path / "m.pt")
    loaded = LatentMemory.load(tmp_path / "m.pt", tiny_generator())  # loaded with the float32 source
    assert loaded.generator.storage_dtype == generator_dtype and loaded.total_bytes == memory.total_bytes
    a, b = (m.sample(20, rng=torch.Generator().manual_seed(2)) for m in (memory, loaded))
    assert torch.equal(a[0], b[0])


def test_version_1_memory_files_load_with_a_float32_generator(generator, tmp_path):
    z = torch.randn(2, 16)
    files.save_checked(tmp_path / "v1.pt", "latent-memory", 1, {"fingerprint": generator.fingerprint, "storage_dtype": "float32",
                                                            "labels": [1], "latents": [z]})
    loaded = LatentMemory.load(tmp_path / "v1.pt", generator)
    assert loaded.generator.storage_dtype == torch.float32 and torch.equal(loaded.latents[1], z)

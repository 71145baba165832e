"""The replay memory: per-class latents plus a frozen generator, with exact byte accounting."""
from __future__ import annotations

import os

import torch

from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.class_codes import ClassCodes
from itgan_replay.memory.codecs import CODECS, LatentCodec, Stored, stored_bytes, stored_rows
from itgan_replay.memory.files import StoredFileError, load_checked, save_checked

MEMORY_FILE_KIND = "latent-memory"
MEMORY_FILE_VERSION = 4  # 2: records the generator's storage dtype (version 1: float32); 3: latents as codec tensors;
# 4: class codes and the labels' generator classes
STORAGE_DTYPES = tuple(CODECS)


class BudgetError(ValueError):
    """A byte budget cannot hold what it must (the generator, or one latent per class)."""


def require_generator_fits(generator: FrozenGenerator, budget_bytes: int) -> None:
    """The one check that a memory's generator, as stored (:meth:`FrozenGenerator.stored_as`), fits ``budget_bytes``.

    Raises:
        BudgetError: it does not, with what to change.
    """
    if budget_bytes < generator.param_bytes:
        stored = str(generator.storage_dtype).removeprefix("torch.")
        raise BudgetError(f"budget of {budget_bytes:,} bytes is below the generator's {generator.param_bytes:,} bytes in "
                          f"{stored}; raise the budget, store the generator in fewer bits (generator_dtype) or use a "
                          "narrower generator")


class LatentMemory:
    """Latents per class, regenerated into labelled images by a frozen generator.

    Args:
        generator: the frozen generator the latents belong to.
        storage_dtype: how latents are stored: ``"float32"``, ``"float16"``, ``"int8"`` or ``"int4"``
            (:data:`~itgan_replay.memory.codecs.CODECS`; ``torch.float32`` and ``torch.float16`` name the
            first two). They are regenerated from exactly the stored values, in float32.
        generator_dtype: ``torch.float32``, ``float16`` or ``bfloat16``: how the memory stores (and
            counts) the generator's weights. :attr:`generator` is then ``generator.stored_as(generator_dtype)``,
            so images come from exactly the stored weights.

    A label is drawn as the generator's class of the same index, unless :attr:`class_codes` says otherwise (a
    class matched by name, or a learned class code, stored and counted with the latents). Condense against
    :attr:`drawing_generator` with :meth:`generator_labels`.
    """

    def __init__(self, generator: FrozenGenerator, storage_dtype: str | torch.dtype = "float32",
                 generator_dtype: torch.dtype = torch.float32) -> None:
        name = str(storage_dtype).removeprefix("torch.")
        if name not in CODECS:
            raise ValueError(f"storage_dtype must be one of {list(CODECS)}, got {storage_dtype}")
        if generator.storage_dtype != generator_dtype:
            generator = generator.stored_as(generator_dtype)
        self.generator, self.storage_dtype, self.codec = generator, name, CODECS[name]
        self.stored: dict[int, Stored] = {}  # per class, the codec's tensors
        self.class_codes = ClassCodes(generator)

    @property
    def drawing_generator(self) -> FrozenGenerator:
        """:attr:`generator` with the memory's class codes: what draws :meth:`generator_labels`."""
        return self.class_codes.generator

    def generator_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The labels of :attr:`drawing_generator` that the memory's ``labels`` are drawn as."""
        return self.class_codes.generator_labels(labels)

    @property
    def classes(self) -> list[int]:
        return sorted(self.stored)

    def __len__(self) -> int:
        return sum(self._count(c) for c in self.stored)

    def _count(self, label: int) -> int:
        return len(next(iter(self.stored[label].values())))

    @property
    def latents(self) -> dict[int, torch.Tensor]:
        """Each class's latents as stored, decoded to float32 (what the memory regenerates from)."""
        return {c: self.codec.decode(self.stored[c]) for c in self.classes}

    def add(self, label: int, latents: torch.Tensor) -> None:
        """Store ``latents`` (n, z_dim) for a class that is not in memory yet."""
        self._check_new(label)
        if latents.dim() != 2 or latents.shape[1] != self.generator.config.z_dim:
            raise ValueError(f"latents must have shape (n, {self.generator.config.z_dim}), got {tuple(latents.shape)}")
        self.stored[int(label)] = self.codec.encode(latents)

    def add_from(self, other: "LatentMemory", label: int, n: int) -> int:
        """Store the first ``n`` latents of ``label`` in ``other`` (a memory of the same generator and storage),
        exactly as stored there, for a class that is not in memory yet; return how many were stored."""
        if (other.generator.fingerprint, other.generator.storage_dtype, other.storage_dtype) != (
                self.generator.fingerprint, self.generator.storage_dtype, self.storage_dtype):
            raise ValueError("the other memory has another generator or storage; its latents cannot be copied as stored")
        self._check_new(label)
        self.stored[int(label)] = stored_rows(other.stored[label], slice(0, n))
        return self._count(label)

    def _check_new(self, label: int) -> None:
        """ValueError unless ``label`` can be added: not in memory yet, and a class of the generator or one with a code."""
        if label in self.stored:
            raise ValueError(f"class {label} is already in memory; classes are stored once")
        if not self.class_codes.knows(label):
            raise ValueError(f"class {label} is outside the generator's {self.generator.config.n_classes} classes and has "
                             "no class code")

    @property
    def condense_codec(self) -> LatentCodec | None:
        """The ``codec`` to condense this memory's latents with (``None`` for float32, stored as they are)."""
        return None if self.storage_dtype == "float32" else self.codec

    @property
    def bytes_per_latent(self) -> int:
        return self.codec.bytes_per_latent(self.generator.config.z_dim)

    @property
    def latent_bytes(self) -> int:
        """Bytes of all stored latents: every tensor the codec stores (codes, scales and offsets)."""
        return sum(stored_bytes(t) for t in self.stored.values())

    @property
    def generator_bytes(self) -> int:
        """Bytes of the generator's weights, stored in ``generator.storage_dtype``."""
        return self.generator.param_bytes

    @property
    def code_bytes(self) -> int:
        """Bytes of the class codes (float16)."""
        return self.class_codes.code_bytes

    @property
    def total_bytes(self) -> int:
        return self.latent_bytes + self.code_bytes + self.generator_bytes

    def sample(self, n: int, device: str | torch.device | None = None, classes: list[int] | None = None,
               rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Regenerate ``n`` labelled images from latents drawn uniformly (with replacement)
        among the stored latents of ``classes`` (default: all). Images come out on ``device``."""
        z, y = self.all(classes)
        idx = torch.randint(len(z), (n,), generator=rng)
        return self.generate(z[idx], y[idx], device)

    def generate(self, z: torch.Tensor, y: torch.Tensor, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images of given latents/labels on ``device`` (the generator moves there if needed)."""
        device = torch.device(device) if device is not None else self.generator.device
        generator = self.drawing_generator
        if generator.device != device:
            generator.to(device)
        return generator.generate(z.float().to(device), self.generator_labels(y).to(device)), y.to(device)

    def all(self, classes: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The stored latents (float32) of ``classes`` (default: all) and their labels."""
        classes = self.classes if classes is None else classes
        missing = [c for c in classes if c not in self.stored]
        if missing or not classes:
            raise ValueError(f"classes {missing or classes} have no latents in memory")
        z = torch.cat([self.codec.decode(self.stored[c]) for c in classes])
        return z, torch.cat([torch.full((self._count(c),), c, dtype=torch.long) for c in classes])

    def capacity(self, budget_bytes: int) -> int:
        """How many latents fit beside the generator and the class codes in ``budget_bytes``.

        Raises:
            BudgetError: the generator alone does not fit.
        """
        require_generator_fits(self.generator, budget_bytes)
        return max(0, budget_bytes - self.generator_bytes - self.code_bytes) // self.bytes_per_latent

    def shrink_to(self, budget_bytes: int) -> None:
        """Drop latents until ``total_bytes <= budget_bytes``, keeping classes balanced
        (each class keeps its first ``k_c`` latents, the ``k_c`` as equal as possible).

        Raises:
            BudgetError: the generator does not fit, or there is no room for one latent per class.
        """
        room = self.capacity(budget_bytes)
        if room >= len(self):
            return
        if room < len(self.stored):
            raise BudgetError(f"budget of {budget_bytes:,} bytes leaves room for {room} latents beside the generator, "
                              f"fewer than one per class ({len(self.stored)} classes); raise the budget")
        keep = {c: 0 for c in self.stored}
        while room > 0:  # water-filling: one more latent to each class that still has some, smallest first
            open_classes = sorted((c for c in keep if keep[c] < self._count(c)), key=lambda c: (keep[c], c))
            for c in open_classes[:room]:
                keep[c] += 1
            room -= min(room, len(open_classes))
        self.stored = {c: stored_rows(t, slice(0, keep[c])) for c, t in self.stored.items()}

    def save(self, path: str | os.PathLike) -> None:
        """Write the memory atomically, tied to the generator's fingerprint."""
        save_checked(path, MEMORY_FILE_KIND, MEMORY_FILE_VERSION, {
            "fingerprint": self.generator.fingerprint, "storage_dtype": self.storage_dtype,
            "generator_storage_dtype": self.generator.provenance["generator_storage_dtype"],
            "labels": self.classes, "latents": [self.stored[c] for c in self.classes],
            "class_codes": self.class_codes.state(),
        })

    @classmethod
    def load(cls, path: str | os.PathLike, generator: FrozenGenerator) -> "LatentMemory":
        """Read a memory written by :meth:`save` for this ``generator`` (the float32 one it was made from).

        Raises:
            FileNotFoundError: no file at ``path``.
            StoredFileError: corrupt or truncated file, a newer format version, or a
                memory made with a different generator (fingerprint mismatch).
        """
        version, payload = load_checked(path, MEMORY_FILE_KIND, MEMORY_FILE_VERSION)
        if payload["fingerprint"] != generator.fingerprint:
            raise StoredFileError(f"{path}: memory was made with generator {payload['fingerprint'][:12]}…, "
                                  f"not with the given generator {generator.fingerprint[:12]}…; load the matching generator file")
        generator_dtype = GENERATOR_STORAGE_DTYPES[payload["generator_storage_dtype"] if version >= 2 else "float32"]
        memory = cls(generator, payload["storage_dtype"], generator_dtype)
        for label, stored in zip(payload["labels"], payload["latents"]):  # versions 1-2: float tensors
            stored = stored if version >= 3 else {"values": stored}
            if memory.codec.decode(stored).shape[1:] != (generator.config.z_dim,):
                raise StoredFileError(f"{path}: class {label}'s latents do not decode to the generator's z_dim "
                                      f"{generator.config.z_dim}; the file does not belong to this generator")
            memory.stored[int(label)] = stored
        if version >= 4:
            memory.class_codes.load_state(payload["class_codes"])
        return memory

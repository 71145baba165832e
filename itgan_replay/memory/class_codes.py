"""How a memory's labels condition its generator: a generator class matched by name, or a learned class code.

A stream label is drawn as one of the generator's own classes (by default the class of the same index; by
name where :meth:`ClassCodes.assign` matched it), or, for a class the generator never saw, through a class code
(a ``shared_dim`` vector fitted on the class's photos, :mod:`itgan_replay.condensation.class_code`), stored in
float16 and counted in the memory's bytes.
"""
from __future__ import annotations

import torch

from itgan_replay.gan.generator import FrozenGenerator

CODE_DTYPE = torch.float16  # codes are stored in float16: 256 bytes at shared_dim 128


class ClassCodes:
    """The labels → generator-labels map of one memory, and its class codes.

    Args:
        generator: the frozen (base) generator; :attr:`generator` draws its classes and the codes.
    """

    def __init__(self, generator: FrozenGenerator) -> None:
        self.base = generator
        self.class_index: dict[int, int] = {}  # label -> the generator class it is drawn as (where not the identity)
        self.codes: dict[int, torch.Tensor] = {}  # label -> its code as stored (float16)
        self._coded: FrozenGenerator | None = None

    def assign(self, label: int, generator_class: int) -> None:
        """Draw ``label`` as the generator's class ``generator_class`` (e.g. the class of the same name)."""
        if not 0 <= generator_class < self.base.config.n_classes:
            raise ValueError(f"generator class {generator_class} is outside its {self.base.config.n_classes} classes")
        if label in self.codes:
            raise ValueError(f"label {label} already has a class code")
        if label != generator_class:  # the identity is the default: nothing to record, nothing to map when drawing
            self.class_index[int(label)] = int(generator_class)

    def add_code(self, label: int, code: torch.Tensor) -> None:
        """Draw ``label`` through ``code`` (shared_dim,), rounded to float16 as it is stored."""
        if label in self.codes or label in self.class_index:
            raise ValueError(f"label {label} is already drawn as a generator class or a code")
        if code.shape != (self.base.config.shared_dim,):
            raise ValueError(f"a class code has shape ({self.base.config.shared_dim},), got {tuple(code.shape)}")
        self.codes[int(label)] = code.detach().cpu().to(CODE_DTYPE)
        self._coded = None

    def knows(self, label: int) -> bool:
        """Whether ``label`` can be drawn: a code, an assigned class, or (by identity) a generator class index."""
        return label in self.codes or label in self.class_index or 0 <= label < self.base.config.n_classes

    @property
    def generator(self) -> FrozenGenerator:
        """The base generator, with the codes appended (in label order) where there are any."""
        if not self.codes:
            return self.base
        if self._coded is None:
            self._coded = self.base.with_codes(torch.stack([self.codes[c] for c in sorted(self.codes)]).float())
        return self._coded

    def generator_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The generator's labels (its classes, then its codes) that ``labels`` are drawn as."""
        order = {c: self.base.config.n_classes + i for i, c in enumerate(sorted(self.codes))} | self.class_index
        if not order:
            return labels
        return torch.tensor([order.get(int(c), int(c)) for c in labels.tolist()], dtype=labels.dtype, device=labels.device)

    @property
    def bytes_per_code(self) -> int:
        """Bytes of one stored code."""
        return self.base.config.shared_dim * CODE_DTYPE.itemsize

    @property
    def code_bytes(self) -> int:
        """Bytes of the stored codes."""
        return sum(code.numel() * code.element_size() for code in self.codes.values())

    def state(self) -> dict:
        """What a memory file stores of it."""
        return {"class_index": dict(self.class_index), "codes": dict(self.codes)}

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state` (a memory file's)."""
        self.class_index = {int(k): int(v) for k, v in state["class_index"].items()}
        self.codes = {int(k): v.to(CODE_DTYPE) for k, v in state["codes"].items()}
        self._coded = None

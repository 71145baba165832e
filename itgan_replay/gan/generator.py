"""A BigGAN-style class-conditional generator for square images (32 x 32, 64 x 64, ...), and its frozen wrapper.

``Generator`` is what pretraining trains. ``FrozenGenerator`` is what IT-GAN uses:
eval mode, no parameter gradients, spectral norm baked into the weights, output
renormalised to the dataset's mean/std, chunked generation and a fingerprint that
saved latent memories are checked against.
"""
from __future__ import annotations

import json
import os
from copy import deepcopy
from copy import copy as copy_module
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from itgan_replay.gan.folded import FoldedGenerator
from itgan_replay.memory.files import StoredFileError, load_checked, save_checked, state_fingerprint

GENERATOR_FILE_KIND = "generator"
GENERATOR_FILE_VERSION = 1
GENERATOR_STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int8": torch.int8}
"""How a memory may store its generator: int8 quantises every weight matrix or kernel per output channel
(a float16 scale per channel) and stores the rest (biases, norms' parameters and statistics) in float16."""


CONDITIONINGS = ("shared", "class")
"""How a :class:`Generator` conditions its batch norms. ``shared``: this project's own, the latent and a shared
class embedding (``shared_dim``) through spectral-normed linear maps. ``class``: each norm has its own class
embeddings for gain and bias (BigGAN-CIFAR with ``G_shared=False``, the IT-GAN authors' generators), and spectral
norm divides by one power iteration from a stored vector (:class:`StoredVectorSpectralNorm`)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a :class:`Generator` (paper CIFAR setting: ``ch=64``; ``conditioning``: :data:`CONDITIONINGS`)."""

    n_classes: int
    ch: int = 64
    z_dim: int = 128
    shared_dim: int = 128
    bottom_width: int = 4
    img_size: int = 32
    conditioning: str = "shared"

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {list(CONDITIONINGS)}, got {self.conditioning!r}")
        if self.n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")
        if self.ch < 1 or self.z_dim < 1 or self.shared_dim < 1:
            raise ValueError("ch, z_dim and shared_dim must be positive")
        n_up = (self.img_size // self.bottom_width).bit_length() - 1
        if self.bottom_width * 2**n_up != self.img_size:
            raise ValueError(f"img_size {self.img_size} must be bottom_width {self.bottom_width} times a power of 2")

    @property
    def n_blocks(self) -> int:
        """Up-sampling blocks from ``bottom_width`` to ``img_size``."""
        return (self.img_size // self.bottom_width).bit_length() - 1

    @property
    def block_widths(self) -> list[int]:
        """Output channels of each block: ``4 * ch`` up to 32 x 32 (the CIFAR architecture), then halved at
        every finer resolution (as BigGAN narrows its high-resolution blocks), at least ``ch // 2``."""
        return [max(4 * self.ch >> max(0, i - 2), self.ch // 2, 1) for i in range(self.n_blocks)]


class StoredVectorSpectralNorm(nn.Module):
    """Spectral norm as BigGAN-PyTorch computes it in eval mode: the weight divided by the singular value
    that one power iteration from the stored left vector ``u`` (1, out) estimates; ``u`` is never updated
    (the variant serves imported, frozen generators)."""

    def __init__(self, out_features: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("u", torch.randn(1, out_features))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = weight.flatten(1)
        with torch.no_grad():
            v = F.normalize(self.u @ matrix, dim=1, eps=self.eps)
            u = F.normalize(v @ matrix.t(), dim=1, eps=self.eps)
        return weight / (v @ matrix.t() @ u.t()).squeeze()


def _spectral_norm(module: nn.Module, conditioning: str) -> nn.Module:
    """``module`` with the spectral norm of ``conditioning``'s architecture (see :data:`CONDITIONINGS`)."""
    if conditioning == "shared":
        return spectral_norm(module)
    parametrize.register_parametrization(module, "weight", StoredVectorSpectralNorm(module.weight.shape[0]))
    return module


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias depend on the class: linear maps of a conditioning vector
    (``cond_dim``), or the class's own embeddings (``n_classes``: the ``class`` conditioning)."""

    def __init__(self, channels: int, cond_dim: int | None = None, n_classes: int | None = None) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        if n_classes is not None:
            self.gain, self.bias = nn.Embedding(n_classes, channels), nn.Embedding(n_classes, channels)
        else:
            self.gain = spectral_norm(nn.Linear(cond_dim, channels, bias=False))
            self.bias = spectral_norm(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``cond``: the conditioning vectors (N, cond_dim), or the labels (N,) with class embeddings."""
        gain = 1 + self.gain(cond)[:, :, None, None]
        bias = self.bias(cond)[:, :, None, None]
        return self.bn(x) * gain + bias


class GBlock(nn.Module):
    """Residual up-sampling block: CBN-ReLU-up-conv-CBN-ReLU-conv plus a 1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int, config: GeneratorConfig) -> None:
        super().__init__()
        per_class = config.conditioning == "class"
        norm = dict(n_classes=config.n_classes) if per_class else dict(cond_dim=config.z_dim + config.shared_dim)
        sn = lambda m: _spectral_norm(m, config.conditioning)  # noqa: E731
        self.bn1 = ConditionalBatchNorm2d(in_ch, **norm)
        self.conv1 = sn(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.bn2 = ConditionalBatchNorm2d(out_ch, **norm)
        self.conv2 = sn(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = sn(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class Generator(nn.Module):
    """BigGAN-style generator: ``G(z, y)`` gives images in [-1, 1] of shape (N, 3, img_size, img_size)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        width, widths = 4 * config.ch, config.block_widths
        self.shared = nn.Embedding(config.n_classes, config.shared_dim) if config.conditioning == "shared" else None
        self.linear = _spectral_norm(nn.Linear(config.z_dim, width * config.bottom_width**2), config.conditioning)
        self.blocks = nn.ModuleList(GBlock(c_in, c_out, config) for c_in, c_out in zip([width] + widths, widths))
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = _spectral_norm(nn.Conv2d(widths[-1], 3, 3, padding=1), config.conditioning)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cond = y if self.shared is None else torch.cat([z, self.shared(y).to(z.dtype)], dim=1)
        h = self.linear(z).view(z.shape[0], -1, self.config.bottom_width, self.config.bottom_width)
        for block in self.blocks:
            h = block(h, cond)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


def fingerprint(config: GeneratorConfig, state_dict: dict[str, torch.Tensor], mean: Sequence[float], std: Sequence[float]) -> str:
    """A stable sha256 over the architecture, every weight and buffer, and the normalisation (the default
    ``shared`` conditioning is left out of the architecture, so fingerprints from before the field stay valid)."""
    architecture = {k: v for k, v in asdict(config).items() if (k, v) != ("conditioning", "shared")}
    header = json.dumps({"config": architecture, "mean": list(mean), "std": list(std)}, sort_keys=True).encode()
    return state_fingerprint(state_dict, header)


class FrozenGenerator(nn.Module):
    """A pretrained :class:`Generator` frozen for latent replay.

    Args:
        generator: the trained generator; it is copied, never modified.
        mean, std: per-channel normalisation of the dataset; outputs are
            ``((G(z) + 1) / 2 - mean) / std``, i.e. in the space a classifier sees.
        class_names: optional names of the generator's classes.
        chunk_size: at most this many images go through the network at once
            (paper: 500), which bounds memory for any number of latents.
        device, dtype: where and in which precision the network runs;
            ``torch.bfloat16``/``torch.float16`` must be supported by the device.
            Outputs are always float32.
    """

    def __init__(
        self,
        generator: Generator,
        mean: Sequence[float],
        std: Sequence[float],
        class_names: Sequence[str] | None = None,
        chunk_size: int = 500,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError("mean and std need 3 channels each and std must be positive")
        self.config = generator.config
        self.state = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}
        self.mean_values, self.std_values = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(self.config.n_classes)]
        if len(self.class_names) != self.config.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for a generator of {self.config.n_classes} classes")
        self.fingerprint = fingerprint(self.config, self.state, self.mean_values, self.std_values)
        self.base_fingerprint = self.fingerprint  # the generator file's; `fingerprint` also covers class codes
        self.codes = torch.zeros(0, self.config.shared_dim)  # see with_codes()
        self.extra: dict = {}  # what the file's writer recorded (pretraining: its JSON report)
        self.chunk_size = chunk_size
        self.dtype = dtype
        self.storage_dtype = torch.float32  # see stored_as()
        with torch.random.fork_rng(devices=[]):  # a fresh instance: parametrized classes are per instance
            net = Generator(self.config)
        net.load_state_dict(self.state)
        for module in net.modules():
            for name in list(getattr(module, "parametrizations", {}).keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
        self.net = net.eval().requires_grad_(False)
        self.folded = FoldedGenerator(self.net)  # what computes the images (same function, fewer operations)
        self.register_buffer("mean", torch.tensor(self.mean_values).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.std_values).view(1, 3, 1, 1))
        self.to(device)
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def to(self, *args, **kwargs) -> "FrozenGenerator":  # type: ignore[override]
        """Move to a device; the network keeps ``self.dtype`` (checked to run there)."""
        super().to(*args, **kwargs)
        self.net.to(dtype=self.dtype)
        self.folded.to(dtype=self.dtype)
        try:
            with torch.no_grad():
                self.folded(torch.zeros(2, self.config.z_dim, device=self.device, dtype=self.dtype),
                         torch.zeros(2, dtype=torch.long, device=self.device))
        except RuntimeError as err:
            raise RuntimeError(f"the generator cannot run in {self.dtype} on {self.device}: {err}; use dtype=torch.float32") from err
        return self

    def train(self, mode: bool = True) -> "FrozenGenerator":
        """Stays in eval mode: the frozen generator's batch-norm statistics never change."""
        super().train(False)
        return self

    @property
    def provenance(self) -> dict[str, str | None]:
        """What a results file records about the generator: its fingerprint and the dataset it was
        pretrained on (``None`` where its file does not say)."""
        return {"generator": self.fingerprint, "generator_trained_on": self.extra.get("dataset"),
                "generator_storage_dtype": str(self.storage_dtype).removeprefix("torch.")}

    @property
    def param_bytes(self) -> int:
        """Bytes needed to store the generator (spectral norm baked in) with weights in :attr:`storage_dtype`
        (int8: one byte a weight of every matrix or kernel plus a float16 scale per output channel,
        two bytes for each other floating number)."""
        total = 0
        for t in self.net.state_dict().values():
            if not t.is_floating_point():
                total += t.numel() * t.element_size()
            elif self.storage_dtype == torch.int8:
                total += t.numel() + 2 * len(t) if _per_channel(t) else 2 * t.numel()
            else:
                total += t.numel() * self.storage_dtype.itemsize
        return total

    def stored_as(self, dtype: torch.dtype) -> "FrozenGenerator":
        """This generator as a memory holds it with weights stored in ``dtype`` (``torch.float32``,
        ``float16``, ``bfloat16`` or ``int8``; see :data:`GENERATOR_STORAGE_DTYPES`): a copy whose floating
        weights and buffers are rounded to what is stored, whose :attr:`param_bytes` counts ``dtype``, and which still computes in
        :attr:`dtype`. Images come from exactly the stored values. The :attr:`fingerprint` stays the
        source's (the file it was loaded from); :attr:`storage_dtype` tells the two apart."""
        if dtype not in GENERATOR_STORAGE_DTYPES.values():
            raise ValueError(f"generator storage dtype must be one of {list(GENERATOR_STORAGE_DTYPES)}, got {dtype}")
        if self.storage_dtype != torch.float32:
            raise ValueError(f"this generator is already stored as {self.storage_dtype}; round the float32 generator")
        copy = deepcopy(self)
        with torch.no_grad():
            for t in copy.net.state_dict().values():
                if t.is_floating_point():
                    t.copy_(_int8_per_channel(t) if dtype == torch.int8 and _per_channel(t)
                            else t.to(torch.float16 if dtype == torch.int8 else dtype))
        copy.folded = FoldedGenerator(copy.net).to(device=copy.device, dtype=copy.dtype)
        copy.storage_dtype = dtype
        return copy

    @property
    def n_labels(self) -> int:
        """Labels this generator draws: its classes, then its class codes (:meth:`with_codes`)."""
        return self.config.n_classes + len(self.codes)

    def with_codes(self, codes: torch.Tensor) -> "FrozenGenerator":
        """A copy that draws ``len(codes)`` more classes: label ``n_classes + i`` conditions on ``codes[i]``
        (shared_dim numbers, e.g. fitted by :func:`~itgan_replay.condensation.class_code.fit_class_code`) in place
        of a class embedding. Its :attr:`fingerprint` covers the codes; :attr:`base_fingerprint` is the file's.

        Raises:
            ValueError: the generator conditions on per-norm class embeddings (the ``class`` conditioning), or the
                codes are not (k, shared_dim).
        """
        if self.config.conditioning != "shared":
            raise ValueError("class codes need the shared conditioning (a shared class embedding); this generator has "
                             "per-norm class embeddings")
        if codes.dim() != 2 or codes.shape[1] != self.config.shared_dim:
            raise ValueError(f"codes must have shape (k, {self.config.shared_dim}), got {tuple(codes.shape)}")
        copy = copy_module(self)  # shares the network: only the codes differ
        copy.codes = codes.detach().float().cpu().clone()
        copy.fingerprint = state_fingerprint({"codes": copy.codes}, self.base_fingerprint.encode()) if len(codes) else self.base_fingerprint
        return copy

    def images_from_vectors(self, z: torch.Tensor, class_vectors: torch.Tensor) -> torch.Tensor:
        """Normalised images of latents ``z`` conditioned on ``class_vectors`` (N, shared_dim) instead of labels:
        differentiable with respect to both (what fitting a class code optimises); one chunk."""
        if self.config.conditioning != "shared":
            raise ValueError("class vectors need the shared conditioning")
        z, vectors = z.to(self.device, self.dtype), class_vectors.to(self.device, self.dtype)
        return self._normalised(self.folded(z, torch.zeros(len(z), dtype=torch.long, device=self.device), vectors))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Normalised images for latents ``z`` (N, z_dim) and labels ``y`` (N,), in chunks.

        Differentiable with respect to ``z``; the weights never get gradients.
        """
        z, y = self._checked(z, y)
        outs = [self._images(zc, yc) for zc, yc in zip(z.split(self.chunk_size), y.split(self.chunk_size))]
        return torch.cat(outs) if outs else self._empty(0)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without autograd, for replay: each chunk is written into the output, so
        memory use is the output plus one chunk's activations, whatever the number of images."""
        z, y = self._checked(z, y)
        out = self._empty(len(z))
        for start in range(0, len(z), self.chunk_size):
            out[start:start + self.chunk_size] = self._images(z[start:start + self.chunk_size], y[start:start + self.chunk_size])
        return out

    def _checked(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if z.dim() != 2 or z.shape[1] != self.config.z_dim or y.shape != z.shape[:1]:
            raise ValueError(f"expected z of shape (N, {self.config.z_dim}) and y of shape (N,), got {tuple(z.shape)} and {tuple(y.shape)}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.n_labels):
            raise ValueError(f"labels must lie in [0, {self.n_labels}), got {int(y.min())}..{int(y.max())}")
        return z.to(self.device), y.to(self.device)

    def _images(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One chunk through the network, mapped from [-1, 1] to the dataset's normalisation."""
        vectors = None
        if len(self.codes):  # labels past the classes draw class codes
            table = torch.cat([self.folded.shared.weight, self.codes.to(self.folded.shared.weight)])
            vectors = F.embedding(y, table)
        return self._normalised(self.folded(z.to(self.dtype), y.clamp(max=self.config.n_classes - 1), vectors))

    def _normalised(self, raw: torch.Tensor) -> torch.Tensor:
        """The network's images in [-1, 1] mapped to the dataset's normalisation, in float32."""
        return ((raw.float() + 1) / 2 - self.mean) / self.std

    def _empty(self, n: int) -> torch.Tensor:
        return torch.empty(n, 3, self.config.img_size, self.config.img_size, device=self.device)

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Map normalised images back to [0, 1] for display."""
        return (images * self.std.to(images.device) + self.mean.to(images.device)).clamp(0, 1)

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write the generator file (atomically) that :meth:`load` reads (float32 generators only)."""
        if self.storage_dtype != torch.float32:
            raise ValueError(f"this is a copy rounded to {self.storage_dtype} (stored_as); save the float32 generator, "
                             "memories record the storage dtype they use")
        if len(self.codes):
            raise ValueError("this copy draws class codes (with_codes); save the generator itself, memories store the codes")
        save_checked(path, GENERATOR_FILE_KIND, GENERATOR_FILE_VERSION, {
            "config": asdict(self.config), "state_dict": self.state, "mean": list(self.mean_values),
            "std": list(self.std_values), "class_names": self.class_names, "fingerprint": self.fingerprint,
            "extra": extra or {},
        })

    @classmethod
    def load(cls, path: str | os.PathLike, chunk_size: int = 500, device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float32) -> "FrozenGenerator":
        """Read a generator file written by :meth:`save` or by pretraining.

        Raises:
            FileNotFoundError / StoredFileError: missing, corrupt or foreign file,
                or weights that do not match their stored fingerprint.
        """
        _, payload = load_checked(path, GENERATOR_FILE_KIND, GENERATOR_FILE_VERSION)
        generator = Generator(GeneratorConfig(**payload["config"]))
        try:
            generator.load_state_dict(payload["state_dict"])
        except RuntimeError as err:
            raise StoredFileError(f"{path}: weights do not fit the stored generator config: {err}") from err
        frozen = cls(generator, payload["mean"], payload["std"], payload["class_names"], chunk_size, device, dtype)
        if frozen.fingerprint != payload["fingerprint"]:
            raise StoredFileError(f"{path}: weights do not match the stored fingerprint; the file was altered")
        frozen.extra = payload["extra"]
        return frozen


def _per_channel(t: torch.Tensor) -> bool:
    """Whether int8 storage quantises ``t`` per output channel: the weight matrices and kernels."""
    return t.is_floating_point() and t.dim() >= 2


def _int8_per_channel(w: torch.Tensor) -> torch.Tensor:
    """``w`` rounded to int8 codes times a float16 scale per output channel (dim 0): max |w| / 127."""
    scale = (w.abs().flatten(1).max(1).values / 127).half().float()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).view(-1, *[1] * (w.dim() - 1))
    return (w / scale).round().clamp(-127, 127) * scale

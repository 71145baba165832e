"""Condensation (Eq. 2-4, Alg. 1): optimise latents so their images carry the class's training signal.

The latents of a class are split into subsets; every (class, subset) is a
:class:`CondenseJob`. Step ``s`` of a run with seed ``seed`` draws its embedding net
psi from (seed, s), and each job's Siamese augmentation A, real batch T and random
split from (job, s): nothing depends on which other jobs run beside it. Jobs are run
in groups (:meth:`Condenser.condense`, :func:`run_jobs`) that share each step's net;
the generator and the net run over each job's images in chunks that never mix two
jobs. One job at a time, any grouping, or different processes
(:mod:`~itgan_replay.condensation.distributed`) therefore give the same latents, bit for bit.

Per step, for a job's latent batch B_z with paired real images B_x::

    L_con = || mean psi(A(T)) - mean psi(A(G(B_z))) ||^2                  (distribution matching)
    R     = 1/k sum_i || psi(A(x_i)) - psi(A(G(z_i))) ||^2                (paired regulariser)
    L     = (1 - lambda) L_con + lambda R                                 (Eq. 4)
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from itgan_replay.condensation.augment import SiameseAugment
from itgan_replay.condensation.inversion import InversionConfig, InversionStore, NonFiniteLossError, invert
from itgan_replay.condensation.nets import EmbeddingSampler, input_grads_in
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.codecs import LatentCodec
from itgan_replay.settings import check_choices, setting


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}  # the choices of real_dtype and input_grad_dtype


@dataclass(frozen=True)
class CondenseConfig:
    """Settings of condensation (paper: 5,000 iterations, Adam lr 1e-3, subsets of 500/1,250)."""

    iterations: int = setting(5000, "condensation iterations per (class, subset) job (paper: 5,000)")
    lr: float = setting(1e-3, "Adam learning rate of the latents (paper: 1e-3)")
    lam: float = setting(0.0, "weight lambda of the paired regulariser R (Eq. 4), in [0, 1]")
    real_batch: int = setting(256, "real images per condensation step")
    subset_size: int = setting(500, "latents per subset, matched on its own (paper: 500 on CIFAR-100)")
    split: str = setting("fixed", "fixed: subsets fixed once; random: re-split at random every step (the paper's mixing)",
                         ("fixed", "random"))
    matching: str = setting("distribution", "distribution (DM, Eq. 2) or gradient (DC's gradient matching)",
                            ("distribution", "gradient"))
    real_dtype: str = setting("float32", "precision of the real images' embeddings (the targets, no gradient): float32, or "
                                         "bfloat16 where bf16 is native (AVX512-BF16/AMX CPUs, GPUs); synthetic images "
                                         "and latents stay float32", tuple(PRECISIONS))
    input_grad_dtype: str = setting("float32", "precision of the operands of the embedding net's convolution input "
                                               "gradients: float32, or bfloat16 where native (float32 accumulation)",
                                    tuple(PRECISIONS))
    compile: bool = setting(False, "run the embedding nets through torch.compile (1; on CPU it needs a C++ compiler, "
                                   "compiling takes about half a minute) or eager (0)")

    def __post_init__(self) -> None:
        check_choices(self)
        for name, why in (("real_dtype", "differentiates the real branch"),
                          ("input_grad_dtype", "needs the embedding net's weight gradients")):
            value = getattr(self, name)
            if value != "float32" and self.matching != "distribution":
                raise ValueError(f"{name} '{value}' needs matching='distribution' (gradient matching {why})")
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must lie in [0, 1], got {self.lam}")
        if self.iterations < 0 or self.subset_size < 1 or self.real_batch < 1:
            raise ValueError("iterations must be >= 0, subset_size and real_batch >= 1")


CHUNK = 32
"""Images per forward pass of the generator and the embedding net during condensation: on CPU the
fastest size measured (activations fit in memory already touched), and the unit that never mixes jobs."""


def derived_seed(*key: int) -> int:
    """A 63-bit seed determined by the integers ``key`` alone (their BLAKE2b hash)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little") >> 1


def keyed_rng(*key: int) -> torch.Generator:
    """A CPU generator seeded by :func:`derived_seed` of ``key``."""
    return torch.Generator().manual_seed(derived_seed(*key))


@dataclass(frozen=True)
class CondenseJob:
    """One unit of work: the latents ``indices`` (into its class's latent set) of ``label``, in the run of ``seed``."""

    label: int
    subset: int
    indices: tuple[int, ...]
    seed: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.label, self.subset)

    @property
    def own_seed(self) -> int:
        """Seeds what is this job's alone: its initial latents and its random splits."""
        return derived_seed(self.seed, self.label, self.subset)


def plan_jobs(class_sizes: dict[int, int], config: CondenseConfig, seed: int = 0) -> list[CondenseJob]:
    """Split every class's latents into the jobs of a run with ``seed``.

    ``split="fixed"``: a seeded permutation of each class cut into subsets of at most
    ``subset_size`` (one job each). ``split="random"`` (the paper's mixed splitting): one
    job per class holding all its latents; each step re-splits them at random into
    subsets of ``subset_size``, each matched on its own, and updates all of them.
    """
    jobs = []
    for label in sorted(class_sizes):
        n = class_sizes[label]
        if config.split == "random":
            parts = [list(range(n))]
        else:
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + label)).tolist()
            parts = [sorted(perm[i:i + config.subset_size]) for i in range(0, n, config.subset_size)]
        jobs += [CondenseJob(label, s, tuple(p), seed) for s, p in enumerate(parts)]
    return jobs


def class_image_sets(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[int], seed: int = 0) -> dict[int, torch.Tensor]:
    """Each class's images in a seeded random order: latent ``i`` of a class pairs with its image ``i``."""
    out = {}
    for c in classes:
        mine = images[labels == c]
        if not len(mine):
            raise ValueError(f"class {c} has no images to condense")
        out[c] = mine[torch.randperm(len(mine), generator=torch.Generator().manual_seed(seed * 100_003 + c))]
    return out


def distribution_matching_loss(real_emb: torch.Tensor, syn_emb: torch.Tensor) -> torch.Tensor:
    """L_con: squared Euclidean distance between the mean embeddings (Eq. 2)."""
    return (real_emb.mean(0) - syn_emb.mean(0)).pow(2).sum()


def paired_regulariser(real_emb: torch.Tensor, syn_emb: torch.Tensor) -> torch.Tensor:
    """R: mean over pairs of the squared distance between each generated image's and its real image's embedding (Eq. 3)."""
    return (real_emb - syn_emb).pow(2).sum(1).mean()


def _grad_distance(g_real: Sequence[torch.Tensor], g_syn: Sequence[torch.Tensor]) -> torch.Tensor:
    """DC's layer-wise gradient distance: sum over output units of 1 - cosine similarity (biases skipped)."""
    total = g_syn[0].new_zeros(())
    for gr, gs in zip(g_real, g_syn):
        if gr.dim() == 1:
            continue
        gr, gs = gr.flatten(1), gs.flatten(1)
        total = total + (1 - F.cosine_similarity(gr, gs, dim=1, eps=1e-6)).sum()
    return total


def gradient_matching_loss(net: nn.Module, real: torch.Tensor, syn: torch.Tensor, label: int) -> torch.Tensor:
    """Distance between the classification-loss gradients of ``net`` on real and on synthetic images of ``label``."""
    params = [p.requires_grad_(True) for p in net.parameters()]
    try:
        def grads(x: torch.Tensor, create_graph: bool) -> Sequence[torch.Tensor]:
            y = torch.full((len(x),), label, device=x.device, dtype=torch.long)
            return torch.autograd.grad(F.cross_entropy(net(x), y), params, create_graph=create_graph)
        g_real = [g.detach() for g in grads(real, False)]
        return _grad_distance(g_real, grads(syn, True))
    finally:
        for p in params:
            p.requires_grad_(False)


JobProgressFn = Callable[[CondenseJob, int, float], None]


class Condenser:
    """Runs :class:`CondenseJob` s against a frozen generator.

    Args:
        generator: the frozen generator (its device is where jobs run).
        sampler: gives the embedding net of each step (random or pooled).
        config: condensation settings.
        augment: Siamese augmentation; ``"dsa"``: DSA's defaults at the generator's image size; ``None``: none.
        inversion: how latents are initialised (Eq. 1); ``None``: N(0, I) latents.
        inversion_net: the feature net phi of the inversion (e.g. :func:`~itgan_replay.condensation.nets.trained_net`
            on the data being condensed); ``None``: a net drawn from ``sampler`` with the job's seed.
        codec: how the memory will store the latents: condensation then generates from the stored
            rounding and passes gradients straight through it (a memory's ``condense_codec``); ``None``: as they are.
        inversion_store: where inversions are looked up before inverting, and kept after.

    ``inversion_seconds`` sums the time spent inverting, ``inversions_reused`` counts the jobs whose
    inversion came from ``inversion_store``.
    """

    def __init__(self, generator: FrozenGenerator, sampler: EmbeddingSampler, config: CondenseConfig = CondenseConfig(),
                 augment: SiameseAugment | Literal["dsa"] | None = "dsa",
                 inversion: InversionConfig | None = InversionConfig(), inversion_net: nn.Module | None = None,
                 codec: LatentCodec | None = None, inversion_store: InversionStore | None = None) -> None:
        size = generator.config.img_size
        augment = SiameseAugment(image_size=size) if augment == "dsa" else augment
        sizes = {"embedding nets": getattr(sampler, "image_size", None), "augmentation": getattr(augment, "image_size", None)}
        for part, its_size in sizes.items():
            if its_size not in (None, size):
                raise ValueError(f"the {part} take {its_size}-pixel images, the generator makes {size}-pixel ones; "
                                 f"build them with image_size={size}")
        self.generator, self.sampler, self.config = generator, sampler, config
        self.augment, self.inversion, self.inversion_net, self.codec = augment, inversion, inversion_net, codec
        self.inversion_store, self.inversion_seconds, self.inversions_reused = inversion_store, 0.0, 0
        self._compiled: tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]] | None = None

    def embedder(self, net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """``net.embed``, or with ``config.compile`` that method compiled by ``torch.compile`` (once per net
        object: the sampler re-initialises one net in place)."""
        if not self.config.compile:
            return net.embed
        if self._compiled is None or self._compiled[0] is not net:
            self._compiled = (net, torch.compile(net.embed))
        return self._compiled[1]

    def initial_latents(self, job: CondenseJob, class_real: torch.Tensor) -> torch.Tensor:
        """The job's starting latents: inversions of its paired real images, or N(0, I), seeded by the job."""
        paired = class_real[torch.tensor(job.indices, dtype=torch.long)]
        if self.inversion is None:
            return torch.randn(len(paired), self.generator.config.z_dim, generator=torch.Generator().manual_seed(job.own_seed))
        inv, start = self.inversion, time.perf_counter()
        feature_net = self.inversion_net
        if feature_net is None:
            feature_net = self.sampler(torch.Generator().manual_seed(job.own_seed))
        key = InversionStore.key(self.generator, inv, feature_net, paired, job.label, job.own_seed) if self.inversion_store else None
        latents = self.inversion_store.load(key) if self.inversion_store else None
        if latents is not None:
            self.inversions_reused += 1
        else:
            latents = invert(self.generator, paired, torch.full((len(paired),), job.label), feature_net, inv.steps,
                             inv.lr, inv.lambda_pixel, inv.batch_size, job.own_seed).cpu()
            if self.inversion_store:
                self.inversion_store.save(key, latents)
        self.inversion_seconds += time.perf_counter() - start
        return latents

    def run_job(self, job: CondenseJob, class_real: torch.Tensor, progress: JobProgressFn | None = None,
                initial: torch.Tensor | None = None) -> torch.Tensor:
        """Initialise (unless ``initial`` latents are given) and condense one job on its own; ``class_real``
        are all the class's real images. Returns its latents on CPU."""
        if initial is None:
            initial = self.initial_latents(job, class_real)
        return self.condense([job], [initial], {job.label: class_real}, progress)[0]

    def real_batch(self, n_real: int, rng: torch.Generator) -> torch.Tensor:
        """Indices of a step's real batch T: ``real_batch`` distinct images (a random permutation's head, as
        the reference DM code), or all ``n_real`` if there are fewer."""
        return torch.randperm(n_real, generator=rng)[:self.config.real_batch]

    def groups(self, n: int, rng: torch.Generator) -> list[torch.Tensor]:
        """How a step splits a job's ``n`` latents: one group (fixed split: the job is its subset), or a
        fresh random partition into subsets of ``subset_size`` (random split)."""
        if self.config.split == "random":
            return list(torch.randperm(n, generator=rng).split(self.config.subset_size))
        return [torch.arange(n)]

    def condense(self, jobs: Sequence[CondenseJob], initial: Sequence[torch.Tensor], real: dict[int, torch.Tensor],
                 progress: JobProgressFn | None = None) -> list[torch.Tensor]:
        """Optimise the latents of ``jobs`` (all of one run) together, step by step; ``initial[i]`` are
        job ``i``'s starting latents, ``real[c]`` all the real images of class ``c`` (latent ``j`` of
        the class pairs with ``real[c][j]``). Each job's result is what it gets alone. Returns each
        job's latents, on CPU.

        Raises:
            ValueError: jobs of different runs, or latents that do not fit their jobs.
            NonFiniteLossError: a loss became NaN or infinite.
        """
        if len({job.seed for job in jobs}) > 1:
            raise ValueError(f"jobs condensed together must come from one plan_jobs() run; got seeds {sorted({j.seed for j in jobs})}")
        for job, z in zip(jobs, initial, strict=True):
            if z.dim() != 2 or len(z) != len(job.indices):
                raise ValueError(f"job {job.key} has {len(job.indices)} latents; got initial latents of shape {tuple(z.shape)}")
        if not jobs:
            return []
        device = self.generator.device
        latents = [z.detach().clone().to(device).requires_grad_(True) for z in initial]
        paired = [real[job.label][torch.tensor(job.indices, dtype=torch.long)] for job in jobs]
        opt = torch.optim.Adam(latents, lr=self.config.lr)
        for step in range(self.config.iterations):
            opt.zero_grad(set_to_none=True)
            l_con = self.step(step, jobs, latents, paired, real)
            opt.step()
            if progress:
                for job, value in zip(jobs, l_con):
                    progress(job, step + 1, value)
        return [z.detach().cpu() for z in latents]

    def step(self, step: int, jobs: Sequence[CondenseJob], latents: Sequence[torch.Tensor],
             paired: Sequence[torch.Tensor], real: dict[int, torch.Tensor]) -> list[float]:
        """Step ``step``'s losses of every job, back-propagated into its latents; returns each job's L_con
        (the mean over its subsets)."""
        cfg, device = self.config, self.generator.device
        seed = jobs[0].seed
        net = self.sampler(keyed_rng(seed, step))
        embed = self.embedder(net)
        real_dtype = PRECISIONS[cfg.real_dtype]
        input_grad_dtype = None if cfg.input_grad_dtype == "float32" else PRECISIONS[cfg.input_grad_dtype]
        l_con_means = []
        with input_grads_in(net, input_grad_dtype):
            for job, z, paired_real in zip(jobs, latents, paired):
                rng = keyed_rng(job.own_seed, step)
                t = self.augment.sample(rng) if self.augment else _identity
                class_real = real[job.label]
                real_images = class_real[self.real_batch(len(class_real), rng)].to(device)
                real_emb = None
                if cfg.matching == "distribution":
                    with torch.no_grad():
                        real_emb = _embed(embed, t, real_images, real_dtype)
                labels = torch.full((CHUNK,), job.label, dtype=torch.long, device=device)
                zq = self.codec.straight_through(z) if self.codec else z
                syn = torch.cat([self.generator(zc, labels[:len(zc)]) for zc in zq.split(CHUNK)])
                syn_emb = _embed(embed, t, syn) if real_emb is not None or cfg.lam else None
                if cfg.lam:
                    with torch.no_grad():
                        paired_emb = _embed(embed, t, paired_real.to(device), real_dtype)
                loss, l_cons = z.new_zeros(()), []
                for subset in self.groups(len(z), rng):
                    subset = subset.to(device)
                    if real_emb is None:
                        l_con = gradient_matching_loss(net, t(real_images), t(syn[subset]), job.label)
                    else:
                        l_con = distribution_matching_loss(real_emb, syn_emb[subset])
                    reg = paired_regulariser(paired_emb[subset], syn_emb[subset]) if cfg.lam else 0
                    loss = loss + (1 - cfg.lam) * l_con + cfg.lam * reg
                    l_cons.append(l_con.detach())
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise NonFiniteLossError(f"condensation loss of class {job.label} subset {job.subset} became "
                                             f"{loss_value} at step {step}; lower the condensation lr (now {cfg.lr})")
                loss.backward()
                l_con_means.append(torch.stack(l_cons).mean().item())
            return l_con_means


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _embed(embed: Callable[[torch.Tensor], torch.Tensor], t: Callable[[torch.Tensor], torch.Tensor],
           images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``embed(t(images))`` in chunks of :data:`CHUNK` images, as float32; a ``dtype`` other than float32
    runs ``embed`` under autocast to it."""
    with torch.autocast(images.device.type, dtype=dtype, enabled=dtype != torch.float32):
        return torch.cat([embed(t(chunk)) for chunk in images.split(CHUNK)]).float()


def run_jobs(condenser: Condenser, jobs: Sequence[CondenseJob], real: dict[int, torch.Tensor],
             progress: JobProgressFn | None = None) -> dict[int, torch.Tensor]:
    """Initialise ``jobs`` and condense them together in this process (:meth:`Condenser.condense`).

    ``real[c]`` are the normalised real images of class ``c``: all are sampled for L_con,
    and latent ``i`` of the class is paired with ``real[c][i]``. Returns the latents of
    each class, ordered by index.
    """
    initial = [condenser.initial_latents(job, real[job.label]) for job in jobs]
    return assemble(jobs, dict(zip((job.key for job in jobs), condenser.condense(jobs, initial, real, progress))))


def assemble(jobs: Sequence[CondenseJob], results: dict[tuple[int, int], torch.Tensor]) -> dict[int, torch.Tensor]:
    """Put each job's latents back at its indices: one (n_c, z_dim) tensor per class."""
    out: dict[int, torch.Tensor] = {}
    for label in sorted({job.label for job in jobs}):
        mine = [job for job in jobs if job.label == label]
        z = torch.empty(sum(len(j.indices) for j in mine), results[mine[0].key].shape[1])
        for job in mine:
            z[torch.tensor(job.indices, dtype=torch.long)] = results[job.key]
        out[label] = z
    return out

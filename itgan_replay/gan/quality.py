"""Generator quality without downloads: the classification accuracy score (CAS)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from itgan_replay.condensation.nets import accuracy, build_net, train_classifier
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.codecs import CODECS, LatentCodec
from itgan_replay.seeds import over_seeds


def classification_accuracy_scores(generator: FrozenGenerator, eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                                   n_per_class: int = 500, epochs: int = 20, arch: str = "convnet",
                                   width: int | None = 64, seed: int = 0,
                                   latent_codec: LatentCodec = CODECS["float32"],
                                   draw: Sequence[int] | None = None) -> dict[str, float]:
    """Train one classifier only on ``n_per_class`` generated images per class (random latents,
    stored and read back by ``latent_codec`` as a memory would) and return its accuracy on each
    ``eval_sets[name] = (real normalised images, labels)``, e.g. validation and test photos.

    ``draw[i]`` is the generator label drawn for the classifier's class ``i`` (e.g. a class code's label,
    :meth:`FrozenGenerator.with_codes`); by default class ``i`` is the generator's class ``i``."""
    rng = torch.Generator().manual_seed(seed)
    draw = torch.as_tensor(list(range(generator.config.n_classes)) if draw is None else list(draw))
    y = torch.arange(len(draw)).repeat_interleave(n_per_class)
    z = latent_codec.round_trip(torch.randn(len(y), generator.config.z_dim, generator=rng))
    images = generator.generate(z, draw[y]).cpu()
    torch.manual_seed(seed)
    net = build_net(arch, len(draw), width, generator.config.img_size)
    train_classifier(net, images, y, epochs, rng=rng)
    return {name: accuracy(net, x, labels) for name, (x, labels) in eval_sets.items()}


def cas_over_seeds(generator: FrozenGenerator, eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                   per_class: int, epochs: int, seeds: int, draw: Sequence[int] | None = None) -> dict[str, dict]:
    """CAS of ``generator`` on each eval set, one classifier per seed ``0 .. seeds - 1``
    (:func:`classification_accuracy_scores`): per set, :func:`~itgan_replay.seeds.over_seeds` of the scores."""
    per_seed = [classification_accuracy_scores(generator, eval_sets, per_class, epochs, seed=s, draw=draw)
                for s in range(seeds)]
    return {split: over_seeds([s[split] for s in per_seed]) for split in eval_sets}

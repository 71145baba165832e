"""Generator quality without downloads: the classification accuracy score (CAS)."""
from __future__ import annotations

from collections.abc import Mapping

import torch

from itgan_replay.condensation.nets import accuracy, build_net, train_classifier
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.codecs import CODECS, LatentCodec


def classification_accuracy_scores(generator: FrozenGenerator, eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                                   n_per_class: int = 500, epochs: int = 20, arch: str = "convnet",
                                   width: int | None = 64, seed: int = 0,
                                   latent_codec: LatentCodec = CODECS["float32"]) -> dict[str, float]:
    """Train one classifier only on ``n_per_class`` generated images per class (random latents,
    stored and read back by ``latent_codec`` as a memory would) and return its accuracy on each
    ``eval_sets[name] = (real normalised images, labels)``, e.g. validation and test photos."""
    rng = torch.Generator().manual_seed(seed)
    n_classes = generator.config.n_classes
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    z = latent_codec.round_trip(torch.randn(len(y), generator.config.z_dim, generator=rng))
    images = generator.generate(z, y).cpu()
    torch.manual_seed(seed)
    net = build_net(arch, n_classes, width, generator.config.img_size)
    train_classifier(net, images, y, epochs, rng=rng)
    return {name: accuracy(net, x, labels) for name, (x, labels) in eval_sets.items()}

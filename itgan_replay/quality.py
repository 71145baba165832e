"""Generator quality without downloads: the classification accuracy score (CAS)."""
from __future__ import annotations

import torch

from .generator import FrozenGenerator
from .nets import accuracy, build_net, train_classifier


def classification_accuracy_score(generator: FrozenGenerator, test_images: torch.Tensor, test_labels: torch.Tensor,
                                  n_per_class: int = 500, epochs: int = 20, arch: str = "convnet",
                                  width: int | None = 64, seed: int = 0, latent_dtype: torch.dtype = torch.float32) -> float:
    """Train a classifier only on ``n_per_class`` generated images per class (random latents,
    rounded to ``latent_dtype`` as a memory would store them) and return its accuracy on the
    real, normalised ``test_images``."""
    rng = torch.Generator().manual_seed(seed)
    n_classes = generator.config.n_classes
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    z = torch.randn(len(y), generator.config.z_dim, generator=rng).to(latent_dtype).float()
    images = generator.generate(z, y).cpu()
    torch.manual_seed(seed)
    net = build_net(arch, n_classes, width)
    train_classifier(net, images, y, epochs, rng=rng)
    return accuracy(net, test_images, test_labels)

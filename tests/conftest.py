import pytest
import torch

from itgan_replay.generator import FrozenGenerator, Generator, GeneratorConfig


def tiny_generator(n_classes: int = 4, ch: int = 2, seed: int = 0, z_dim: int = 16) -> FrozenGenerator:
    torch.manual_seed(seed)
    g = Generator(GeneratorConfig(n_classes=n_classes, ch=ch, z_dim=z_dim, shared_dim=8))
    with torch.no_grad():  # a few train-mode forwards give the batch norms non-trivial running statistics
        for _ in range(3):
            g(torch.randn(16, z_dim), torch.randint(n_classes, (16,)))
    return FrozenGenerator(g, (0.5, 0.4, 0.3), (0.25, 0.25, 0.2), chunk_size=7)


@pytest.fixture
def generator() -> FrozenGenerator:
    return tiny_generator()

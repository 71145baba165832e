import pytest
import torch

from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig


def tiny_generator(n_classes: int = 4, ch: int = 2, seed: int = 0, z_dim: int = 16,
                   class_names: list[str] | None = None, img_size: int = 32) -> FrozenGenerator:
    torch.manual_seed(seed)
    g = Generator(GeneratorConfig(n_classes=n_classes, ch=ch, z_dim=z_dim, shared_dim=8, img_size=img_size))
    with torch.no_grad():  # a few train-mode forwards give the batch norms non-trivial running statistics
        for _ in range(3):
            g(torch.randn(16, z_dim), torch.randint(n_classes, (16,)))
    return FrozenGenerator(g, (0.5, 0.4, 0.3), (0.25, 0.25, 0.2), class_names, chunk_size=7)


@pytest.fixture
def generator() -> FrozenGenerator:
    return tiny_generator()


def smoke_stream(root):
    """The 4-class generated stream and a tiny generator file beside it (recorded as pretrained on other
    photos): ``(root, dataset spec, generator path)``."""
    data = write_image_folder(root / "data", ["0", "1", "2", "3"])
    tiny_generator().save(root / "g.pt", extra={"dataset": "imagefolder:pretrain-photos"})
    return root, f"imagefolder:{data}", root / "g.pt"


def write_image_folder(root, classes, n_train=12, n_test=4, seed=0, size=32):
    """A small generated ImageFolder dataset: root/{train,test}/<class>/*.png (``size`` pixels square), classes
    told apart by colour."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 60, (size, size, 3)) + np.array([60 * c, 200 - 50 * c, 30 * c])
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root

"""The IT-GAN authors' released files, read into this project's formats.

- **Generators** (``G_Pretrained_{CIFAR10,CIFAR100}_exp{k}.pth``): the ``state_dict`` of a DiffAugment
  BigGAN-CIFAR generator built with ``G_shared=False`` (per-norm class embeddings), ``resolution=32``,
  ``bottom_width=4``, BigGAN-PyTorch's spectral norm (``SN_eps=1e-8``) and batch-norm ``eps=1e-5``.
  :func:`generator_from_biggan` maps it onto a :class:`Generator` of the ``class`` conditioning: the
  same function in eval mode, so a :class:`FrozenGenerator` replays it folded. The ``sv0`` buffers
  are only logged by BigGAN and are not used.
- **Latents** (``GANInversion_final_*.pt`` with ``z_inverse_all``, ``EfficientGAN_final_*.pt`` with
  ``z_eff_all``): one latent per training image, in torchvision's training-set order, learned with
  every class at once. :func:`latents_by_class` picks each class's rows.

Only tensors are read (``weights_only``), so a file can never run code.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import torch

from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig
from itgan_replay.memory.files import MAGIC, StoredFileError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_CLASSES = tuple("""apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant
flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle
mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum
rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower
sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman
worm""".split())
KNOWN_DATASETS = {
    # class names in torchvision's order, and the normalisation of the authors' utils.get_dataset
    "cifar10": (CIFAR10_CLASSES, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": (CIFAR100_CLASSES, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762)),
}
LATENT_KEYS = ("z_inverse_all", "z_eff_all")
BIGGAN_BLOCKS = 3  # resolution 32 from bottom width 4: the only BigGAN-CIFAR architecture


def read_tensor_file(path: str | os.PathLike) -> dict:
    """A ``torch.save`` file of tensors (a dict), read without running code.

    Raises:
        FileNotFoundError: no file at ``path``.
        StoredFileError: an itgan-replay file, not a PyTorch file, objects other than tensors, or no dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) == MAGIC:
            raise StoredFileError(f"{path}: this is an itgan-replay file already, not one of the IT-GAN authors' files; "
                                  "use it as it is (--generator, or LatentMemory.load)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a foreign or unsafe file
        raise StoredFileError(f"{path}: not a PyTorch file of plain tensors ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200]})") from err
    if not isinstance(payload, dict):
        raise StoredFileError(f"{path}: holds a {type(payload).__name__}, expected a dict of tensors")
    return payload


def _authors_name(key: str) -> str | None:
    """The key in the authors' state dict of one of our ``class``-conditioning keys (``None``: not stored there)."""
    if key.endswith("num_batches_tracked"):
        return None
    for pattern, replacement in ((r"\.parametrizations\.weight\.original$", ".weight"), (r"\.parametrizations\.weight\.0\.u$", ".u0"),
                                 (r"^blocks\.(\d+)\.", r"blocks.\1.0."), (r"\.shortcut\.", ".conv_sc."),
                                 (r"\.bn\.running_", ".stored_"), (r"^out_bn\.running_", "output_layer.0.stored_"),
                                 (r"^out_bn\.weight$", "output_layer.0.gain"), (r"^out_bn\.bias$", "output_layer.0.bias"),
                                 (r"^out_conv\.", "output_layer.2.")):
        key = re.sub(pattern, replacement, key)
    return key


def biggan_config(state_dict: dict[str, torch.Tensor]) -> GeneratorConfig:
    """The :class:`GeneratorConfig` (``class`` conditioning) of an authors' generator state dict, read from its shapes.

    Raises:
        StoredFileError: keys it needs are missing, or the architecture is not BigGAN-CIFAR at 32 x 32.
    """
    needed = ("linear.weight", "blocks.0.0.bn1.gain.weight")
    missing = [k for k in needed if not isinstance(state_dict.get(k), torch.Tensor)]
    if missing:
        found = ", ".join(sorted(map(str, state_dict))[:6]) or "none"
        raise StoredFileError(f"not a BigGAN-CIFAR generator state dict: no tensor {', '.join(missing)} (keys found: {found}…)")
    blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", str(k)))}
    if len(blocks) != BIGGAN_BLOCKS:
        raise StoredFileError(f"the generator has {len(blocks)} blocks; only BigGAN-CIFAR at resolution 32 ({BIGGAN_BLOCKS} blocks) "
                              "can be imported")
    linear, embedding = state_dict["linear.weight"], state_dict["blocks.0.0.bn1.gain.weight"]
    width = linear.shape[0] // 16
    if linear.dim() != 2 or width * 16 != linear.shape[0] or width % 4 or embedding.dim() != 2:
        raise StoredFileError(f"linear.weight {tuple(linear.shape)} and blocks.0.0.bn1.gain.weight {tuple(embedding.shape)} do "
                              "not have BigGAN-CIFAR's shapes (4 * G_ch * 16, dim_z) and (n_classes, 4 * G_ch)")
    return GeneratorConfig(n_classes=embedding.shape[0], ch=width // 4, z_dim=linear.shape[1], img_size=32, conditioning="class")


def generator_from_biggan(state_dict: dict[str, torch.Tensor], class_names: Sequence[str], mean: Sequence[float],
                          std: Sequence[float]) -> FrozenGenerator:
    """The authors' generator as a :class:`FrozenGenerator` whose images equal ``(G(z, y) + 1) / 2`` of their
    eval-mode ``G``, normalised by ``mean`` and ``std``; ``class_names`` in the order of the generator's labels.

    Raises:
        StoredFileError: missing, unexpected or wrongly shaped tensors (all named), or a class count that
            differs from ``class_names``.
    """
    config = biggan_config(state_dict)
    if config.n_classes != len(class_names):
        raise StoredFileError(f"the generator has {config.n_classes} classes, the class names {len(class_names)}; "
                              "give the names of the dataset it was trained on")
    with torch.random.fork_rng(devices=[]):
        net = Generator(config)
    ours = net.state_dict()
    names = {key: _authors_name(key) for key in ours}
    expected = {n for n in names.values() if n is not None}
    expected |= {n.removesuffix(".u0") + ".sv0" for n in expected if n.endswith(".u0")}  # logged singular values, unused
    problems = []
    if missing := sorted(expected - set(state_dict)):
        problems.append(f"missing {', '.join(missing)}")
    if unexpected := sorted(set(map(str, state_dict)) - expected):
        problems.append(f"unexpected {', '.join(unexpected)}")
    shapes = [f"{name} {tuple(getattr(state_dict[name], 'shape', ()))} (expected {tuple(ours[key].shape)})" for key, name in names.items()
              if name in state_dict and (not isinstance(state_dict[name], torch.Tensor) or state_dict[name].shape != ours[key].shape)]
    if shapes:
        problems.append(f"wrong shapes: {', '.join(shapes)}")
    if problems:
        raise StoredFileError(f"not the BigGAN-CIFAR generator ({config.n_classes} classes, G_ch {config.ch}) that the IT-GAN "
                              f"authors released: {'; '.join(problems)}")
    net.load_state_dict({key: state_dict[name].float() if name else ours[key] for key, name in names.items()})
    return FrozenGenerator(net, mean, std, class_names)


def read_latents(path: str | os.PathLike, key: str | None = None) -> torch.Tensor:
    """The latents (N, z_dim) of an authors' latent file: ``key``, or whichever of :data:`LATENT_KEYS` it holds.

    Raises:
        StoredFileError: no such key (the keys found are named), or not a 2-D float tensor.
    """
    payload = read_tensor_file(path)
    keys = [key] if key else [k for k in LATENT_KEYS if k in payload]
    if len(keys) != 1 or keys[0] not in payload:
        raise StoredFileError(f"{path}: expected one of {', '.join([key] if key else LATENT_KEYS)}; the file holds "
                              f"{', '.join(map(str, payload)) or 'nothing'}")
    z = payload[keys[0]]
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or not z.is_floating_point():
        raise StoredFileError(f"{path}: {keys[0]} is not a 2-D float tensor of latents")
    return z.float()


def latents_by_class(latents: torch.Tensor, labels: torch.Tensor, classes: Sequence[int], per_class: int,
                     seed: int | None = None) -> dict[int, torch.Tensor]:
    """Each class's ``per_class`` latents, from one latent per training image (``latents[i]`` belongs to the image of
    label ``labels[i]``): the first ones in the dataset's order, or a draw seeded by ``seed`` and the class (a class
    draws the same latents whichever other classes are chosen).

    Raises:
        ValueError: the counts differ, or a class has fewer than ``per_class`` images.
    """
    if len(latents) != len(labels):
        raise ValueError(f"{len(latents)} latents against {len(labels)} labels; give the training labels of the dataset the "
                         "latents were learned on, in torchvision's order")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    out = {}
    for c in classes:
        rows = (labels == c).nonzero().flatten()
        if len(rows) < per_class:
            raise ValueError(f"class {c} has {len(rows)} latents, fewer than the {per_class} asked for")
        if seed is not None:
            rows = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed * 100_003 + int(c)))]
        out[int(c)] = latents[rows[:per_class]].clone()
    return out

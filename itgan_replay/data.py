"""Image datasets as in-memory uint8 tensors, with explicit errors for bad input.

``load_dataset("cifar10" | "cifar100" | "imagefolder:PATH")`` returns train and test
:class:`ImageTensors`. CIFAR comes through torchvision (downloaded where online);
an ImageFolder root holds ``train/<class>/`` and ``test/<class>/``. Images are square, of one
size: the dataset's own, or ``image_size`` (with ``resize=True``, every other size is resized to it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

ImageStats = tuple[Sequence[float], Sequence[float]]
"""A normalisation: per-channel (mean, std) in [0, 1] units."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm")


class DatasetError(ValueError):
    """A dataset cannot be used as given; the message says what to change."""


@dataclass
class ImageTensors(Dataset):
    """Square images (N, 3, size, size) uint8, integer labels (N,) and class names.

    Indexing gives ``(float image normalised by mean/std, label)``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        self.targets = self.labels.tolist()  # Avalanche reads targets from here

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        """The side of the (square) images in pixels."""
        return self.images.shape[-1]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.normalize(self.images[i]), self.targets[i]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float images in the classifier's normalised space."""
        return normalize(images, self.mean, self.std)

    def with_stats(self, mean: tuple[float, ...], std: tuple[float, ...]) -> "ImageTensors":
        """The same images, normalised with another mean/std (e.g. a generator's)."""
        return ImageTensors(self.images, self.labels, self.class_names, tuple(mean), tuple(std))


def _per_channel(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(values).view(3, 1, 1)


def normalize(pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 images (..., 3, H, W) -> float images normalised by the per-channel ``mean`` and ``std`` (in [0, 1] units)."""
    return (pixels.float() / 255 - _per_channel(mean)) / _per_channel(std)


def to_pixels(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The inverse of :func:`normalize`: normalised float images -> their uint8 pixels (exact on its outputs)."""
    return ((images * _per_channel(std) + _per_channel(mean)) * 255).round().clamp(0, 255).to(torch.uint8)


def renormalize(images: torch.Tensor, source: ImageStats, target: ImageStats) -> torch.Tensor:
    """Float images normalised by ``source`` (mean, std) -> the same images normalised by ``target``: the
    per-channel affine map between two normalisations of one pixel space (``images`` itself when they are equal)."""
    if tuple(map(tuple, source)) == tuple(map(tuple, target)):
        return images
    (s_mean, s_std), (t_mean, t_std) = ((_per_channel(m).to(images.device), _per_channel(s).to(images.device))
                                        for m, s in (source, target))
    return (images * s_std + s_mean - t_mean) / t_std


def split_validation(train: ImageTensors, per_class: int, seed: int = 0) -> tuple[ImageTensors, ImageTensors]:
    """Hold out ``per_class`` training images of every class (a seeded draw) as a validation set:
    returns (the rest, the held-out images), for tuning without the test photos.

    Raises:
        DatasetError: a class has no more than ``per_class`` images.
    """
    rng = torch.Generator().manual_seed(seed)
    held = []
    for c, name in enumerate(train.class_names):
        mine = (train.labels == c).nonzero().flatten()
        if len(mine) <= per_class:
            raise DatasetError(f"class '{name}' has {len(mine)} training images; holding out {per_class} for "
                               "validation would leave none. Lower the validation size")
        held.append(mine[torch.randperm(len(mine), generator=rng)[:per_class]])
    return _without(train, torch.cat(held))


def select_classes(data: ImageTensors, names: Sequence[str]) -> ImageTensors:
    """The images of the classes ``names`` only, relabelled ``0..`` in the dataset's class order.

    Raises:
        DatasetError: a name that is not one of the dataset's classes, or no name.
    """
    if unknown := [n for n in names if n not in data.class_names]:
        raise DatasetError(f"no class {', '.join(unknown)} in the dataset; its classes are {', '.join(data.class_names[:12])}…")
    if not names:
        raise DatasetError("select at least one class")
    kept = [c for c, name in enumerate(data.class_names) if name in names]
    new_label = torch.full((len(data.class_names),), -1, dtype=torch.long)
    new_label[kept] = torch.arange(len(kept))
    mask = torch.isin(data.labels, torch.tensor(kept))
    return ImageTensors(data.images[mask], new_label[data.labels[mask]], [data.class_names[c] for c in kept], data.mean,
                        data.std)


def split_share(train: ImageTensors, share: float, seed: int = 0) -> tuple[ImageTensors, ImageTensors]:
    """Split every class's training images in two by a seeded draw: ``share`` of them (rounded) and the rest,
    e.g. photos for a generator and a stream that it never sees. Returns (the share, the rest).

    Raises:
        DatasetError: ``share`` outside (0, 1), or a class whose share or rest would be empty.
    """
    if not 0 < share < 1:
        raise DatasetError(f"the share must lie strictly between 0 and 1, got {share}")
    rng = torch.Generator().manual_seed(seed)
    taken = []
    for c, name in enumerate(train.class_names):
        mine = (train.labels == c).nonzero().flatten()
        k = round(share * len(mine))
        if not 0 < k < len(mine):
            raise DatasetError(f"class '{name}' has {len(mine)} training images; a share of {share} would leave one part "
                               "empty. Choose a share nearer 0.5")
        taken.append(mine[torch.randperm(len(mine), generator=rng)[:k]])
    rest, share_part = _without(train, torch.cat(taken))
    return share_part, rest


def _without(train: ImageTensors, rows: torch.Tensor) -> tuple[ImageTensors, ImageTensors]:
    """(``train`` without ``rows``, the ``rows``), each in the dataset's order, with its classes and normalisation."""
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[rows] = False
    part = lambda mask: ImageTensors(train.images[mask], train.labels[mask], train.class_names, train.mean, train.std)  # noqa: E731
    return part(keep), part(~keep)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units."""
    x = images.float().div(255).transpose(0, 1).reshape(3, -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())


def _read_image(path: Path, image_size: int | None, resize: bool) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if image_size is not None and im.size != (image_size, image_size):
            if not resize:
                raise DatasetError(f"{path} is {im.size[0]}x{im.size[1]}, not {image_size}x{image_size}; "
                                   f"pass --image-size {image_size} --resize to resize every photo to that size")
            im = im.resize((image_size, image_size), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


def _check_size(image_size: int | None, resize: bool) -> None:
    if resize and image_size is None:
        raise DatasetError("--resize needs --image-size: the side, in pixels, that every photo is resized to")
    if image_size is not None and image_size < 8:
        raise DatasetError(f"--image-size must be 8 or more, got {image_size}")


def load_image_folder(root: str | Path, image_size: int | None = None, resize: bool = False) -> ImageTensors:
    """Read ``root/<class>/*.jpg|png|...`` into memory (classes sorted by name).

    Every image must be square and ``image_size`` pixels wide (``None``: the size of the first image);
    with ``resize``, images of another size are resized to ``image_size`` (bicubic) instead.

    Raises:
        DatasetError: a missing folder, fewer than 2 classes, an empty class, or an image of another size.
    """
    _check_size(image_size, resize)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such directory; an ImageFolder dataset needs {root}/<class>/<image files>")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise DatasetError(f"{root}: found {len(classes)} class folder(s); class-conditional training needs at least 2")
    arrays, labels = [], []
    for c, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DatasetError(f"{root / name}: class '{name}' has no images ({', '.join(IMAGE_EXTENSIONS)}); "
                               "add images or remove the folder")
        for f in files:
            arrays.append(_read_image(f, image_size, resize))
            if image_size is None:
                height, width = arrays[0].shape[:2]
                if height != width:
                    raise DatasetError(f"{f} is {width}x{height}, not square; pass --image-size N --resize to resize "
                                       "every photo to N x N")
                image_size = width
        labels += [c] * len(files)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageTensors(images, torch.tensor(labels), classes)


def _load_torchvision_cifar(name: str, root: Path, train: bool, download: bool) -> ImageTensors:
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        ds = cls(str(root), train=train, download=download)
    except RuntimeError as err:
        raise DatasetError(
            f"{name} not found under {root} and could not be downloaded ({err}). Offline, put the "
            f"python-version archive ({cls.filename}) or its extracted folder '{cls.base_folder}' in {root}, "
            f"or pass --data-root to where it is, or use --dataset imagefolder:PATH"
        ) from err
    except OSError as err:  # network failure during download
        raise DatasetError(
            f"downloading {name} to {root} failed ({err}). Put '{cls.filename}' or its extracted folder "
            f"'{cls.base_folder}' in {root} and run again, or use --dataset imagefolder:PATH"
        ) from err
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return ImageTensors(images, torch.tensor(ds.targets), list(ds.classes))


def _resized(data: ImageTensors, image_size: int) -> ImageTensors:
    """``data`` with every image resized to ``image_size`` square (bicubic, as :func:`load_image_folder`)."""
    arrays = [np.asarray(Image.fromarray(x.permute(1, 2, 0).numpy()).resize((image_size, image_size), Image.BICUBIC))
              for x in data.images]
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageTensors(images, data.labels, data.class_names, data.mean, data.std)


DEMO_CLASSES = 10
DEMO_SIZES = {"train": 60, "test": 20}  # photos per class: a stream every method runs through in minutes
DEMO_SEEDS = {"demo": 1, "demo-more": 2, "test": 3}  # disjoint draws: the stream's, the generator's, the test photos


def demo_images(n_per_class: int, seed: int, size: int = 32) -> ImageTensors:
    """A generated 10-class photo set, for a first run with no download: class ``c`` is stripes at about
    ``18 * c`` degrees, each image with its own hue, phase, stripe width, brightness, a bright blob and pixel
    noise (a seeded draw: the same ``seed`` gives the same images)."""
    rng = torch.Generator().manual_seed(seed)
    labels = torch.arange(DEMO_CLASSES).repeat_interleave(n_per_class)
    n = len(labels)
    u = lambda *shape: torch.rand(*shape, generator=rng)  # noqa: E731
    angle = labels * torch.pi / DEMO_CLASSES + 0.15 * (u(n) - 0.5)
    period = 4 + 4 * u(n)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    along = xx * torch.cos(angle).view(-1, 1, 1) + yy * torch.sin(angle).view(-1, 1, 1)
    stripes = 0.5 + 0.5 * torch.sin(2 * torch.pi * along / period.view(-1, 1, 1) + 2 * torch.pi * u(n, 1, 1))
    hue = u(n)
    colour = 0.5 + 0.4 * torch.cos(2 * torch.pi * (hue.view(-1, 1) + torch.tensor([0.0, 1 / 3, 2 / 3])))  # (n, 3)
    centre = size * (0.2 + 0.6 * u(n, 2))
    blob = torch.exp(-((xx - centre[:, 0].view(-1, 1, 1)) ** 2 + (yy - centre[:, 1].view(-1, 1, 1)) ** 2) / (2 * 4.0 ** 2))
    brightness = 0.6 + 0.4 * u(n, 1, 1, 1)
    pixels = brightness * colour.view(n, 3, 1, 1) * (0.35 + 0.65 * stripes.unsqueeze(1)) + 0.3 * blob.unsqueeze(1)
    pixels = pixels + 0.06 * torch.randn(n, 3, size, size, generator=rng)
    images = (pixels.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageTensors(images, labels, [f"stripes{18 * c:03d}" for c in range(DEMO_CLASSES)])


def count_classes(spec: str) -> int:
    """The number of classes of a :func:`load_dataset` spec, without reading any image
    (CIFAR's are known; an ImageFolder's are its ``train/`` class folders)."""
    known = {"cifar10": 10, "cifar100": 100, "demo": DEMO_CLASSES, "demo-more": DEMO_CLASSES}
    if spec in known:
        return known[spec]
    if not spec.startswith("imagefolder:"):
        raise DatasetError(f"unknown dataset '{spec}'; use cifar10, cifar100, demo or imagefolder:PATH")
    train = Path(spec.split(":", 1)[1]) / "train"
    if not train.is_dir():
        raise DatasetError(f"{train}: no such directory; an ImageFolder dataset needs {train}/<class>/<image files>")
    return sum(d.is_dir() for d in train.iterdir())


def load_dataset(spec: str, data_root: str | Path = "data", image_size: int | None = None, resize: bool = False,
                 download: bool = True) -> tuple[ImageTensors, ImageTensors]:
    """Train and test sets of ``spec``, both normalised with the train set's channel statistics.

    ``spec`` is ``cifar10``, ``cifar100``, ``demo`` (generated photos, :func:`demo_images`; ``demo-more``: other
    training photos of its classes, for its generator) or ``imagefolder:PATH`` (PATH holds
    ``train/<class>/`` and ``test/<class>/`` with the same class folders). ``image_size`` and
    ``resize`` as in :func:`load_image_folder` (test photos must have the train photos' size).
    """
    _check_size(image_size, resize)
    if spec in ("cifar10", "cifar100"):
        train = _load_torchvision_cifar(spec, Path(data_root), True, download)
        test = _load_torchvision_cifar(spec, Path(data_root), False, download)
        if image_size not in (None, train.image_size):
            if not resize:
                raise DatasetError(f"{spec} photos are {train.image_size}x{train.image_size}, not {image_size}x{image_size}; "
                                   f"pass --resize to resize them, or leave out --image-size")
            train, test = (_resized(d, image_size) for d in (train, test))
    elif spec in ("demo", "demo-more"):
        if image_size not in (None, 32):
            raise DatasetError("the demo photos are 32x32; leave out --image-size")
        train, test = demo_images(DEMO_SIZES["train"], DEMO_SEEDS[spec]), demo_images(DEMO_SIZES["test"], DEMO_SEEDS["test"])
    elif spec.startswith("imagefolder:"):
        root = Path(spec.split(":", 1)[1])
        train = load_image_folder(root / "train", image_size, resize)
        test = load_image_folder(root / "test", train.image_size, resize)
        if train.class_names != test.class_names:
            raise DatasetError(f"{root}: train and test have different class folders")
    else:
        raise DatasetError(f"unknown dataset '{spec}'; use cifar10, cifar100, demo or imagefolder:PATH")
    mean, std = channel_stats(train.images)
    return train.with_stats(mean, std), test.with_stats(mean, std)

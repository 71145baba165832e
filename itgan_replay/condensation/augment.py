"""Differentiable augmentation.

* :class:`SiameseAugment` (DSA): one operation family per call, one set of random
  parameters shared by every image of the real and the synthetic batch of a step.
* :func:`diff_augment` (DiffAugment for GAN training): translation and cutout with
  independent parameters per image.

Both use the same per-image operations below, which take one parameter per image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

FAMILIES = ("color", "crop", "cutout", "flip", "scale", "rotate")


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def scale(x: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(sx)
    return _affine(x, torch.stack([torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1))


def rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate by ``angle`` radians per image."""
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    return _affine(x, torch.stack([torch.stack([cos, sin, zero], 1), torch.stack([-sin, cos, zero], 1)], 1))


def translate(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Shift by whole pixels per image (zero padding): the 'crop' of DSA, 'translation' of DiffAugment."""
    n, _, h, w = x.shape
    rows = (torch.arange(h, device=x.device)[None, :] - dy.to(x.device)[:, None])  # (N, H) source row
    cols = (torch.arange(w, device=x.device)[None, :] - dx.to(x.device)[:, None])
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    idx = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]  # (N, H, W)
    out = x.flatten(2).gather(2, idx.flatten(1)[:, None, :].expand(n, x.shape[1], -1)).view_as(x)
    return out * valid[:, None].to(x.dtype)


def cutout(x: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square centred at (cx, cy) per image (clipped at borders)."""
    h, w = x.shape[2:]
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    lo = size // 2
    in_y = (ys[None] >= cy.to(x.device)[:, None] - lo) & (ys[None] < cy.to(x.device)[:, None] - lo + size)
    in_x = (xs[None] >= cx.to(x.device)[:, None] - lo) & (xs[None] < cx.to(x.device)[:, None] - lo + size)
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def cutout_size(image_size: int, ratio: float) -> int:
    """Side of the cutout square: ``ratio`` of the image side, rounded (16 for 32 x 32 at 0.5)."""
    return int(image_size * ratio + 0.5)


def flip(x: torch.Tensor, do_flip: torch.Tensor) -> torch.Tensor:
    return torch.where(do_flip.to(x.device)[:, None, None, None], x.flip(3), x)


def color(x: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """Add ``brightness``, scale saturation and contrast by the given factors, per image."""
    b, s, c = (v.to(x)[:, None, None, None] for v in (brightness, saturation, contrast))
    x = x + b
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * s + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * c + m


@dataclass(frozen=True)
class DSAParams:
    """Ranges of the DSA operations (defaults of DSA/DM)."""

    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0  # degrees
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5


class SiameseTransform:
    """One sampled augmentation; apply the same object to the real and the synthetic batch."""

    def __init__(self, family: str, values: dict[str, float], params: DSAParams) -> None:
        self.family, self.values, self.params = family, values, params

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        v, p = self.values, self.params
        each = lambda key, dtype=torch.float32: torch.full((n,), v[key], dtype=dtype)  # noqa: E731
        if self.family == "color":
            return color(x, each("brightness"), each("saturation"), each("contrast"))
        if self.family == "crop":
            return translate(x, each("dx", torch.long), each("dy", torch.long))
        if self.family == "cutout":
            return cutout(x, each("cx", torch.long), each("cy", torch.long), cutout_size(w, p.ratio_cutout))
        if self.family == "flip":
            return flip(x, each("flip", torch.bool))
        if self.family == "scale":
            return scale(x, each("sx"), each("sy"))
        return rotate(x, each("angle"))

    def __repr__(self) -> str:
        return f"SiameseTransform({self.family}, {self.values})"


class SiameseAugment:
    """Differentiable Siamese augmentation: ``t = aug.sample(rng); t(real); t(synthetic)``.

    Args:
        families: operation families to draw from, one per call (default: all six).
        params: their ranges.
        image_size: side of the (square) images, for pixel shifts and cutout centres.
    """

    def __init__(self, families: Sequence[str] = FAMILIES, params: DSAParams = DSAParams(), image_size: int = 32) -> None:
        unknown = set(families) - set(FAMILIES)
        if unknown or not families:
            raise ValueError(f"unknown DSA families {sorted(unknown)}; choose from {FAMILIES}")
        self.families, self.params, self.image_size = tuple(families), params, image_size

    def sample(self, rng: torch.Generator) -> SiameseTransform:
        """Draw a family and its parameters from ``rng`` (a CPU ``torch.Generator``)."""
        p, size = self.params, self.image_size
        u = lambda: float(torch.rand((), generator=rng))  # noqa: E731
        integer = lambda low, high: int(torch.randint(low, high, (), generator=rng))  # noqa: E731  uniform on [low, high)
        family = self.families[integer(0, len(self.families))]
        if family == "color":
            v = {"brightness": (u() - 0.5) * p.brightness, "saturation": u() * p.saturation, "contrast": u() + p.contrast}
        elif family == "crop":  # as the reference: uniform whole-pixel shifts in [-shift, shift]
            shift = int(size * p.ratio_crop_pad + 0.5)
            v = {k: integer(-shift, shift + 1) for k in ("dx", "dy")}
        elif family == "cutout":  # as the reference: centres in [0, size] for an even cutout, [0, size - 1] for odd
            v = {k: integer(0, size + 1 - cutout_size(size, p.ratio_cutout) % 2) for k in ("cx", "cy")}
        elif family == "flip":
            v = {"flip": u() < p.prob_flip}
        elif family == "scale":
            low = 1 / p.ratio_scale
            v = {k: low + u() * (p.ratio_scale - low) for k in ("sx", "sy")}
        else:
            v = {"angle": (u() - 0.5) * 2 * p.ratio_rotate / 180 * math.pi}
        return SiameseTransform(family, v, p)


def diff_augment(x: torch.Tensor, rng: torch.Generator | None = None, translation: float = 0.125,
                 cutout_ratio: float = 0.5) -> torch.Tensor:
    """DiffAugment for GAN training: per-image random translation, then per-image cutout."""
    n, _, h, w = x.shape
    pad_x, pad_y = int(w * translation + 0.5), int(h * translation + 0.5)
    dx = torch.randint(-pad_x, pad_x + 1, (n,), generator=rng)
    dy = torch.randint(-pad_y, pad_y + 1, (n,), generator=rng)
    x = translate(x, dx, dy)
    size = cutout_size(w, cutout_ratio)
    cx = torch.randint(0, w + 1 - size % 2, (n,), generator=rng)
    cy = torch.randint(0, h + 1 - size % 2, (n,), generator=rng)
    return cutout(x, cx, cy, size)

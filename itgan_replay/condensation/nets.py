"""Embedding / classifier networks and the sampler of embedding nets for condensation."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


class _FrozenInstanceNorm(torch.autograd.Function):
    """Instance norm whose backward gives the input's gradient only, in fewer passes over memory than autograd's."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
        x32 = x.float()  # statistics in float32, also for bfloat16 inputs (autocast)
        mean = x32.mean((2, 3), keepdim=True)
        rstd = torch.rsqrt((x32.square().mean((2, 3), keepdim=True) - mean.square()).clamp_min(0) + eps)
        scale = weight[:, None, None] * rstd
        ctx.save_for_backward(x, mean, rstd, scale)
        return torch.addcmul(bias[:, None, None] - mean * scale, x32, scale).to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        x, mean, rstd, scale = ctx.saved_tensors
        x_hat = torch.addcmul(-mean * rstd, x.float(), rstd)
        dy32 = dy.float()
        dx = torch.addcmul(dy32 - dy32.mean((2, 3), keepdim=True), x_hat, (dy32 * x_hat).mean((2, 3), keepdim=True), value=-1)
        return dx.mul_(scale).to(dy.dtype), None, None, None


class InstanceNorm(nn.GroupNorm):
    """Instance norm with a per-channel scale and shift: a GroupNorm with one group per channel (as in
    DC/DM's ConvNet; same parameters and state dict).

    A frozen net's (weights without gradients, as every condensation step's embedding net) runs a
    hand-written forward and backward, about twice as fast on CPU on channels-last inputs; it gives
    gradients to the input only, and no second derivatives. Otherwise it is ``nn.GroupNorm``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight.requires_grad and torch.is_grad_enabled():
            return super().forward(x)
        return _FrozenInstanceNorm.apply(x, self.weight, self.bias, self.eps)


class _LowPrecisionInputGradConv(torch.autograd.Function):
    """A convolution whose backward gives the input's gradient only, computed from ``dtype`` copies of
    the weight and the output gradient (the products accumulate in float32 inside oneDNN/cuDNN)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
                padding: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
        ctx.save_for_backward(weight)
        ctx.input_shape, ctx.stride, ctx.padding, ctx.dtype = x.shape, stride, padding, dtype
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None, None]:
        (weight,) = ctx.saved_tensors
        dx = torch.nn.grad.conv2d_input(ctx.input_shape, weight.to(ctx.dtype), dy.to(ctx.dtype), ctx.stride, ctx.padding)
        return dx.to(dy.dtype), None, None, None, None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that, frozen and with :attr:`input_grad_dtype` set (see :func:`input_grads_in`),
    computes its input's gradient in that precision: bfloat16 halves the backward's cost where bf16 is
    native. The forward stays in the input's precision. Otherwise it is ``nn.Conv2d``."""

    input_grad_dtype: torch.dtype | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_grad_dtype is None or self.weight.requires_grad or not x.requires_grad or not torch.is_grad_enabled():
            return super().forward(x)
        return _LowPrecisionInputGradConv.apply(x, self.weight, self.bias, self.stride, self.padding, self.input_grad_dtype)


@contextmanager
def input_grads_in(net: nn.Module, dtype: torch.dtype | None) -> Iterator[nn.Module]:
    """Within the block, every :class:`Conv2d` of ``net`` computes input gradients in ``dtype`` while
    frozen; ``None`` changes nothing. The previous settings come back afterwards.

    Raises:
        ValueError: ``dtype`` is given and ``net`` has no :class:`Conv2d`, or one that is grouped,
            dilated or not zero-padded.
    """
    convs = [m for m in net.modules() if isinstance(m, Conv2d)] if dtype is not None else []
    if dtype is not None and not convs:
        raise ValueError(f"{type(net).__name__} has no itgan_replay.condensation.nets.Conv2d layers whose input-gradient precision could be set")
    if any(c.groups != 1 or c.dilation != (1, 1) or c.padding_mode != "zeros" for c in convs):
        raise ValueError("input-gradient precision is supported for plain convolutions only (no groups, dilation or "
                         "non-zero padding)")
    before = [c.input_grad_dtype for c in convs]
    for conv in convs:
        conv.input_grad_dtype = dtype
    try:
        yield net
    finally:
        for conv, previous in zip(convs, before):
            conv.input_grad_dtype = previous


class AvgPool2x2(nn.Module):
    """2x2 average pooling (``nn.AvgPool2d(2)``). Under ``torch.compile`` and on even sides it is a reshape
    and a mean, which inductor fuses with the norm and ReLU before it into one pass over memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if torch.compiler.is_compiling() and h % 2 == 0 and w % 2 == 0:
            return x.view(n, c, h // 2, 2, w // 2, 2).mean((3, 5))
        return F.avg_pool2d(x, 2)


def convnet_depth(image_size: int) -> int:
    """The ConvNet depth of DC/DM for square images of ``image_size``: pooling down to 4 x 4 (3 at 32 px, 4 at 64)."""
    depth = image_size.bit_length() - 3
    if image_size < 8 or 4 * 2**depth != image_size:
        raise ValueError(f"a ConvNet takes images of 8, 16, 32, 64, ... pixels (4 times a power of 2), got {image_size}")
    return depth


class ConvNet(nn.Module):
    """``depth`` blocks of conv(width) + instance norm + ReLU + 2x2 avg pool, then a linear head (DC/DM/IT-GAN);
    ``depth=None``: :func:`convnet_depth` of ``image_size``."""

    def __init__(self, n_classes: int, width: int = 128, depth: int | None = None, in_channels: int = 3,
                 image_size: int = 32) -> None:
        super().__init__()
        depth = convnet_depth(image_size) if depth is None else depth
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [Conv2d(in_channels if i == 0 else width, width, 3, padding=1),
                       InstanceNorm(width), nn.ReLU(inplace=True), AvgPool2x2()]
        self.features = nn.Sequential(*layers)
        self.feature_dim = width * (image_size // 2**depth) ** 2
        self.classifier = nn.Linear(self.feature_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (3x3 stem, no max pool) with batch norm; ``width`` scales all stages (64 as usual)."""

    def __init__(self, n_classes: int, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        blocks, in_ch = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            out_ch = width * 2**i
            blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1)]
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = in_ch
        self.classifier = nn.Linear(in_ch, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"convnet": ConvNet, "resnet18": ResNet18}


def build_net(arch: str, n_classes: int, width: int | None = None, image_size: int = 32) -> nn.Module:
    """``convnet`` or ``resnet18`` for square images of ``image_size`` pixels; ``width`` overrides the default
    channel width. A ConvNet's depth follows the image size (:func:`convnet_depth`); ResNet-18 pools globally."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}'; choose from {sorted(ARCHITECTURES)}")
    sized = {"image_size": image_size} if arch == "convnet" else {}
    return ARCHITECTURES[arch](n_classes, **({"width": width} if width else {}), **sized)


class EmbeddingSampler:
    """Gives the embedding net of each condensation step.

    With ``pool=None`` every call returns a freshly initialised net (seeded by ``rng``);
    with a pool of state dicts (see :func:`build_pool`) it loads one drawn by ``rng``.
    Nets are in train mode, frozen (no parameter gradients) and channels-last (faster on CPU), and take
    square images of ``image_size`` pixels.
    """

    def __init__(self, arch: str = "convnet", n_classes: int = 10, width: int | None = None,
                 pool: Sequence[dict[str, torch.Tensor]] | None = None, device: str | torch.device = "cpu",
                 image_size: int = 32) -> None:
        self.image_size = image_size
        self.net = build_net(arch, n_classes, width, image_size).to(device, memory_format=torch.channels_last).requires_grad_(False)
        self.pool = list(pool) if pool is not None else None
        if self.pool is not None and not self.pool:
            raise ValueError("the embedding pool is empty; build it with build_pool() or pass pool=None")

    def __call__(self, rng: torch.Generator) -> nn.Module:
        if self.pool is None:
            seed = int(torch.randint(2**62, (), generator=rng))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                for m in self.net.modules():
                    if hasattr(m, "reset_parameters") and m is not self.net:
                        m.reset_parameters()
        else:
            self.net.load_state_dict(self.pool[int(torch.randint(len(self.pool), (), generator=rng))])
        return self.net.train()


def train_classifier(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int, lr: float = 0.01,
                     batch_size: int = 256, rng: torch.Generator | None = None,
                     augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     on_epoch: Callable[[int, nn.Module], None] | None = None) -> nn.Module:
    """Train ``net`` with SGD (momentum 0.9, weight decay 5e-4); lr drops 10x at half the epochs (as in the paper)."""
    device = next(net.parameters()).device
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, epochs // 2)], 0.1)
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=rng)
        for idx in order.split(batch_size):
            x, y = images[idx].to(device), labels[idx].to(device)
            loss = F.cross_entropy(net(augment(x) if augment else x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        if on_epoch:
            on_epoch(epoch, net)
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy in [0, 1]."""
    device = next(net.parameters()).device
    net.eval()
    correct = sum(int((net(x.to(device)).argmax(1) == y.to(device)).sum())
                  for x, y in zip(images.split(batch_size), labels.split(batch_size)))
    return correct / max(1, len(labels))


def trained_net(images: torch.Tensor, labels: torch.Tensor, n_classes: int, epochs: int, arch: str = "convnet",
                width: int | None = None, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """A net for ``images``' size initialised and trained (:func:`train_classifier`, on ``device``) from
    ``seed`` alone, in eval mode; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_net(arch, n_classes, width, images.shape[-1])
    return train_classifier(net.to(device), images, labels, epochs, rng=torch.Generator().manual_seed(seed))


def build_pool(images: torch.Tensor, labels: torch.Tensor, n_classes: int, n_nets: int = 10, epochs: int = 2,
               arch: str = "convnet", width: int | None = None, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Train ``n_nets`` nets briefly on real data; their weights form an embedding pool (paper: +1.5 points)."""
    nets = (trained_net(images, labels, n_classes, epochs, arch, width, seed + i) for i in range(n_nets))
    return [{k: v.clone() for k, v in net.state_dict().items()} for net in nets]

"""The frozen generator's inference form: the same function as :class:`Generator` in eval mode,
computed with fewer operations.

Three exact rewrites (equal up to float rounding, checked to 1e-5 by the tests):

- **Batch norm folded.** In eval mode every conditional batch norm is ``x * a + b`` with ``a`` and
  ``b`` affine in the conditioning vector, so the gains and biases of all blocks come from one
  matrix product per batch (with per-class embeddings, the ``class`` conditioning: one row of a
  per-class table); the unconditional output norm is a constant scale and shift.
- **Up-sampling conv as one transposed conv.** A 3x3 conv of a 2x nearest-up-sampled map sees only
  2x2 distinct input pixels per output pixel, so it is a stride-2 transposed conv with 4x4 kernels
  at the input resolution (16 instead of 36 multiply-adds per input pixel and channel pair). Its
  bias moves into the next norm's shift.
- **Shortcut before up-sampling.** A 1x1 conv commutes with nearest up-sampling, so it runs at a
  quarter of the pixels.

Activations are kept channels-last inside, which oneDNN's CPU convolutions prefer; the images come
out in the usual contiguous layout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# which of a 3x3 kernel's taps each of the 4 taps of the equivalent stride-2 transposed kernel sums
_TAPS = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float64)


def upsampling_kernels(weight: torch.Tensor) -> torch.Tensor:
    """3x3 kernels (O, I, 3, 3) of a conv (padding 1) applied after 2x nearest up-sampling, as the
    (I, O, 4, 4) kernels of one stride-2, padding-1 transposed conv at the input resolution: each
    output pixel sees 2x2 distinct input pixels, whose taps sum the 3x3 taps that read them."""
    return torch.einsum("ai,oxij,bj->xoab", _TAPS, weight.double(), _TAPS)


class FoldedGenerator(nn.Module):
    """The inference form of an eval-mode :class:`~itgan_replay.gan.generator.Generator` whose spectral
    norms are baked in. Built once from the network's current weights (rebuild it after changing
    them); differentiable with respect to ``z``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        cfg = net.config
        self.bottom_width = cfg.bottom_width
        self.shared = None if net.shared is None else nn.Embedding.from_pretrained(net.shared.weight.detach().clone())
        self.linear = nn.Linear(cfg.z_dim, net.linear.out_features)
        self.linear.load_state_dict(net.linear.state_dict())
        maps, shifts, self.widths = [], [], []
        self.up_kernels, self.convs, self.shortcuts = nn.ParameterList(), nn.ModuleList(), nn.ModuleList()
        for block in net.blocks:
            for cbn, bias_before in ((block.bn1, None), (block.bn2, block.conv1.bias)):
                m, v = self._affine(cbn, bias_before)
                maps.append(m)
                shifts.append(v)
                self.widths.append(cbn.bn.num_features)
            kernels = upsampling_kernels(block.conv1.weight.detach()).float().contiguous(memory_format=torch.channels_last)
            self.up_kernels.append(nn.Parameter(kernels, requires_grad=False))
            self.convs.append(self._copy(block.conv2))
            self.shortcuts.append(self._copy(block.shortcut))
        cond_map, cond_shift = torch.cat(maps, 1), torch.cat(shifts)  # (cond_dim, sum of 2 * widths), (sum of 2 * widths)
        if self.shared is None:  # the conditioning is the class's one-hot vector: one row per class, shift included
            cond_map, cond_shift = cond_map + cond_shift, torch.zeros_like(cond_shift)
        self.register_buffer("cond_map", cond_map.float())
        self.register_buffer("cond_shift", cond_shift.float())
        out_bn = net.out_bn
        scale = torch.rsqrt(out_bn.running_var.double() + out_bn.eps)
        shift = -out_bn.running_mean.double() * scale
        if out_bn.affine:
            scale, shift = scale * out_bn.weight.detach().double(), shift * out_bn.weight.detach().double() + out_bn.bias.detach().double()
        self.register_buffer("out_scale", scale.float().view(1, -1, 1, 1))
        self.register_buffer("out_shift", shift.float().view(1, -1, 1, 1))
        self.out_conv = self._copy(net.out_conv)
        self.requires_grad_(False)

    @staticmethod
    def _copy(conv: nn.Conv2d) -> nn.Conv2d:
        out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding)
        out.load_state_dict(conv.state_dict())
        return out.to(memory_format=torch.channels_last)

    @staticmethod
    def _affine(cbn: nn.Module, bias_before: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(M, v)`` with ``[a | b] = cond @ M + v``: the norm of ``x + bias_before`` is ``x * a + b``
        (``cond``: the conditioning vector, or the class's one-hot vector for class embeddings)."""
        bn = cbn.bn
        inv = torch.rsqrt(bn.running_var.double() + bn.eps)
        by_class = isinstance(cbn.gain, nn.Embedding)  # its weight is (n_classes, channels), a linear map's the transpose
        w_gain, w_bias = (m.weight.detach().double() if by_class else m.weight.detach().double().t() for m in (cbn.gain, cbn.bias))
        w_gain = w_gain * inv
        shift = bn.running_mean.double() - (bias_before.detach().double() if bias_before is not None else 0)
        return torch.cat([w_gain, w_bias - w_gain * shift], 1), torch.cat([inv, -inv * shift])

    def forward(self, z: torch.Tensor, y: torch.Tensor, class_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Images of latents ``z`` and labels ``y``; with the ``shared`` conditioning, ``class_vectors`` (N, shared_dim)
        replace the labels' embeddings (class codes; differentiable)."""
        if self.shared is None:
            scales = self.cond_map[y].to(z.dtype)
        else:
            vectors = self.shared(y) if class_vectors is None else class_vectors
            scales = torch.addmm(self.cond_shift, torch.cat([z, vectors.to(z.dtype)], 1), self.cond_map)
        scales = scales.split([w for w in self.widths for _ in (0, 1)], 1)
        h = self.linear(z).view(len(z), -1, self.bottom_width, self.bottom_width)
        h = h.contiguous(memory_format=torch.channels_last)
        for k, (kernels, conv, shortcut) in enumerate(zip(self.up_kernels, self.convs, self.shortcuts)):
            a1, b1, a2, b2 = (s[:, :, None, None] for s in scales[4 * k: 4 * k + 4])
            t = F.conv_transpose2d(torch.addcmul(b1, h, a1).relu_(), kernels, stride=2, padding=1)
            t = conv(torch.addcmul(b2, t, a2).relu_())
            h = t.add_(F.interpolate(shortcut(h), scale_factor=2))
        out = torch.tanh(self.out_conv(torch.addcmul(self.out_shift, h, self.out_scale).relu_()))
        return out.contiguous()  # images in the usual layout, so that the classifier downstream keeps its own

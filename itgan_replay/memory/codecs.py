"""How a latent memory stores its latents: float32, float16, or int8 / 4-bit codes with a float16
scale and offset per latent (4-bit codes packed two to a byte).

A codec turns latents (n, z_dim) into the tensors a memory keeps (:meth:`LatentCodec.encode`) and
back (:meth:`LatentCodec.decode`). :meth:`LatentCodec.round_trip` is what the stored latents
regenerate from, and :meth:`LatentCodec.straight_through` the same values with the gradient of the
identity, so that condensation optimises through the stored rounding.
"""
from __future__ import annotations

import torch

Stored = dict[str, torch.Tensor]


class LatentCodec:
    """Float storage in ``dtype``; the base of the integer codecs."""

    def __init__(self, name: str, dtype: torch.dtype = torch.float32) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def bytes_per_latent(self, z_dim: int) -> int:
        """Bytes one stored latent of ``z_dim`` numbers takes, everything it needs included."""
        return z_dim * self.dtype.itemsize

    def encode(self, z: torch.Tensor) -> Stored:
        """The tensors stored for latents ``z`` (n, z_dim), on the CPU; row ``i`` of each is latent ``i``'s."""
        return {"values": z.detach().to("cpu", self.dtype).clone()}

    def decode(self, stored: Stored) -> torch.Tensor:
        """The float32 latents (n, z_dim) of stored tensors."""
        return stored["values"].float()

    def round_trip(self, z: torch.Tensor) -> torch.Tensor:
        """``decode(encode(z))`` on ``z``'s device: exactly the latents a memory regenerates from."""
        return self.decode(self.encode(z)).to(z.device)

    def straight_through(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`round_trip` values, with the gradient passed to ``z`` unchanged (straight-through)."""
        return _StraightThrough.apply(z, self)


class AffineIntCodec(LatentCodec):
    """``bits``-bit codes ``round((z - offset) / scale)`` with a float16 ``offset`` (the latent's
    minimum) and ``scale`` ((max - min) / (2^bits - 1)) per latent; 4-bit codes two to a byte."""

    def __init__(self, name: str, bits: int) -> None:
        if bits not in (4, 8):
            raise ValueError(f"bits must be 4 or 8, got {bits}")
        super().__init__(name, torch.uint8)
        self.bits, self.levels = bits, 2 ** bits - 1

    def bytes_per_latent(self, z_dim: int) -> int:
        return z_dim * self.bits // 8 + 2 * torch.float16.itemsize  # codes, then scale and offset

    def encode(self, z: torch.Tensor) -> Stored:
        z = z.detach().to("cpu", torch.float32)
        offset = z.min(1).values.half()
        scale = ((z.max(1).values - offset.float()) / self.levels).half()
        scale = torch.where(scale.float() > 0, scale, torch.ones_like(scale))  # a constant latent: any scale is exact
        codes = ((z - offset.float()[:, None]) / scale.float()[:, None]).round().clamp(0, self.levels).to(torch.uint8)
        if self.bits == 4:
            if codes.shape[1] % 2:
                raise ValueError(f"4-bit codes pack two numbers to a byte: z_dim must be even, got {codes.shape[1]}")
            codes = codes[:, 0::2] | (codes[:, 1::2] << 4)
        return {"codes": codes, "scale": scale, "offset": offset}

    def decode(self, stored: Stored) -> torch.Tensor:
        codes = stored["codes"]
        if self.bits == 4:
            codes = torch.stack([codes & 0xF, codes >> 4], 2).flatten(1)
        return codes.float() * stored["scale"].float()[:, None] + stored["offset"].float()[:, None]


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor, codec: LatentCodec) -> torch.Tensor:
        return codec.round_trip(z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


CODECS: dict[str, LatentCodec] = {
    "float32": LatentCodec("float32", torch.float32),
    "float16": LatentCodec("float16", torch.float16),
    "int8": AffineIntCodec("int8", 8),
    "int4": AffineIntCodec("int4", 4),
}
"""Latent storage by name (the ``storage_dtype`` setting)."""


def stored_rows(stored: Stored, rows: slice) -> Stored:
    """The stored tensors of the latents ``rows``."""
    return {k: v[rows].clone() for k, v in stored.items()}


def stored_bytes(stored: Stored) -> int:
    """Bytes of the stored tensors."""
    return sum(v.numel() * v.element_size() for v in stored.values())

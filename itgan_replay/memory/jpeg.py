"""JPEG-compressed exemplars with exact byte accounting: the competitor of latent replay.

A baseline JPEG file of a 32 x 32 image at a given quality starts with the same 623 bytes
(JFIF header, quantisation and Huffman tables, frame and scan headers) whatever the image;
only the entropy-coded scan differs. :class:`JPEGCodec` cuts that shared header off once
per quality, so a memory counts it once in full and each image by its scan alone; decoding
re-joins them into the file that :func:`torchvision.io.encode_jpeg` wrote, bit for bit.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torchvision.io import decode_jpeg, encode_jpeg

# torchvision 0.29 deprecates its JPEG codec in favour of TorchCodec on every call (docs/design.md, "Library warnings")
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision are deprecated")

_SOS, _EOI = b"\xff\xda", b"\xff\xd9"


def split_jpeg(data: bytes) -> tuple[bytes, bytes]:
    """Cut a baseline JPEG file into (everything up to the end of the scan header, the scan data without EOI)."""
    start = data.find(_SOS)
    if start < 0 or not data.endswith(_EOI):
        raise ValueError("not a baseline JPEG file (no start-of-scan marker or no end-of-image marker)")
    header_end = start + 2 + int.from_bytes(data[start + 2:start + 4], "big")
    return data[:header_end], data[header_end:-2]


class JPEGCodec:
    """Encodes images into JPEG scans of one quality that share one header, and decodes them.

    Args:
        quality: JPEG quality, 1 to 100.
        image_size: side of the (square, RGB) images; the shared header is fixed by it and ``quality``.
    """

    def __init__(self, quality: int, image_size: int = 32) -> None:
        if not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must lie in [1, 100], got {quality}")
        self.quality, self.image_size = quality, image_size
        blank = torch.zeros(3, image_size, image_size, dtype=torch.uint8)
        self.header = split_jpeg(encode_jpeg(blank, quality=quality).numpy().tobytes())[0]

    def encode(self, images: torch.Tensor) -> list[bytes]:
        """The scans of uint8 images (N, 3, image_size, image_size).

        Raises:
            ValueError: wrong dtype or shape, or an image whose header is not the shared one.
        """
        if images.dtype != torch.uint8 or images.shape[1:] != (3, self.image_size, self.image_size):
            raise ValueError(f"expected uint8 images (N, 3, {self.image_size}, {self.image_size}), "
                             f"got {images.dtype} {tuple(images.shape)}")
        scans = []
        for data in encode_jpeg(list(images), quality=self.quality) if len(images) else []:
            header, scan = split_jpeg(data.numpy().tobytes())
            if header != self.header:
                raise ValueError("an image's JPEG header differs from the shared one; encode_jpeg changed its tables")
            scans.append(scan)
        return scans

    def jpeg_file(self, scan: bytes) -> bytes:
        """The complete JPEG file of a scan (header + scan + end marker), as encode_jpeg wrote it."""
        return self.header + scan + _EOI

    def decode(self, scan: bytes) -> torch.Tensor:
        """The uint8 image (3, H, W) of a scan."""
        return decode_jpeg(torch.frombuffer(bytearray(self.jpeg_file(scan)), dtype=torch.uint8))


def fill_share(sizes: Sequence[int], share: int) -> int:
    """How many of ``sizes`` (in order) fit in ``share`` bytes."""
    total = 0
    for n, size in enumerate(sizes):
        total += size
        if total > share:
            return n
    return len(sizes)

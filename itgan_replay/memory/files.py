"""Checked, atomic file storage shared by generators, latent memories and checkpoints.

A file is ``MAGIC | kind (16 bytes) | version (uint32) | sha256 (32 bytes) | payload``
where the payload is a ``torch.save`` of plain tensors and containers. Loading
checks every part before it deserialises anything, and deserialises with
``weights_only=True`` so that a file can never execute code.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import torch

MAGIC = b"ITGANRPL"
_HEADER = struct.Struct("<8s16sI32s")


class StoredFileError(ValueError):
    """A stored file is missing, corrupt, of another kind or of an unsupported version."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    An existing file at ``path`` stays untouched until the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checked(path: str | os.PathLike, kind: str, version: int, payload: dict[str, Any]) -> None:
    """Serialise ``payload`` with a header naming its ``kind``/``version`` and a checksum."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    body = buf.getvalue()
    header = _HEADER.pack(MAGIC, kind.encode().ljust(16, b"\0"), version, hashlib.sha256(body).digest())
    atomic_write_bytes(path, header + body)


def load_checked(path: str | os.PathLike, kind: str, max_version: int) -> tuple[int, dict[str, Any]]:
    """Read a file written by :func:`save_checked`; return ``(version, payload)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        StoredFileError: wrong magic or kind, a version newer than ``max_version``,
            a truncated file or a checksum mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if len(raw) < _HEADER.size:
        raise StoredFileError(f"{path}: file is truncated ({len(raw)} bytes); it is not a complete {kind} file")
    magic, stored_kind, version, digest = _HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise StoredFileError(f"{path}: not an itgan-replay file (bad magic bytes)")
    stored_kind = stored_kind.rstrip(b"\0").decode(errors="replace")
    if stored_kind != kind:
        raise StoredFileError(f"{path}: holds a '{stored_kind}', expected a '{kind}'")
    if version > max_version:
        raise StoredFileError(
            f"{path}: {kind} format version {version} is newer than this itgan-replay supports "
            f"({max_version}); upgrade itgan-replay to read it"
        )
    body = raw[_HEADER.size:]
    if hashlib.sha256(body).digest() != digest:
        raise StoredFileError(f"{path}: checksum mismatch, the file is corrupt or truncated")
    return version, torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)


def state_fingerprint(state_dict: dict[str, torch.Tensor], header: bytes = b"") -> str:
    """sha256 of ``header`` and every tensor's name, dtype, shape and exact bytes (keys sorted)."""
    h = hashlib.sha256(header)
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()

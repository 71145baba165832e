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


def differences(saved: Any, now: Any) -> str:
    """What differs between two settings (nested dicts), for an error message: each differing value by its dotted
    path, as ``path: saved -> now`` (the code version spelt out when it alone differs)."""
    diffs = _differing_values(saved, now)
    if [path for path, _, _ in diffs] == ["code"] or diffs and all(path.startswith("code.") for path, _, _ in diffs):
        return f"the code: it was written at {saved.get('code')}, this is {now.get('code')}"
    return "; ".join(f"{path}: {old!r} (saved) -> {new!r} (now)" for path, old, new in diffs)


_MISSING = "<not recorded>"


def _differing_values(saved: Any, now: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The (dotted path, saved value, current value) of every leaf where two nested settings differ."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for k in sorted(saved.keys() | now.keys(), key=str)
                for d in _differing_values(saved.get(k, _MISSING), now.get(k, _MISSING), f"{path}.{k}" if path else str(k))]
    return [] if saved == now else [(path, saved, now)]


class KeyedFile:
    """Finished work kept on disk so that a killed job resumes: a dict of ``content`` in a checked file
    (:func:`save_checked`, written atomically) beside the ``key`` it was made for (a dict of the settings it depends
    on), loaded only for that key."""

    def __init__(self, path: str | os.PathLike, kind: str, version: int, key: dict[str, Any], remedy: str) -> None:
        self.path, self.kind, self.version, self.key, self.remedy = Path(path), kind, version, key, remedy

    def load(self) -> dict[str, Any]:
        """The content saved for this key; empty when the file does not exist.

        Raises:
            StoredFileError: a corrupt file, or one made for another key (the message names what differs and
                ends with ``remedy``).
        """
        if not self.path.exists():
            return {}
        _, payload = load_checked(self.path, self.kind, self.version)
        if payload["key"] != self.key:
            raise StoredFileError(f"{self.path} was made at other settings ({differences(payload['key'], self.key)}); "
                                  f"{self.remedy}")
        return payload["content"]

    def save(self, content: dict[str, Any], **extra: Any) -> None:
        """Write ``content`` (and ``extra`` entries beside it, e.g. the code version) for this key."""
        save_checked(self.path, self.kind, self.version, {"key": self.key, "content": content, **extra})


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

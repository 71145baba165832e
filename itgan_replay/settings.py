"""Settings are dataclass fields that carry their own help, so every script builds its options from them."""
from __future__ import annotations

from dataclasses import Field, field
from typing import Any


def setting(default: Any, help: str) -> Any:  # noqa: A002 (argparse's word for it)
    """A dataclass field with ``default`` and the ``help`` its command-line option shows."""
    return field(default=default, metadata={"help": help})


def help_of(f: Field) -> str:
    """The help text of a field declared with :func:`setting`."""
    return f.metadata["help"]

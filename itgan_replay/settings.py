"""Settings are dataclass fields that carry their own help, so every script builds its options from them."""
from __future__ import annotations

from dataclasses import Field, field
from typing import Any


def setting(default: Any, help: str) -> Any:  # noqa: A002 (argparse's word for it)
    """A dataclass field with ``default`` and the ``help`` its command-line option shows."""
    return field(default=default, metadata={"help": help})


def check_choices(config: Any, choices: dict[str, tuple]) -> None:
    """Raise ValueError naming the first field of ``config`` whose value is not among its ``choices``."""
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got '{getattr(config, name)}'")


def help_of(f: Field) -> str:
    """The help text of a field declared with :func:`setting`."""
    return f.metadata["help"]

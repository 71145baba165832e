"""Settings are dataclass fields that carry their own help (and choices), so every script builds its options from them."""
from __future__ import annotations

from dataclasses import Field, field, fields
from typing import Any


def setting(default: Any, help: str, choices: tuple | None = None) -> Any:  # noqa: A002 (argparse's word for it)
    """A dataclass field with ``default``, the ``help`` its command-line option shows and, for a field of a
    few allowed values, their ``choices`` (checked by :func:`check_choices`, listed by the option)."""
    return field(default=default, metadata={"help": help} | ({"choices": tuple(choices)} if choices else {}))


def check_choices(config: Any) -> None:
    """Raise ValueError naming the first field of ``config`` whose value is not among its declared choices."""
    for f in fields(config):
        allowed = f.metadata.get("choices")
        if allowed is not None and getattr(config, f.name) not in allowed:
            raise ValueError(f"{f.name} must be one of {', '.join(map(str, allowed))}; got '{getattr(config, f.name)}'")


def help_of(f: Field) -> str:
    """The help text of a field declared with :func:`setting`."""
    return f.metadata["help"]

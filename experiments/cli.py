"""Pieces shared by the experiment scripts: command-line options and result files."""
from __future__ import annotations

import argparse
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

TYPES = {"int": int, "float": float, "str": str, "bool": int}


def add_dataset_options(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--dataset`` and ``--data-root``."""
    p.add_argument("--dataset", required=default is None, default=default,
                   help=f"cifar10, cifar100 or imagefolder:PATH (PATH/train/<class>/, PATH/test/<class>/)"
                        f"{'; default ' + default if default else ''}")
    p.add_argument("--data-root", default="data", help="where torchvision CIFAR files are (or are downloaded to)")


def add_preset_options(p: argparse.ArgumentParser, preset_class: type, help_texts: dict[str, str]) -> None:
    """One ``--option`` per field of the preset dataclass; omitted options keep the preset's value."""
    for f in fields(preset_class):
        kind = TYPES[str(f.type).split(" ")[0]]
        p.add_argument("--" + f.name.replace("_", "-"), type=kind, help=f"{help_texts[f.name]} (preset value if omitted)")


def preset_overrides(args: argparse.Namespace, preset_class: type) -> dict[str, Any]:
    """The preset fields given on the command line, converted to their field types."""
    out = {}
    for f in fields(preset_class):
        value = getattr(args, f.name)
        if value is not None:
            out[f.name] = bool(value) if str(f.type) == "bool" else value
    return out


def require_at_least(args: argparse.Namespace, minimum: dict[str, int | float]) -> None:
    """Raise ValueError naming the first option of ``minimum`` (an ``args`` attribute, or a list of
    values) below its least allowed value, in the scripts' one-line style."""
    for name, least in minimum.items():
        given = getattr(args, name)
        for value in given if isinstance(given, list) else [given]:
            if value is not None and value < least:
                raise ValueError(f"--{name.replace('_', '-')} must be {least} or more, got {value}")


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def code_version() -> dict[str, str | bool | None]:
    """The git commit of this checkout and whether tracked files differ from it (``dirty``);
    ``None`` for both where there is no git checkout. Results files record it."""
    root = Path(__file__).resolve().parents[1]
    git = lambda *a: subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True, check=True).stdout  # noqa: E731
    try:
        return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def differences(saved: dict, now: dict) -> str:
    """What differs between two settings dicts, for an error message (the code version spelt out)."""
    keys = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if keys == ["code"]:
        return f"the code: it was written at {saved.get('code')}, this is {now['code']}"
    return "the settings " + ", ".join(keys)

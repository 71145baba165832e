"""Pieces shared by the experiment scripts: command-line options and result files."""
from __future__ import annotations

import argparse
import io
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import torch

from itgan_replay.condensation.class_code import CodeConfig
from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.recipe import LatentRecipe
from itgan_replay.data import ImageTensors, load_dataset
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.settings import help_of

TYPES = {"int": int, "float": float, "str": str, "bool": int}


class UsageError(ValueError):
    """An option or combination of options cannot run; raised before any training."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The scripts' ``--help``: the description as written, and every option's default, unless its help says
    it already (a "default" or "omitted" of its own) or it has none to show (unset, or a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if re.search(r"default|omitted", text, re.I) or action.default in (None, False, argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"


def add_dataset_options(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--dataset``, ``--data-root``, ``--image-size`` and ``--resize`` (read them with :func:`load_dataset_from_args`)."""
    p.add_argument("--dataset", required=default is None, default=default,
                   help=f"cifar10, cifar100 or imagefolder:PATH (PATH/train/<class>/, PATH/test/<class>/)"
                        f"{'; default ' + default if default else ''}")
    p.add_argument("--data-root", default="data", help="where torchvision CIFAR files are (or are downloaded to)")
    p.add_argument("--image-size", type=int,
                   help="side of the square photos in pixels; a photo of another size is an error unless --resize is "
                        "given (omitted: the size of the dataset's first photo, 32 for CIFAR)")
    p.add_argument("--resize", action="store_true", help="resize every photo of another size to --image-size (bicubic)")


def add_setting_option(p: argparse.ArgumentParser, what: str, example: str) -> None:
    """``--setting NAME="OPTIONS"`` (repeatable): named sets of the main job's ``what`` options; see :func:`parse_setting`."""
    p.add_argument("--setting", action="append", required=True, metavar='NAME="OPTIONS"',
                   help=f"a named set of {what} (e.g. {example}; see split_cifar100.py --help); repeat for each setting")


def parse_setting(text: str) -> tuple[str, list[str]]:
    """``NAME="OPTIONS"`` as (NAME, the options' words).

    Raises:
        ValueError: no ``=``, an empty NAME, or a NAME with ``/`` or a space (it names a run folder).
    """
    name, sep, options = text.partition("=")
    if not sep or not name or any(c in name for c in "/ "):
        raise ValueError(f"--setting '{text}': write NAME=\"OPTIONS\" with a NAME free of '/' and spaces")
    return name, shlex.split(options)


def add_cas_options(p: argparse.ArgumentParser) -> None:
    """``--cas-per-class``, ``--cas-epochs`` and ``--cas-seeds``: how CAS is scored
    (:func:`itgan_replay.gan.quality.cas_over_seeds`)."""
    p.add_argument("--cas-per-class", type=int, default=500,
                   help="generated images per class for the CAS classifier (default: %(default)s)")
    p.add_argument("--cas-epochs", type=int, default=15, help="epochs of the CAS classifier (default: %(default)s)")
    p.add_argument("--cas-seeds", type=int, default=2,
                   help="CAS classifiers, seeded 0, 1, ...: the report gives each score, their mean and their "
                        "standard deviation (default: %(default)s)")


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device`` (check its value with :func:`check_device`)."""
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu, cuda or cuda:N (default: cuda where a GPU is visible, else cpu)")


def check_device(device: str) -> None:
    """Raise UsageError unless ``device`` is ``cpu``, or ``cuda`` / ``cuda:N`` naming a GPU this machine has."""
    match = re.fullmatch(r"cpu|cuda(?::(\d+))?", device)
    if match is None:
        raise UsageError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    if device == "cpu":
        return
    gpus = torch.cuda.device_count()
    if int(match.group(1) or 0) >= gpus:
        raise UsageError(f"--device {device}: this machine has {gpus} visible CUDA GPU(s); use --device cpu"
                         + (f" or cuda:0 to cuda:{gpus - 1}" if gpus else ""))


def load_dataset_from_args(args: argparse.Namespace, spec: str | None = None) -> tuple[ImageTensors, ImageTensors]:
    """Train and test sets of ``spec`` (default ``--dataset``) as the options of :func:`add_dataset_options` say."""
    return load_dataset(spec or args.dataset, args.data_root, args.image_size, args.resize)


def add_config_options(p: argparse.ArgumentParser, config_class: type, prefix: str = "",
                       only: Iterable[str] | None = None, skip: Iterable[str] = (),
                       presets: Mapping[str, Any] | None = None) -> None:
    """One ``--<prefix><field>`` option per field of the dataclass ``config_class`` (those in ``only``
    if given, none in ``skip``, no nested configs), with the help and choices its
    :func:`~itgan_replay.settings.setting` declares. A boolean is a flag, ``--x`` / ``--no-x``, that also takes
    the ``1`` / ``0`` that results files record (``--x 0``). An omitted option is ``None``: the base config's value
    stands (:func:`config_from_args`). The help gives that value: each preset's where ``presets`` (preset name ->
    its instance of ``config_class``) are given, else the field's default."""
    for f in _option_fields(config_class, only, skip):
        base_type = str(f.type).removesuffix(" | None")
        option, dest = "--" + (prefix + f.name).replace("_", "-"), (prefix + f.name).replace("-", "_")
        shown = _defaults_shown(f, presets)
        choices = f.metadata.get("choices")
        if base_type == "bool":
            p.add_argument(option, dest=dest, nargs="?", const=1, type=int, metavar="0|1",
                           help=f"{help_of(f)} (default: {shown})")
            p.add_argument("--no-" + option[2:], dest=dest, action="store_const", const=0, help=f"same as {option} 0")
        else:
            p.add_argument(option, dest=dest, type=TYPES[base_type],  # the config checks choices, in one line
                           metavar="{" + ",".join(map(str, choices)) + "}" if choices else base_type.upper(),
                           help=f"{help_of(f)} (default: {shown})")


def _defaults_shown(f, presets: Mapping[str, Any] | None) -> str:
    """What an omitted option of field ``f`` means: its value in each preset (grouped where equal), or its default."""
    if not presets:
        return _shown(f.default)
    by_value: dict[str, list[str]] = {}
    for name, config in presets.items():
        by_value.setdefault(_shown(getattr(config, f.name)), []).append(name)
    if len(by_value) == 1:
        return next(iter(by_value))
    return "the preset's: " + "; ".join(f"{value} ({', '.join(names)})" for value, names in by_value.items())


def config_from_args(args: argparse.Namespace, base: Any, prefix: str = "", only: Iterable[str] | None = None,
                     skip: Iterable[str] = ()) -> Any:
    """``base`` (a dataclass instance) with the options of :func:`add_config_options` that were given;
    the config class checks the values (``ValueError``, whose message names the options, not the fields)."""
    given = {}
    option_fields = _option_fields(type(base), only, skip)
    try:
        for f in option_fields:
            value = getattr(args, (prefix + f.name).replace("-", "_"))
            if value is not None and str(f.type) == "bool" and value not in (0, 1):
                raise ValueError(f"{f.name} takes 1 or 0 (or the flag alone), got {value}")
            if value is not None:
                given[f.name] = bool(value) if str(f.type) == "bool" else value
        return replace(base, **given)
    except ValueError as err:  # a config names its fields; the user typed options
        options = {f.name: "--" + (prefix + f.name).replace("_", "-") for f in option_fields}
        raise type(err)(with_option_names(str(err), options, all_names=True)) from err


def with_option_names(message: str, options: dict[str, str], all_names: bool = False) -> str:
    """``message`` with each config field name of ``options`` (field name -> option) written as its option. Only
    names with an underscore, which no English word has, unless ``all_names`` (for a message about those fields)."""
    for name, option in options.items():
        if all_names or "_" in name:
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", option, message)
    return message


def parser_options(p: argparse.ArgumentParser) -> dict[str, str]:
    """Each option's destination (a config field name, for setting options) -> its option string."""
    return {a.dest: a.option_strings[-1] for a in p._actions if a.option_strings and a.dest != "help"}


def add_recipe_options(p: argparse.ArgumentParser, only: Iterable[str] | None = None, skip: Iterable[str] = (),
                       presets: Mapping[str, LatentRecipe] | None = None) -> None:
    """The options of a :class:`~itgan_replay.condensation.recipe.LatentRecipe` (its fields in ``only`` /
    not in ``skip``), with its condensation settings as ``--condense-*``, its inversion's as ``--inversion-*`` and
    its class codes' as ``--code-*``;
    ``presets``: the recipe of each preset, whose values the help gives."""
    add_config_options(p, LatentRecipe, only=only, skip=skip, presets=presets)
    add_config_options(p, CondenseConfig, prefix="condense_",
                       presets=presets and {k: r.condense for k, r in presets.items()})
    add_config_options(p, InversionConfig, prefix="inversion_",
                       presets=presets and {k: r.inversion for k, r in presets.items()})
    add_config_options(p, CodeConfig, prefix="code_", presets=presets and {k: r.code for k, r in presets.items()})


def recipe_from_args(args: argparse.Namespace, base: LatentRecipe, only: Iterable[str] | None = None,
                     skip: Iterable[str] = ()) -> LatentRecipe:
    """``base`` with the options of :func:`add_recipe_options` that were given (``ValueError`` for a bad value)."""
    recipe = config_from_args(args, base, only=only, skip=skip)
    return replace(recipe, condense=config_from_args(args, recipe.condense, prefix="condense_"),
                   inversion=config_from_args(args, recipe.inversion, prefix="inversion_"),
                   code=config_from_args(args, recipe.code, prefix="code_"))


def _option_fields(config_class: type, only: Iterable[str] | None, skip: Iterable[str]) -> list:
    only, skip = (None if only is None else set(only)), set(skip)
    return [f for f in fields(config_class) if "help" in f.metadata and f.name not in skip and (only is None or f.name in only)]


def _shown(value: Any) -> str:
    """A setting's value as its option is written (booleans as 1 / 0; unset as 'unset')."""
    return str(int(value)) if isinstance(value, bool) else "unset" if value is None else str(value)


def require_at_least(args: argparse.Namespace, minimum: dict[str, int | float]) -> None:
    """Raise ValueError naming the first option of ``minimum`` (an ``args`` attribute, or a list of
    values) below its least allowed value, in the scripts' one-line style."""
    for name, least in minimum.items():
        given = getattr(args, name)
        for value in given if isinstance(given, list) else [given]:
            if value is not None and value < least:
                raise ValueError(f"--{name.replace('_', '-')} must be {least} or more, got {value}")


def require_generator_of(generator: FrozenGenerator, data: ImageTensors, what: str = "the generator") -> None:
    """Stops (UsageError) unless ``generator`` makes ``data``'s image size and has its classes in its order: the
    scripts other than the main job draw label ``i`` as the generator's class ``i`` (the main job matches classes
    by name and learns class codes for the others)."""
    if generator.class_names != data.class_names or generator.config.img_size != data.image_size:
        raise UsageError(f"{what} makes {generator.config.img_size}-pixel images of classes {generator.class_names[:3]}…; "
                         f"the photos are {data.image_size}-pixel, of {data.class_names[:3]}…. This script needs a generator "
                         "of the photos' own classes (the main job takes others, through class codes)")


def line_buffered_output() -> None:
    """Flush stdout and stderr at every line, also into a file or pipe (``tail -f`` of a log shows each line)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def code_version() -> dict[str, str | bool | None]:
    """The git commit of this checkout and whether its files differ from it (``dirty``: a changed tracked file or
    an untracked one that .gitignore does not ignore); ``None`` for both where there is no git checkout. Results
    files record it."""
    root = Path(__file__).resolve().parents[1]
    git = lambda *a: subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True, check=True).stdout  # noqa: E731
    try:
        return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(git("status", "--porcelain", "--untracked-files=normal").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}

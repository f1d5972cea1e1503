"""Command-line options of config dataclasses, by transformers' ``HfArgumentParser`` rules (as `train`'s
``TrlParser``): ``--field_name`` and ``--field-name``, ``--no-field-name`` for bools, the field's ``help`` and
``aliases`` metadata; ``--config YAML`` gives values that flags override.

Every option's parsed default is None, so a command can tell a value given on the command line from one left
unset (eval records where each setting came from); ``--help`` shows the dataclass default, applied by ``build``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_config_options(
    parser: argparse.ArgumentParser,
    *classes: type,
    skip: frozenset[str] | set[str] = frozenset(),
    defaults: dict[str, Any] | None = None,
    config_help: str = "YAML file of settings; command-line options override it",
) -> None:
    """One option per init field of ``classes`` (a name already added by an earlier class is skipped),
    plus ``--config``. ``defaults`` only changes the default shown in help."""
    from transformers import HfArgumentParser

    if config_help:
        parser.add_argument("--config", metavar="YAML", help=config_help)
    seen = {a.dest for a in parser._actions}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init or f.name in skip or f.name in seen:
                continue
            seen.add(f.name)
            f = copy.copy(f)  # HfArgumentParser resolves the type in place
            f.type = hints[f.name]
            before = len(parser._actions)
            # transformers' field -> option rules (a static method: it fills any parser), as TrlParser uses them
            HfArgumentParser._parse_dataclass_field(parser, f)
            added = parser._actions[before:]
            shown = (defaults or {}).get(f.name, field_default(f))
            for action in added:
                action.default, action.required = None, False
            if shown not in (None, "", dataclasses.MISSING):
                added[0].help = f"{added[0].help or ''} (default: {shown})".strip()
            if f.type is bool and shown is not True:  # HfArgumentParser adds --no-X only for default True
                parser.add_argument(
                    f"--no_{f.name}",
                    f"--no-{f.name.replace('_', '-')}",
                    dest=f.name,
                    action="store_false",
                    default=None,
                    help=argparse.SUPPRESS,
                )


def option(
    default: Any = dataclasses.MISSING, help: str = "", *, factory: Callable[[], Any] | None = None
) -> Any:
    """A dataclass field whose command-line option shows ``help``; ``factory`` for a mutable default."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def given(args: argparse.Namespace, cls: type | None = None) -> dict[str, Any]:
    """The options given on the command line (of ``cls``'s fields, when given)."""
    names = {f.name for f in dataclasses.fields(cls)} if cls else None
    return {
        k: v
        for k, v in vars(args).items()
        if v is not None and not k.startswith("_") and k != "config" and (names is None or k in names)
    }


def read_config(path: str | Path, names: set[str] | None = None) -> dict[str, Any]:
    """The settings of a YAML file; with ``names``, a key outside them is an error naming the valid ones."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    unknown = sorted(set(loaded) - names) if names is not None else []
    if unknown:
        raise ValueError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
        )
    return loaded


def build(cls: type, values: dict[str, Any]) -> Any:
    """``cls`` from the values that are its fields; a missing required one is named as an option."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    missing = [f.name for f in fields if field_default(f) is dataclasses.MISSING and f.name not in values]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise ValueError(f"missing setting(s): {flags} (give them on the command line or in --config)")
    return cls(**{f.name: values[f.name] for f in fields if f.name in values})

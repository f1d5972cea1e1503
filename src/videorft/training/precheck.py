"""`videorft train` config errors in one line, before torch, TRL or the model load (well under 2 s).

TRL's parser needs ``import trl`` (seconds) and reports some mistakes as tracebacks from deep inside
transformers; a negative learning rate or a missing GPU only shows after the model has loaded. This module
checks the YAML + ``--field value`` flags against ``config_fields.json`` (every field name and its kind,
generated from the config dataclasses; a test keeps it current) and the values that can be judged without a
model. The dataclasses stay the authority: whatever passes here is parsed by TRL as before.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIELDS_FILE = Path(__file__).with_name("config_fields.json")
DTYPES = ("auto", "bfloat16", "float16", "float32")
FLAGS = ("--resume", "--overwrite")


class ConfigError(ValueError):
    """One line saying which field is wrong and why."""


def load_fields(kind: str) -> dict[str, str]:
    """Field name -> kind ("bool", "int", "float", "str", "list", "dict", "any") for ``sft`` or ``grpo``."""
    return json.loads(FIELDS_FILE.read_text(encoding="utf-8"))[kind]


def _pairs(argv: list[str]) -> Iterator[tuple[str, str | None]]:
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and arg not in FLAGS:
            name, eq, value = arg[2:].partition("=")
            if eq:
                yield name, value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1
                yield name, argv[i]
            else:
                yield name, None  # a bare boolean flag
        i += 1


def _convert(name: str, kind: str, value: Any, from_cli: bool) -> Any:
    if value is None:
        return True if kind == "bool" and from_cli else None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        try:
            number = int(value) if kind == "int" and not isinstance(value, float) else float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(
                f"{name}: expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}"
            ) from None
        if kind == "int" and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if not math.isfinite(float(number)):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return int(number) if kind == "int" else number
    return value


def _cuda_visible() -> bool:
    """A CUDA (or ROCm) device node exists, without importing torch (Linux); elsewhere assume yes."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists()


def precheck(kind: str, argv: list[str]) -> dict[str, Any]:
    """The merged config (YAML, then flags) of ``videorft train KIND argv``; ConfigError on the first problem."""
    fields = load_fields(kind)
    values: dict[str, Any] = {}
    rest = list(argv)
    if rest and not rest[0].startswith("-"):
        path = Path(rest.pop(0))
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        import yaml

        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if doc is not None and not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected a mapping of field: value, got {type(doc).__name__}")
        for name, value in (doc or {}).items():
            values[str(name)] = (str(path), value)
    for name, value in _pairs(rest):
        if name in ("help", "h", "config"):
            continue
        values[name.replace("-", "_")] = ("flag", value)
    merged: dict[str, Any] = {}
    for name, (source, value) in values.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = f"{source}: " if source != "flag" else "--"
            raise ConfigError(
                f"{where}unknown field {name!r}{hint}; `videorft train {kind} --help` lists all"
            )
        merged[name] = _convert(name, fields[name], value, source == "flag")
    _check_values(kind, merged)
    return merged


def _check_values(kind: str, c: dict[str, Any]) -> None:
    def get(name: str, default: Any = None) -> Any:
        return c.get(name, default) if c.get(name) is not None else default

    if get("learning_rate", 0.0) < 0:
        raise ConfigError(f"learning_rate must be >= 0, got {c['learning_rate']}")
    if get("max_steps", -1) == 0:
        raise ConfigError("max_steps: 0 trains nothing (-1, the default, runs num_train_epochs)")
    if get("num_train_epochs", 1.0) <= 0 and get("max_steps", -1) < 0:
        raise ConfigError(f"num_train_epochs must be > 0, got {c['num_train_epochs']}")
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
        if get(name, 1) < 1:
            raise ConfigError(f"{name} must be >= 1, got {c[name]}")
    if get("fps", 2.0) <= 0:
        raise ConfigError(f"fps must be > 0, got {c['fps']}")
    if get("nframes") is not None and c["nframes"] < 2:
        raise ConfigError(
            f"nframes must be >= 2 (Qwen2.5-VL's temporal patch is 2 frames), got {c['nframes']}"
        )
    if get("min_frames", 4) < 1 or get("min_frames", 4) > get("max_frames", 16):
        raise ConfigError(
            f"need 1 <= min_frames <= max_frames, got {get('min_frames', 4)}, {get('max_frames', 16)}"
        )
    if get("min_pixels", 1) < 1 or get("min_pixels", 12544) > get("max_pixels", 100352):
        raise ConfigError(
            f"need 1 <= min_pixels <= max_pixels, got {get('min_pixels', 12544)}, {get('max_pixels', 100352)}"
        )
    if get("dtype") is not None and c["dtype"] not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {c['dtype']!r}")
    if kind == "grpo":
        g = get("num_generations", 8)
        if g < 2:
            raise ConfigError(
                f"num_generations must be >= 2 (advantages compare completions in a group), got {g}"
            )
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        steps = get("steps_per_generation", get("gradient_accumulation_steps", 1))
        batch = get("generation_batch_size") or get("per_device_train_batch_size", 8) * world * steps
        if batch % g:
            raise ConfigError(
                f"num_generations ({g}) must divide the generation batch ({batch} = per_device_train_batch_size "
                f"{get('per_device_train_batch_size', 8)} x {world} process(es) x {steps} step(s) per generation)"
            )
        for name in ("temporal_alpha", "temporal_mu", "beta"):
            if get(name, 0.0) < 0:
                raise ConfigError(f"{name} must be >= 0, got {c[name]}")
    if not get("use_cpu", False) and not _cuda_visible():
        raise ConfigError("no CUDA device found: set use_cpu: true to train on CPU")

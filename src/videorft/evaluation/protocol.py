"""The evaluation protocol: everything that changes a number, recorded and compared.

Two runs are comparable only when their protocols agree on every key outside
``VOLATILE_KEYS``; `videorft report` flags each key that differs.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from videorft.files import write_json

PROTOCOL_FILE = "protocol.json"

#: Packages whose versions can move a score (tokenisation, video decoding, generation).
VERSIONED_PACKAGES: tuple[str, ...] = (
    "videorft",
    "torch",
    "torchvision",
    "transformers",
    "av",
    "numpy",
    "pillow",
    "qwen-vl-utils",
    "vllm",
)

#: Bookkeeping that differs between any two runs without changing what was measured.
VOLATILE_KEYS: frozenset[str] = frozenset(
    {
        "created",
        "finished",
        "elapsed_s",
        "n_predicted",
        "n_skipped",
        "skipped",
        "out_dir",
        "host",
        "resumed",
        "settings_source",
    }
)


def package_versions(names: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, ``None`` when it is not installed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: {"a": {"b": 1}} -> {"a.b": 1}. Lists stay values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _is_volatile(key: str) -> bool:
    return key.split(".", 1)[0] in VOLATILE_KEYS


def comparable(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened protocol without its volatile keys."""
    return {k: v for k, v in flatten(protocol).items() if not _is_volatile(k)}


def protocol_diff(protocols: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Keys whose values differ between protocols -> the value in each (``None`` where absent)."""
    flat = [comparable(p) for p in protocols]
    values = {key: [f.get(key) for f in flat] for key in sorted(set().union(*flat))} if flat else {}
    return {key: vs for key, vs in values.items() if len({json.dumps(v, sort_keys=True) for v in vs}) > 1}


def read_json(path: Path) -> Any:
    """A JSON file; invalid JSON is a ``ValueError`` naming the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def read_protocol(run_dir: str | Path) -> dict[str, Any] | None:
    """``RUN_DIR/protocol.json`` or ``None`` when the run has none."""
    path = Path(run_dir) / PROTOCOL_FILE
    return read_json(path) if path.is_file() else None


def write_protocol(run_dir: str | Path, protocol: Mapping[str, Any]) -> Path:
    path = Path(run_dir) / PROTOCOL_FILE
    write_json(path, protocol, sort_keys=True, default=str)
    return path

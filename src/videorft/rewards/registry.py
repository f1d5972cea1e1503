"""Name -> reward function registry. A reward is ``(completion: str, solution, **meta) -> float``.

User code may also be named by file path, as EasyR1 does: :func:`load_function` (``"my_rewards.py:fn"``).
The built-in rewards register when ``videorft.rewards`` (whose ``__init__`` imports rules and caption) loads,
which any import of this module does first.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["RewardFn", "register_reward", "get_reward", "reward_names", "load_function"]

RewardFn = Callable[..., float]

_REWARDS: dict[str, RewardFn] = {}


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator registering a reward function under ``name`` (names are unique)."""

    def decorator(fn: RewardFn) -> RewardFn:
        if name in _REWARDS and _REWARDS[name] is not fn:
            raise ValueError(f"reward {name!r} is already registered ({_REWARDS[name].__module__})")
        _REWARDS[name] = fn
        return fn

    return decorator


def get_reward(name: str) -> RewardFn:
    """The reward function registered as ``name``; the error lists the valid names."""
    try:
        return _REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; valid rewards: {', '.join(sorted(_REWARDS))}") from None


def reward_names() -> list[str]:
    """Sorted names of all registered rewards."""
    return sorted(_REWARDS)


def load_function(spec: str) -> Callable[..., Any]:
    """The function ``fn`` of the Python file in ``"path/to/file.py:fn"`` (a path relative to the working
    directory); the file runs once per process. Errors name the path and what is missing."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise ValueError(f"{spec!r}: expected 'path/to/file.py:function'")
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"{spec!r}: file {path} not found")
    key = f"videorft_user_{abs(hash(str(file)))}"
    module = sys.modules.get(key)
    if module is None:
        loader = importlib.util.spec_from_file_location(key, file)
        if loader is None or loader.loader is None:
            raise ValueError(f"{spec!r}: {path} is not a Python file")
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        sys.modules[key] = module
    fn = getattr(module, name, None)
    if not callable(fn):
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise AttributeError(
            f"{spec!r}: {path} defines no function {name!r}; it defines: {', '.join(defined)}"
        )
    return fn

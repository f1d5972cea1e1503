"""Name -> reward function registry. A reward is ``(completion: str, solution, **meta) -> float``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["RewardFn", "register_reward", "get_reward", "reward_names"]

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
    _load_builtins()
    try:
        return _REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; valid rewards: {', '.join(sorted(_REWARDS))}") from None


def reward_names() -> list[str]:
    """Sorted names of all registered rewards."""
    _load_builtins()
    return sorted(_REWARDS)


def _load_builtins() -> Any:
    # Importing the modules runs their @register_reward decorators.
    from videorft.rewards import caption, rules  # noqa: F401

"""Name -> reward function registry. A reward is ``(completion: str, solution, **meta) -> float``.

The built-in rewards register when ``videorft.rewards`` (whose ``__init__`` imports rules and caption) loads,
which any import of this module does first.
"""

from __future__ import annotations

from collections.abc import Callable

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
    try:
        return _REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; valid rewards: {', '.join(sorted(_REWARDS))}") from None


def reward_names() -> list[str]:
    """Sorted names of all registered rewards."""
    return sorted(_REWARDS)

"""Reward library of VideoChat-R1 and Video-R1.

Rule rewards are pure functions ``(completion: str, solution, **meta) -> float`` found by name
(:func:`get_reward`); a task's reward is a weighted composition of them (:func:`get_task_reward`).
Judges for caption recall live in :mod:`videorft.rewards.judges`, the TRL adapter in
:mod:`videorft.rewards.trl`. See docs/rewards.md.
"""

from videorft.rewards import caption, rules  # noqa: F401  (registers the built-in rewards)
from videorft.rewards.registry import get_reward, register_reward, reward_names
from videorft.rewards.solutions import SolutionError
from videorft.rewards.tasks import (
    TaskReward,
    TaskSpec,
    canonical_task,
    get_task,
    get_task_reward,
    normalize_solution,
    register_task,
    score,
    task_names,
)

__all__ = [
    "SolutionError",
    "TaskReward",
    "TaskSpec",
    "canonical_task",
    "get_reward",
    "get_task",
    "get_task_reward",
    "normalize_solution",
    "register_reward",
    "register_task",
    "reward_names",
    "score",
    "task_names",
]

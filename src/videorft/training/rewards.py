"""Reward columns ``VideoGRPOTrainer`` fills itself (the task reward is ``videorft.rewards.trl.TaskRewardFunction``)."""

from __future__ import annotations

from typing import Any


def temporal_bonus_placeholder(prompts: list, completions: list, **_: Any) -> list[float]:
    """Column for T-GRPO's bonus: TRL allocates and logs it; ``VideoGRPOTrainer`` fills it per prompt group."""
    return [0.0] * len(completions)


temporal_bonus_placeholder.__name__ = "temporal_bonus"


def length_bonus_placeholder(prompts: list, completions: list, **_: Any) -> list[float]:
    """Column for Video-R1's length reward (``len_control``): ``VideoGRPOTrainer`` fills it per prompt group."""
    return [0.0] * len(completions)


length_bonus_placeholder.__name__ = "length_bonus"

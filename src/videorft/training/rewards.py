"""Reward functions in TRL's calling convention for mixed-task batches."""

from __future__ import annotations

import json
from typing import Any

from videorft.data.loaders import decode_solution
from videorft.rewards import get_task_reward
from videorft.rewards.tasks import check_reward_options


def completion_text(completion: Any) -> str:
    """TRL passes plain strings or conversational ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") if isinstance(m.get("content"), str) else "" for m in completion)
    return str(completion)


class TaskRewardFunction:
    """Each sample's ``task`` column picks its reward composition (R_st, R_qa, R_gqa, R_cap).

    Logs every component as ``rewards/<task>/<component>`` and keeps the accuracy component of the last call
    (``last_accuracy``), which T-GRPO compares against the shuffled-frame answers.
    """

    __name__ = "task_reward"

    def __init__(
        self,
        use_format: bool = True,
        judge: str = "offline",
        think: bool = True,
        reward_options: dict[str, Any] | None = None,
    ) -> None:
        self.use_format = use_format
        self.think = think  # format with <think> (default) or the answer-only variant (prompt_style no_think)
        # Switches reproducing the original reward code (VideoDataArguments.reward_options()).
        self.reward_options = check_reward_options(reward_options)
        self.judge_name = judge
        self._judge: Any = None
        self.last_accuracy: list[float] = []

    @property
    def judge(self) -> Any:
        if self._judge is None:  # the MiniLM judge loads ~90 MB: only when a caption sample shows up
            from videorft.rewards.judges import get_judge

            self._judge = get_judge(self.judge_name)
        return self._judge

    def score(self, task: str, completion: str, solution: Any, meta: dict[str, Any]) -> dict[str, float]:
        reward = get_task_reward(task, think=self.think, reward_options=self.reward_options)
        judge = self.judge if task == "caption" else None
        return reward.score(completion, solution, judge=judge, use_format=self.use_format, **meta)

    def accuracy(self, task: str, completion: str, solution: Any, meta: dict[str, Any]) -> float:
        return float(
            self.score(task, completion, solution, meta)[
                get_task_reward(task, think=self.think).accuracy_component
            ]
        )

    def __call__(
        self,
        prompts: list,
        completions: list,
        task: list[str],
        solution: list[Any],
        meta: list[Any] | None = None,
        log_metric: Any = None,
        **_: Any,
    ) -> list[float]:
        totals, accuracy = [], []
        metas = meta or [None] * len(completions)
        for comp, t, sol, m in zip(completions, task, solution, metas, strict=True):
            m = json.loads(m) if isinstance(m, str) else (m or {})
            scores = self.score(t, completion_text(comp), decode_solution(sol), m)
            totals.append(scores["total"])
            accuracy.append(float(scores[get_task_reward(t, think=self.think).accuracy_component]))
            if log_metric is not None:
                for name, value in scores.items():
                    log_metric(f"rewards/{t}/{name}", float(value))
        self.last_accuracy = accuracy
        return totals


def temporal_bonus_placeholder(prompts: list, completions: list, **_: Any) -> list[float]:
    """Column for T-GRPO's bonus: TRL allocates and logs it; ``VideoGRPOTrainer`` fills it per prompt group."""
    return [0.0] * len(completions)


temporal_bonus_placeholder.__name__ = "temporal_bonus"


def length_bonus_placeholder(prompts: list, completions: list, **_: Any) -> list[float]:
    """Column for Video-R1's length reward (``len_control``): ``VideoGRPOTrainer`` fills it per prompt group."""
    return [0.0] * len(completions)


length_bonus_placeholder.__name__ = "length_bonus"

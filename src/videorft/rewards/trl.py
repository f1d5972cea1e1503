"""TRL adapter: task rewards as a ``GRPOTrainer`` reward function (the one ``VideoGRPOTrainer`` uses).

>>> f = TaskRewardFunction("multiple_choice")
>>> f(prompts=["q"], completions=["<think>x</think><answer>B</answer>"], solution=["B"])
[2.0]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from videorft.rewards.caption import prefetch_captions
from videorft.rewards.solutions import SolutionError
from videorft.rewards.tasks import (
    TaskReward,
    canonical_task,
    check_reward_options,
    get_task_reward,
    reward_meta,
)

__all__ = ["TaskRewardFunction", "completion_text"]


def completion_text(completion: Any) -> str:
    """Text of a plain-text or conversational completion (the assistant messages' text joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, list):
        parts = []
        for msg in completion:
            content = msg.get("content") if isinstance(msg, Mapping) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
                parts.extend(
                    p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
                )
        return "".join(parts)
    raise TypeError(f"completion must be a str or a list of chat messages, got {type(completion).__name__}")


class TaskRewardFunction:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float | None]``.

    ``task=None`` reads each sample's ``task`` column (or Video-R1's ``problem_type``, VideoChat-R1's
    ``data_type``); with a fixed ``task``, samples of other tasks get None (TRL: not applicable).
    ``component=None`` returns the weighted total, else that component's value. The ``solution`` column
    holds solutions (JSON text with ``json_solutions=True``, as in videorft's datasets); every other
    per-sample column reaches the rewards as meta (:func:`~videorft.rewards.tasks.reward_meta`).
    ``judge`` is a judge object or a registered judge name, built on the first caption sample; None
    uses the shared offline judge. Component values are logged through TRL's ``log_metric`` as
    ``rewards/<task>/<component>``; ``last_accuracy`` keeps the accuracy component of the last call
    (what T-GRPO and the length bonus compare). ``reward_options``: ``tasks.REWARD_OPTIONS``.
    """

    def __init__(
        self,
        task: str | None = None,
        component: str | None = None,
        *,
        weights: Mapping[str, float] | None = None,
        think: bool = True,
        judge: Any = None,
        use_format: bool = True,
        log_components: bool = True,
        reward_options: Mapping[str, Any] | None = None,
        json_solutions: bool = False,
    ) -> None:
        self.weights, self.think, self.use_format = weights, think, use_format
        self.log_components, self.json_solutions = log_components, json_solutions
        self.reward_options = check_reward_options(reward_options)
        self._judge = judge
        self._rewards: dict[str, TaskReward] = {}
        self.task = canonical_task(task) if task is not None else None
        self.component = component
        if self.task is not None and component is not None:
            self.reward(self.task).component(component)  # fail now, not at the first batch
        self.__name__ = "_".join(["task_reward", *(s for s in (self.task, component) if s)])
        self.last_accuracy: list[float] = []

    @property
    def judge(self) -> Any:
        if isinstance(self._judge, str):  # the MiniLM judge loads ~90 MB: only when a caption shows up
            from videorft.rewards.judges import get_judge

            self._judge = get_judge(self._judge)
        return self._judge

    def reward(self, task: str) -> TaskReward:
        """The composition of ``task`` with this function's weights, think style and options."""
        if task not in self._rewards:
            self._rewards[task] = get_task_reward(
                task, weights=self.weights, think=self.think, reward_options=self.reward_options
            )
        return self._rewards[task]

    def score(self, task: str, completion: str, solution: Any, meta: Mapping[str, Any]) -> dict[str, float]:
        """Every component of one completion plus ``"total"``; ``meta``: a record's meta or a row's fields."""
        reward = self.reward(task)
        judge = self.judge if "recall" in reward.functions else None
        return reward.score(
            completion, solution, judge=judge, use_format=self.use_format, **reward_meta(meta)
        )

    def accuracy(self, task: str, completion: str, solution: Any, meta: Mapping[str, Any]) -> float:
        """The accuracy component of one completion (T-GRPO's shuffled-frame answers)."""
        return float(self.score(task, completion, solution, meta)[self.reward(task).accuracy_component])

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        if "solution" not in columns:
            raise KeyError("the dataset has no 'solution' column, which the videorft rewards need")
        solutions = columns["solution"]
        if self.json_solutions:
            solutions = [json.loads(s) if isinstance(s, str) else s for s in solutions]
        per_sample = {k: v for k, v in columns.items() if isinstance(v, list) and len(v) == n}
        # the task: our `task`, Video-R1's `problem_type`, or VideoChat-R1's `data_type` ("tg",
        # "tracking", "gqa"; Video-R1 uses data_type for "video"/"image", so it comes last)
        task_col = next(
            (per_sample[k] for k in ("task", "problem_type", "data_type") if k in per_sample), None
        )
        texts = [completion_text(c) for c in completions]
        plans: list[TaskReward | None] = []
        for i in range(n):
            own = canonical_task(task_col[i]) if task_col is not None and task_col[i] is not None else None
            if self.task is not None:
                plans.append(self.reward(self.task) if own in (None, self.task) else None)
            elif own is None:
                raise KeyError(f"sample {i}: no 'task' (or 'problem_type') column and no task given")
            else:
                plans.append(self.reward(own))
        captions = [(t, s) for p, t, s in zip(plans, texts, solutions) if p and "recall" in p.functions]
        if captions:  # the judge is built (a ~90 MB load for the offline one) only when captions show up
            prefetch_captions(self.judge, captions)
        out: list[float | None] = []
        self.last_accuracy = []
        log_metric = columns.get("log_metric") if self.log_components and self.component is None else None
        for i, plan in enumerate(plans):
            if plan is None:
                out.append(None)
                self.last_accuracy.append(math.nan)  # stays aligned with the batch
                continue
            try:
                values = self.score(
                    plan.task, texts[i], solutions[i], {k: v[i] for k, v in per_sample.items()}
                )
            except SolutionError as exc:
                raise SolutionError(f"sample {i}: {exc.reason}", field=exc.field) from None
            out.append(values["total"] if self.component is None else values[self.component])
            self.last_accuracy.append(float(values[plan.accuracy_component]))
            if callable(log_metric):  # TRL averages what is logged over the logging step
                for name, value in values.items():
                    log_metric(f"rewards/{plan.task}/{name}", float(value))
        return out

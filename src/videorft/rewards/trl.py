"""TRL adapter: task rewards as ``GRPOTrainer`` reward functions.

>>> f = make_reward_func("multiple_choice")
>>> f(prompts=["q"], completions=["<think>x</think><answer>B</answer>"], solution=["B"])
[2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from videorft.rewards.caption import caption_judge_inputs
from videorft.rewards.solutions import SolutionError
from videorft.rewards.tasks import (
    TaskReward,
    canonical_task,
    check_reward_options,
    get_task_reward,
    reward_meta,
)

__all__ = ["make_reward_func", "completion_text"]

# Columns TRL passes that are not per-sample metadata for the rewards.
_RESERVED = {
    "prompt",
    "prompts",
    "completion",
    "completions",
    "completion_ids",
    "solution",
    "task",
    "judge",
    "use_format",
}


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


def make_reward_func(
    task: str | None = None,
    component: str | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    think: bool = True,
    judge: Any = None,
    use_format: bool = True,
    log_components: bool = True,
    reward_options: Mapping[str, Any] | None = None,
) -> Callable[..., list[float | None]]:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float | None]``.

    ``task=None`` reads each sample's ``task`` column (or Video-R1's ``problem_type``); with a
    fixed ``task`` and a ``task`` column, samples of other tasks get None (TRL: not applicable).
    ``component=None`` returns the weighted total, else that component's value. The ``solution``
    column holds solutions; other per-sample columns (e.g. ``duration``) reach the rewards as meta.
    When TRL passes ``log_metric``, component means are logged as ``rewards/<task>/<component>``.
    ``reward_options`` are the reward switches (``tasks.REWARD_OPTIONS``, e.g. ``{"original_rule": True}``).
    """
    options = check_reward_options(reward_options)
    fixed = (
        get_task_reward(task, weights=weights, think=think, reward_options=options)
        if task is not None
        else None
    )
    if fixed is not None and component is not None:
        fixed.component(component)  # fail now, not at the first batch
    rewards: dict[str, TaskReward] = {}

    def reward_for(name: str) -> TaskReward:
        if name not in rewards:
            rewards[name] = get_task_reward(name, weights=weights, think=think, reward_options=options)
        return rewards[name]

    def reward_func(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        if "solution" not in columns:
            raise KeyError("the dataset has no 'solution' column, which the videorft rewards need")
        per_sample = {
            k: v for k, v in columns.items() if k not in _RESERVED and isinstance(v, list) and len(v) == n
        }
        # the task: our `task`, Video-R1's `problem_type`, or VideoChat-R1's `data_type` ("tg",
        # "tracking", "gqa"; Video-R1 uses data_type for "video"/"image", so it comes last)
        task_col = next(
            (columns[k] for k in ("task", "problem_type", "data_type") if isinstance(columns.get(k), list)),
            None,
        )
        texts = [completion_text(c) for c in completions]
        plans: list[TaskReward | None] = []
        for i in range(n):
            own = (
                canonical_task(task_col[i])
                if isinstance(task_col, list) and task_col[i] is not None
                else None
            )
            if fixed is not None:
                plans.append(fixed if own is None or own == fixed.task else None)
            elif own is None:
                raise KeyError(
                    f"sample {i}: no 'task' (or 'problem_type') column and no task given to make_reward_func"
                )
            else:
                plans.append(reward_for(own))
        _prefetch_captions(plans, texts, columns["solution"], judge)
        out: list[float | None] = []
        logged: dict[str, list[float]] = {}
        for i, plan in enumerate(plans):
            if plan is None:
                out.append(None)
                continue
            meta = reward_meta({k: v[i] for k, v in per_sample.items()})
            if "duration" not in meta and _is_number(meta.get("durations")):
                meta["duration"] = meta.pop("durations")  # VideoChat-R1's column name
            try:
                if component is None:
                    values = plan.score(
                        texts[i], columns["solution"][i], judge=judge, use_format=use_format, **meta
                    )
                    out.append(values["total"])
                    for c, v in values.items():
                        logged.setdefault(f"rewards/{plan.task}/{c}", []).append(v)
                else:
                    out.append(
                        plan.component(component)(
                            texts[i], columns["solution"][i], judge=judge, **{**meta, **options}
                        )
                    )
            except SolutionError as exc:
                raise SolutionError(f"sample {i}: {exc.reason}", field=exc.field) from None
        log_metric = columns.get("log_metric")
        if log_components and component is None and callable(log_metric):
            for name, vals in logged.items():
                log_metric(name, sum(vals) / len(vals))
        return out

    reward_func.__name__ = f"videorft_{(fixed.task if fixed else 'task')}_{component or 'total'}"
    reward_func.__qualname__ = reward_func.__name__
    return reward_func


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prefetch_captions(
    plans: list[TaskReward | None], texts: list[str], solutions: list[Any], judge: Any
) -> None:
    """Ask the judge about every caption of the batch at once (concurrent requests / one embedding pass)."""
    items = []
    for plan, text, sol in zip(plans, texts, solutions):
        if plan is not None and "recall" in plan.functions:
            inputs = caption_judge_inputs(text, sol)
            if inputs is not None:
                items.append((list(inputs[0]), inputs[1]))
    if len(items) > 1:
        if judge is None:
            from videorft.rewards.judges import default_judge

            judge = default_judge()
        if hasattr(judge, "entails_many"):
            judge.entails_many(items)

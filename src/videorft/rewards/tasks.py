"""Per-task reward compositions: R_st, R_qa, R_gqa and R_cap as weighted sums of named components."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from videorft.rewards.registry import get_reward

__all__ = [
    "TaskReward",
    "TASK_COMPONENTS",
    "canonical_task",
    "task_names",
    "get_task_reward",
    "score",
    "REWARD_OPTIONS",
    "check_reward_options",
    "reward_meta",
]

#: task -> (component -> registered reward), accuracy component used by T-GRPO. "format" first.
TASK_COMPONENTS: dict[str, tuple[dict[str, str], str]] = {
    "temporal_grounding": ({"format": "format", "iou": "temporal_iou"}, "iou"),
    "tracking": ({"format": "format_tracking", "iou": "tracking_iou"}, "iou"),
    "multiple_choice": ({"format": "format", "accuracy": "mc_accuracy"}, "accuracy"),
    "numerical": ({"format": "format", "accuracy": "numerical_accuracy"}, "accuracy"),
    "ocr": ({"format": "format", "accuracy": "ocr_accuracy"}, "accuracy"),
    "free_form": ({"format": "format", "accuracy": "free_form_accuracy"}, "accuracy"),
    "regression": ({"format": "format", "accuracy": "regression_accuracy"}, "accuracy"),
    "quality": ({"format": "format", "accuracy": "quality_accuracy"}, "accuracy"),
    "grounding_qa": ({"format": "format_glue", "iou": "gqa_iou", "accuracy": "gqa_accuracy"}, "accuracy"),
    "caption": ({"format": "format", "recall": "caption_recall"}, "recall"),
}

_NO_THINK = {
    "format": "format_nothink",
    "format_glue": "format_glue_nothink",
    "format_tracking": "format_tracking_nothink",
}

# Video-R1 problem_type spellings and other common names, after normalisation (lower, '_' joins).
_ALIASES = {
    "multiple_choice": "multiple_choice",
    "mc": "multiple_choice",
    "mcq": "multiple_choice",
    "multi_choice": "multiple_choice",
    "free_form": "free_form",
    "freeform": "free_form",
    "open_ended": "free_form",
    "ocr": "ocr",
    "numerical": "numerical",
    "numeric": "numerical",
    "regression": "regression",
    "temporal_grounding": "temporal_grounding",
    "tg": "temporal_grounding",
    "tracking": "tracking",
    "quality": "quality",
    "quality_assessment": "quality",
    "grounding_qa": "grounding_qa",
    "gqa": "grounding_qa",
    "caption": "caption",
    "captioning": "caption",
}


#: Keyword switches of the rule rewards that reproduce the original reward code (docs/deviations.md,
#: "Rewards"); a reward ignores the ones it does not take. Name -> allowed values.
REWARD_OPTIONS: dict[str, tuple[Any, ...]] = {
    "original_rule": (False, True),
    "answer_block": ("first", "last"),
    "clip_to_duration": (True, False),
}


def check_reward_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` as a dict after checking every name and value against :data:`REWARD_OPTIONS`."""
    out = dict(options or {})
    for name, value in out.items():
        if name not in REWARD_OPTIONS:
            raise ValueError(f"unknown reward option {name!r}; valid options: {', '.join(REWARD_OPTIONS)}")
        allowed = REWARD_OPTIONS[name]
        if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
            raise ValueError(
                f"reward option {name}={value!r}: expected one of {', '.join(map(repr, allowed))}"
            )
    return out


def task_names() -> list[str]:
    """Canonical task names."""
    return list(TASK_COMPONENTS)


def canonical_task(name: str) -> str:
    """Canonical task name for ``name`` ("multiple choice", "OCR", "free-form", ... are aliases)."""
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}") from None


@dataclass(frozen=True)
class TaskReward:
    """A task's reward: ``total = sum(weight[c] * component[c])``.

    ``components`` maps component name -> weight; ``functions`` maps component name -> registered
    reward; ``accuracy_component`` is what T-GRPO and the length bonus treat as accuracy;
    ``reward_options`` are reward switches (:data:`REWARD_OPTIONS`) passed to every component.
    """

    task: str
    components: dict[str, float]
    functions: dict[str, str]
    accuracy_component: str
    reward_options: dict[str, Any] = field(default_factory=dict)
    _resolved: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_reward_options(self.reward_options)
        for name, fn in self.functions.items():
            self._resolved[name] = get_reward(fn)

    def component(self, name: str) -> Any:
        """The reward function of one component."""
        try:
            return self._resolved[name]
        except KeyError:
            raise KeyError(
                f"task {self.task!r} has no component {name!r}; components: {', '.join(self.functions)}"
            ) from None

    def score(
        self, completion: str, solution: Any, *, judge: Any = None, use_format: bool = True, **meta: Any
    ) -> dict[str, float]:
        """Every component value plus ``"total"`` (weighted sum); ``use_format=False`` drops "format"."""
        out: dict[str, float] = {}
        total = 0.0
        for name, weight in self.components.items():
            if name == "format" and not use_format:
                continue
            # Rule rewards ignore ``judge``; caption recall needs it.
            value = self._resolved[name](completion, solution, judge=judge, **{**meta, **self.reward_options})
            out[name] = value
            total += weight * value
        out["total"] = total
        return out


def get_task_reward(
    task: str,
    *,
    weights: Mapping[str, float] | None = None,
    think: bool = True,
    reward_options: Mapping[str, Any] | None = None,
) -> TaskReward:
    """The reward composition of ``task`` (aliases accepted).

    ``weights`` overrides component weights (default 1 each); ``think=False`` uses the format
    variants without a think block; ``reward_options`` are reward switches (:data:`REWARD_OPTIONS`,
    e.g. ``{"original_rule": True}``) given to every component.
    """
    name = canonical_task(task)
    functions, accuracy = TASK_COMPONENTS[name]
    comp_weights = {c: 1.0 for c in functions}
    for c, w in (weights or {}).items():
        if c not in comp_weights:
            raise ValueError(f"task {name!r} has no component {c!r}; components: {', '.join(comp_weights)}")
        comp_weights[c] = float(w)
    fns = dict(functions) if think else {c: _NO_THINK.get(f, f) for c, f in functions.items()}
    return TaskReward(name, comp_weights, fns, accuracy, check_reward_options(reward_options))


def score(
    task: str,
    completion: str,
    solution: Any,
    *,
    weights: Mapping[str, float] | None = None,
    think: bool = True,
    judge: Any = None,
    use_format: bool = True,
    reward_options: Mapping[str, Any] | None = None,
    **meta: Any,
) -> dict[str, float]:
    """Score one completion for ``task``: ``{"format": f, "<component>": v, ..., "total": t}``."""
    reward = get_task_reward(task, weights=weights, think=think, reward_options=reward_options)
    return reward.score(completion, solution, judge=judge, use_format=use_format, **meta)


#: Fields of a scored row that are not reward metadata.
RESERVED_FIELDS = frozenset(
    {"id", "task", "completion", "completions", "prompt", "prompts", "completion_ids", "solution", "rewards",
     "judge", "use_format"}
)  # fmt: skip


def reward_meta(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``**meta`` for a row: its fields minus the reserved ones, with a nested ``meta`` dict
    (``Record.meta``, e.g. ``duration``) flattened in; top-level fields win."""
    nested = fields.get("meta")
    out = {k: v for k, v in nested.items() if k not in RESERVED_FIELDS} if isinstance(nested, Mapping) else {}
    out.update((k, v) for k, v in fields.items() if k not in RESERVED_FIELDS and k != "meta")
    return out

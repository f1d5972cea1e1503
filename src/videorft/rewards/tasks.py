"""Tasks, registered in one place (:func:`register_task`): each task's reward composition (R_st, R_qa,
R_gqa, R_cap as weighted sums of named components), aliases, solution form, answer spelling and prompt.

Adding a task is one ``register_task`` call (here, or in your own module before loading data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from videorft.rewards import caption, rules  # noqa: F401  (register the rewards the tasks below name)
from videorft.rewards import solutions as sol
from videorft.rewards.registry import get_reward

__all__ = [
    "TaskSpec",
    "TaskReward",
    "register_task",
    "get_task",
    "canonical_task",
    "task_names",
    "normalize_solution",
    "get_task_reward",
    "score",
    "REWARD_OPTIONS",
    "check_reward_options",
    "reward_switches",
    "reward_meta",
]


@dataclass(frozen=True)
class TaskSpec:
    """Everything videorft knows about one task.

    ``components``: component -> registered reward ("format" first); ``accuracy``: the component T-GRPO
    and the length bonus read; ``solution``: validates a solution into its canonical form (raises
    ``SolutionError``); ``answer``: writes a canonical solution as the ``<answer>`` text its reward reads
    (SFT targets, CoT hints); ``template``: the default prompt template (a file in ``videorft/templates``).
    """

    name: str
    components: dict[str, str]
    accuracy: str
    solution: Callable[[Any], Any]
    answer: Callable[[Any], str] = str
    aliases: tuple[str, ...] = ()
    template: str = "reasoning.jinja"


_TASKS: dict[str, TaskSpec] = {}
_ALIASES: dict[str, str] = {}


def _alias_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def register_task(
    name: str,
    *,
    components: Mapping[str, str],
    accuracy: str,
    solution: Callable[[Any], Any],
    answer: Callable[[Any], str] = str,
    aliases: tuple[str, ...] = (),
    template: str = "reasoning.jinja",
) -> TaskSpec:
    """Register a task; its name and aliases must be new, its components registered rewards."""
    if accuracy not in components:
        raise ValueError(
            f"task {name!r}: accuracy component {accuracy!r} is not one of {', '.join(components)}"
        )
    for fn in components.values():
        get_reward(fn)  # unknown reward: the error lists the valid ones
    keys = {_alias_key(a) for a in (name, *aliases)}
    taken = sorted(k for k in keys if _ALIASES.get(k, name) != name)
    if taken or (name in _TASKS):
        raise ValueError(f"task {name!r}: name or alias already registered: {', '.join(taken) or name}")
    spec = TaskSpec(name, dict(components), accuracy, solution, answer, tuple(aliases), template)
    _TASKS[name] = spec
    _ALIASES.update(dict.fromkeys(keys, name))
    return spec


def task_names() -> list[str]:
    """Canonical task names, in registration order."""
    return list(_TASKS)


def canonical_task(name: str) -> str:
    """Canonical task name for ``name`` ("multiple choice", "OCR", "free-form", ... are aliases)."""
    try:
        return _ALIASES[_alias_key(name)]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}") from None


def get_task(name: str) -> TaskSpec:
    """The registered task ``name`` (aliases accepted); the error lists the valid tasks."""
    return _TASKS[canonical_task(name)]


def normalize_solution(task: str, solution: Any) -> Any:
    """Validate ``solution`` for ``task`` and return its canonical form (``SolutionError`` names the field)."""
    return get_task(task).solution(solution)


def _interval_answer(s: Any) -> str:
    return f"{float(s[0]):.2f} to {float(s[1]):.2f}"


def _boxes_answer(s: Any) -> str:
    return json.dumps([[round(float(v), 3) for v in box] for box in s])


def _caption_answer(s: Any) -> str:
    return " ".join(s["events"] if isinstance(s, dict) else [str(s)])


# fmt: off
register_task("temporal_grounding", components={"format": "format", "iou": "temporal_iou"}, accuracy="iou",
              solution=sol.as_interval, answer=_interval_answer, aliases=("tg",), template="grounding.jinja")
register_task("tracking", components={"format": "format_tracking", "iou": "tracking_iou"}, accuracy="iou",
              solution=sol.as_boxes, answer=_boxes_answer, template="tracking.jinja")
register_task("multiple_choice", components={"format": "format", "accuracy": "mc_accuracy"}, accuracy="accuracy",
              solution=sol.as_letter, aliases=("mc", "mcq", "multi_choice"))
register_task("numerical", components={"format": "format", "accuracy": "numerical_accuracy"}, accuracy="accuracy",
              solution=sol.as_number, aliases=("numeric",))
register_task("ocr", components={"format": "format", "accuracy": "ocr_accuracy"}, accuracy="accuracy",
              solution=sol.as_text)
register_task("free_form", components={"format": "format", "accuracy": "free_form_accuracy"}, accuracy="accuracy",
              solution=sol.as_text, aliases=("freeform", "open_ended"))
register_task("regression", components={"format": "format", "accuracy": "regression_accuracy"},
              accuracy="accuracy", solution=sol.as_number)
register_task("quality", components={"format": "format", "accuracy": "quality_accuracy"}, accuracy="accuracy",
              solution=sol.as_text, aliases=("quality_assessment",), template="quality.jinja")
register_task("grounding_qa",
              components={"format": "format_glue", "iou": "gqa_iou", "accuracy": "gqa_accuracy"},
              accuracy="accuracy", solution=sol.as_gqa, answer=lambda s: str(s["answer"]), aliases=("gqa",),
              template="grounding_qa.jinja")
register_task("caption", components={"format": "format", "recall": "caption_recall"}, accuracy="recall",
              solution=sol.as_events, answer=_caption_answer, aliases=("captioning",), template="caption.jinja")
# fmt: on

_NO_THINK = {
    "format": "format_nothink",
    "format_glue": "format_glue_nothink",
    "format_tracking": "format_tracking_nothink",
}


#: Keyword switches of the rule rewards that reproduce the original reward code (docs/deviations.md,
#: "Rewards"); a reward ignores the ones it does not take. Name -> allowed values.
REWARD_OPTIONS: dict[str, tuple[Any, ...]] = {
    "original_rule": (False, True),
    "answer_block": ("first", "last"),
    "clip_to_duration": (True, False),
}


def reward_switches(original_rule: bool, answer_block: str | None, clip_to_duration: bool) -> dict[str, Any]:
    """The reward switches set away from their defaults (what a config or the score flags pass on)."""
    given = {
        "original_rule": original_rule,
        "answer_block": answer_block,
        "clip_to_duration": clip_to_duration,
    }
    defaults = {"original_rule": False, "answer_block": None, "clip_to_duration": True}
    return {name: value for name, value in given.items() if value != defaults[name]}


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
    spec = get_task(task)
    name, functions, accuracy = spec.name, spec.components, spec.accuracy
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


#: Fields of a row that are not reward metadata.
RESERVED_FIELDS = frozenset(
    {"id", "task", "completion", "completions", "prompt", "prompts", "completion_ids", "solution", "rewards",
     "judge", "use_format"}
)  # fmt: skip


def reward_meta(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``**meta`` of one row: the one rule of the TRL adapter, `videorft score`, metrics, verl and CoT.

    The row's fields minus the reserved ones, with a nested ``meta`` (``Record.meta``: a dict, or JSON
    text as in videorft's datasets) flattened in; top-level fields win. VideoChat-R1's ``durations``
    stands for ``duration``. Reward options (``REWARD_OPTIONS``) are applied after, and win over both.
    """
    nested = fields.get("meta")
    if isinstance(nested, str) and nested:
        nested = json.loads(nested)
    out = {k: v for k, v in nested.items() if k not in RESERVED_FIELDS} if isinstance(nested, Mapping) else {}
    out.update((k, v) for k, v in fields.items() if k not in RESERVED_FIELDS and k != "meta")
    durations = out.get("durations")
    if "duration" not in out and isinstance(durations, int | float) and not isinstance(durations, bool):
        out["duration"] = out.pop("durations")  # VideoChat-R1's column name
    return out

"""Benchmark metrics per task, on `videorft score` input rows (see ``predictions.py``).

Every per-item value comes from the rewards' parsers and reward functions, so a metric and the
reward a model was trained on never disagree about what an answer says. Values are fractions
in [0, 1]; each task's dict also carries ``n`` (items) and ``n_unparsed`` (items whose answer
could not be parsed; they count as wrong).

>>> rows = [{"task": "multiple_choice", "completion": "<answer>B</answer>", "solution": "B"},
...         {"task": "multiple_choice", "completion": "no idea", "solution": "C"}]
>>> compute_metrics(rows)["multiple_choice"]
{'accuracy': 0.5, 'n': 2, 'n_unparsed': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.errors import DataError, SkipReport
from videorft.evaluation.geometry import mean_relative_accuracy, nextgqa_best_overlap, span_hull
from videorft.evaluation.predictions import row_meta
from videorft.rewards import rules
from videorft.rewards.parsing import extract_answer, extract_letter, last_block, parse_number, parse_time_pair
from videorft.rewards.parsing import parse_number_groups as _groups
from videorft.rewards.registry import get_reward
from videorft.rewards.solutions import SolutionError, normalize_solution


@dataclass(frozen=True)
class ItemScore:
    """One prediction scored: ``values`` feed the task's aggregate; ``primary`` is the per-item
    headline score (what the probe compares across frame orders)."""

    parsed: bool
    primary: float
    values: dict[str, Any] = field(default_factory=dict)


ItemScorer = Callable[[str, Any, Mapping[str, Any]], ItemScore]
Aggregator = Callable[[Sequence[ItemScore]], dict[str, float]]


@dataclass(frozen=True)
class TaskMetric:
    """How one task is scored: per item, then over items. ``primary`` names the headline metric."""

    task: str
    primary: str
    score_item: ItemScorer
    aggregate: Aggregator


_METRICS: dict[str, TaskMetric] = {}


def register_task_metric(metric: TaskMetric) -> TaskMetric:
    if metric.task in _METRICS:
        raise ValueError(f"a metric for task {metric.task!r} is already registered")
    _METRICS[metric.task] = metric
    return metric


def get_task_metric(task: str) -> TaskMetric:
    """The metric of a canonical task; the error lists the valid names."""
    try:
        return _METRICS[task]
    except KeyError:
        raise KeyError(f"no metric for task {task!r}; valid tasks: {', '.join(sorted(_METRICS))}") from None


def metric_tasks() -> list[str]:
    return sorted(_METRICS)


# ------------------------------------------------------------------------------------------- helpers


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _share(flags: Sequence[bool]) -> float:
    return sum(1 for f in flags if f) / len(flags) if flags else 0.0


def _answer(completion: str) -> str | None:
    return extract_answer(completion)


def _mean_of(key: str) -> Aggregator:
    return lambda items: {key: _mean([it.primary for it in items])}


# --------------------------------------------------------------------------------- temporal grounding

GROUNDING_THRESHOLDS = (0.3, 0.5, 0.7)


def _grounding_item(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
    answer = last_block(completion, "answer")
    pair = None if answer is None else parse_time_pair(answer)
    # The reward itself turns a swapped pair into 0; here it also counts as unparsed.
    parsed = pair is not None and pair[0] <= pair[1]
    iou = get_reward("temporal_iou")(completion, solution, **meta)
    return ItemScore(parsed, iou, {"iou": iou})


def _grounding_aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    ious = [it.values["iou"] for it in items]
    out = {"mIoU": _mean(ious)}
    for k in GROUNDING_THRESHOLDS:
        out[f"R@{k}"] = _share([iou >= k for iou in ious])
    return out


register_task_metric(TaskMetric("temporal_grounding", "mIoU", _grounding_item, _grounding_aggregate))


# ------------------------------------------------------------------------------------------ tracking


def _tracking_item(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
    gt = normalize_solution("tracking", solution)
    answer = last_block(completion, "answer")
    pred = None if answer is None else _groups(answer)
    parsed = bool(pred) and all(len(p) == 4 for p in pred)
    # The prompt gives the first frame's box, so like the GOT-10k toolkit (which drops frame 0)
    # it is not scored; with no first_box in meta every frame counts.
    first = 1 if meta.get("first_box") is not None and len(gt) > 1 else 0
    ious = []
    for i in range(first, len(gt)):
        p = pred[i] if pred and i < len(pred) else None
        ok = p is not None and len(p) == 4 and p[0] <= p[2] and p[1] <= p[3]
        ious.append(rules.box_iou(p, gt[i]) if ok else 0.0)
    return ItemScore(parsed, _mean(ious), {"ious": ious})


def _tracking_aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    # GOT-10k: AO and SR are frame-level over the frames of all sequences, SR with a strict ">".
    ious = [iou for it in items for iou in it.values["ious"]]
    return {
        "AO": _mean(ious),
        "SR@0.5": _share([i > 0.5 for i in ious]),
        "SR@0.75": _share([i > 0.75 for i in ious]),
    }


register_task_metric(TaskMetric("tracking", "AO", _tracking_item, _tracking_aggregate))


# -------------------------------------------------------------------------------------- grounding QA


def _gqa_item(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
    _, gt_intervals = normalize_solution("grounding_qa", solution)
    letter = extract_letter(_answer(completion) or "")
    correct = get_reward("gqa_accuracy")(completion, solution, **meta)
    pred = rules._glue_intervals(completion)
    if pred:
        # NExT-GQA scores one predicted span: several glue intervals are covered by their hull.
        iou, iop = nextgqa_best_overlap(span_hull(pred), gt_intervals)
    else:
        iou, iop = 0.0, 0.0
    parsed = letter is not None and bool(pred)
    return ItemScore(parsed, correct, {"correct": correct, "iou": iou, "iop": iop})


def _gqa_aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    v = [it.values for it in items]
    return {
        "Acc": _mean([x["correct"] for x in v]),
        "mIoU": _mean([x["iou"] for x in v]),
        "mIoP": _mean([x["iop"] for x in v]),
        "IoU@0.3": _share([x["iou"] >= 0.3 for x in v]),
        "IoU@0.5": _share([x["iou"] >= 0.5 for x in v]),
        "IoP@0.3": _share([x["iop"] >= 0.3 for x in v]),
        "IoP@0.5": _share([x["iop"] >= 0.5 for x in v]),
        "Acc@GQA": _share([x["correct"] >= 1.0 and x["iop"] >= 0.5 for x in v]),
    }


register_task_metric(TaskMetric("grounding_qa", "Acc", _gqa_item, _gqa_aggregate))


# ------------------------------------------------------------------------------ accuracy-type tasks


def _accuracy_item(reward: str, parse: Callable[[str], Any]) -> ItemScorer:
    def score(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
        value = get_reward(reward)(completion, solution, **meta)
        answer = _answer(completion)
        return ItemScore(answer is not None and parse(answer) is not None, value)

    return score


def _nonempty(answer: str) -> str | None:
    return answer or None


register_task_metric(
    TaskMetric(
        "multiple_choice", "accuracy", _accuracy_item("mc_accuracy", extract_letter), _mean_of("accuracy")
    )
)
register_task_metric(
    TaskMetric(
        "numerical", "accuracy", _accuracy_item("numerical_accuracy", parse_number), _mean_of("accuracy")
    )
)
register_task_metric(
    TaskMetric("quality", "accuracy", _accuracy_item("quality_accuracy", _nonempty), _mean_of("accuracy"))
)


def _regression_item(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
    truth = normalize_solution("regression", solution)
    answer = _answer(completion)
    pred = None if answer is None else parse_number(answer)
    if pred is None:
        return ItemScore(False, 0.0)
    return ItemScore(True, mean_relative_accuracy(pred, truth))


register_task_metric(TaskMetric("regression", "MRA", _regression_item, _mean_of("MRA")))

# Text tasks: the mean of the task's answer reward (without the format part, so it stays in [0, 1]).
register_task_metric(
    TaskMetric("ocr", "reward", _accuracy_item("ocr_accuracy", _nonempty), _mean_of("reward"))
)
register_task_metric(
    TaskMetric("free_form", "reward", _accuracy_item("free_form_accuracy", _nonempty), _mean_of("reward"))
)


def _caption_item(completion: str, solution: Any, meta: Mapping[str, Any]) -> ItemScore:
    value = get_reward(CAPTION_REWARD)(completion, solution, **meta)
    answer = _answer(completion)
    return ItemScore(bool(answer), value)


#: The rewards' caption (event recall) reward used for the caption metric.
CAPTION_REWARD = "caption_recall"
register_task_metric(TaskMetric("caption", "reward", _caption_item, _mean_of("reward")))


# ------------------------------------------------------------------------------------ whole files


@dataclass
class ScoredRows:
    """Per-row scores in input order, grouped by task; rows with a bad solution are skipped."""

    by_task: dict[str, list[tuple[dict[str, Any], ItemScore]]] = field(default_factory=dict)
    skipped: list[SkipReport] = field(default_factory=list)


def score_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    source: str = "<rows>",
    skip_invalid: bool = False,
    lines: Sequence[int] | None = None,
    judge: Any = None,
) -> ScoredRows:
    """Score every row with its task's metric.

    A malformed row raises ``DataError`` naming ``source``, the row index (or the line from
    ``lines``) and the field; with ``skip_invalid`` it is skipped and listed in ``skipped``.
    ``judge`` is the caption reward's judge (None: the rewards' default offline judge).
    """
    out = ScoredRows()
    for index, row in enumerate(rows):
        where = (lines[index], "line") if lines is not None else (index, "record")
        task = row.get("task")
        if task not in _METRICS:
            err = DataError(
                source,
                where[0],
                "task",
                f"no metric for task {task!r}; valid tasks: {', '.join(sorted(_METRICS))}",
                unit=where[1],
            )
        else:
            try:
                meta = row_meta(dict(row))
                if task == "caption" and judge is not None:
                    meta["judge"] = judge
                item = _METRICS[task].score_item(row.get("completion") or "", row.get("solution"), meta)
            except SolutionError as exc:
                err = DataError(source, where[0], exc.field, exc.reason, unit=where[1])
            else:
                out.by_task.setdefault(task, []).append((dict(row), item))
                continue
        if not skip_invalid:
            raise err
        out.skipped.append(err.to_skip())
    return out


def aggregate(scored: ScoredRows) -> dict[str, dict[str, Any]]:
    """{task: {metric: value, ..., "n": count, "n_unparsed": count}} in canonical task order."""
    result: dict[str, dict[str, Any]] = {}
    for task in sorted(scored.by_task, key=_task_order):
        items = [item for _, item in scored.by_task[task]]
        values: dict[str, Any] = get_task_metric(task).aggregate(items)
        values["n"] = len(items)
        values["n_unparsed"] = sum(1 for it in items if not it.parsed)
        result[task] = values
    return result


def _task_order(task: str) -> int:
    from videorft.data.record import TASKS

    return TASKS.index(task) if task in TASKS else len(TASKS)


def compute_metrics(
    rows: Sequence[Mapping[str, Any]],
    *,
    source: str = "<rows>",
    skip_invalid: bool = False,
    judge: Any = None,
) -> dict[str, dict[str, Any]]:
    """Metrics per task of prediction rows (empty rows -> ``{}``)."""
    return aggregate(score_rows(rows, source=source, skip_invalid=skip_invalid, judge=judge))


def metrics_of_file(
    path: str | Path, *, skip_invalid: bool = False, judge: Any = None
) -> tuple[dict[str, dict[str, Any]], list[SkipReport]]:
    """Metrics of a predictions JSONL file, and the lines/rows skipped (``skip_invalid`` only)."""
    from videorft.evaluation.predictions import read_predictions

    pred = read_predictions(path, skip_invalid=skip_invalid)
    scored = score_rows(pred.rows, source=str(path), skip_invalid=skip_invalid, lines=pred.lines, judge=judge)
    return aggregate(scored), pred.skipped + scored.skipped


FRACTIONS_HEADER = "metrics as fractions (0-1), as in --json and metrics.json; x100 for percentages"


def format_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """A plain-text table: one line per task, values as fractions (0-1) with three decimals, the
    unit of ``--json`` and metrics.json (the header says so)."""
    if not metrics:
        return "no predictions"
    lines = [FRACTIONS_HEADER]
    width = max(len(t) for t in metrics)
    for task, values in metrics.items():
        cells = [f"{k} {v:.3f}" for k, v in values.items() if k not in ("n", "n_unparsed")]
        counts = f"n={values.get('n', 0)} unparsed={values.get('n_unparsed', 0)}"
        lines.append(f"{task:<{width}}  {'  '.join(cells)}  ({counts})")
    return "\n".join(lines)

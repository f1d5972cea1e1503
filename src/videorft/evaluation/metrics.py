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

from videorft.data.errors import DataError, FieldError, SkipReport
from videorft.evaluation.geometry import (
    MRA_RULES,
    got10k_box_iou,
    mean_relative_accuracy,
    nextgqa_best_overlap,
    span_hull,
)
from videorft.evaluation.predictions import read_predictions
from videorft.rewards import rules
from videorft.rewards.parsing import extract_answer, extract_letter, last_block, parse_number, parse_time_pair
from videorft.rewards.parsing import parse_number_groups as _groups
from videorft.rewards.registry import get_reward
from videorft.rewards.solutions import SolutionError, check_inside_video
from videorft.rewards.tasks import normalize_solution, reward_meta


@dataclass(frozen=True)
class ItemScore:
    """One prediction scored: ``values`` feed the task's aggregate; ``primary`` is the per-item
    headline score (what the probe compares across frame orders)."""

    parsed: bool
    primary: float
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricOptions:
    """Switches between the official evaluation code's arithmetic (the defaults) and ours.

    Every default reproduces the code that produced the published numbers; docs/deviations.md
    ("Evaluation") lists what each alternative changes.
    """

    #: VSI-Bench MRA rule, one of ``geometry.MRA_RULES`` ("vsibench": the official code).
    mra: str = "vsibench"
    #: Temporal grounding IoU: "reference" (VideoChat-R1's evaluate_grounding.py arithmetic, no
    #: clipping) or "reward" (the ``temporal_iou`` reward: both spans clipped to the duration).
    grounding_iou: str = "reference"
    #: GOT-10k boxes: "toolkit" (the got10k toolkit's bound: x, y clipped to the frame, then the
    #: width/height to what is left, so a box overflowing left/top is shifted, not cut) or "clip"
    #: (both corners clipped to the frame).
    tracking_bound: str = "toolkit"

    def __post_init__(self) -> None:
        for name, valid in (
            ("mra", MRA_RULES),
            ("grounding_iou", ("reference", "reward")),
            ("tracking_bound", ("toolkit", "clip")),
        ):
            if getattr(self, name) not in valid:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; valid: {', '.join(valid)}")


DEFAULT_OPTIONS = MetricOptions()

ItemScorer = Callable[[str, Any, Mapping[str, Any], MetricOptions], ItemScore]
Aggregator = Callable[[Sequence[ItemScore]], dict[str, float]]


@dataclass(frozen=True)
class TaskMetric:
    """How one task is scored: per item, then over items. ``primary`` names the headline metric."""

    task: str
    primary: str
    score_item: ItemScorer
    aggregate: Aggregator


_METRICS: dict[str, TaskMetric] = {}


def register_task_metric(
    task: str, primary: str, score_item: ItemScorer, aggregate: Aggregator | None = None
) -> TaskMetric:
    """Register ``task``'s metric; without ``aggregate`` it is the mean per-item score, named ``primary``."""
    if task in _METRICS:
        raise ValueError(f"a metric for task {task!r} is already registered")

    def mean(items: Sequence[ItemScore]) -> dict[str, float]:
        return {primary: _mean([it.primary for it in items])}

    _METRICS[task] = TaskMetric(task, primary, score_item, aggregate or mean)
    return _METRICS[task]


def get_task_metric(task: str) -> TaskMetric:
    """The metric of a canonical task; the error lists the valid names."""
    try:
        return _METRICS[task]
    except KeyError:
        raise KeyError(_unknown(task)) from None


def _unknown(task: Any) -> str:
    return f"no metric for task {task!r}; valid tasks: {', '.join(sorted(_METRICS))}"


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _share(flags: Sequence[bool]) -> float:
    return sum(1 for f in flags if f) / len(flags) if flags else 0.0


# --------------------------------------------------------------------------------- temporal grounding

GROUNDING_THRESHOLDS = (0.3, 0.5, 0.7)


def reference_interval_iou(pred: tuple[float, float], gt: tuple[float, float]) -> float:
    """IoU with the arithmetic of VideoChat-R1's ``evaluate_grounding.py`` (and the Charades-STA
    reference scripts): ``(min(e, e') - max(s, s')) / (max(e, e') - min(s, s'))``, not clamped, so
    ``R@m`` ties at exactly ``m`` fall the same way. A zero-length hull (the reference divides by
    zero and drops the item) gives 1 for identical points, else 0."""
    (sp, ep), (s, e) = pred, gt
    union = max(e, ep) - min(s, sp)
    if union <= 0:
        return 1.0 if (sp, ep) == (s, e) else 0.0
    return (min(e, ep) - max(s, sp)) / union


def _grounding_item(
    completion: str, solution: Any, meta: Mapping[str, Any], options: MetricOptions
) -> ItemScore:
    answer = last_block(completion, "answer")
    pair = None if answer is None else parse_time_pair(answer)
    # The reward itself turns a swapped pair into 0; here it also counts as unparsed.
    parsed = pair is not None and pair[0] <= pair[1]
    if options.grounding_iou == "reward":
        iou = get_reward("temporal_iou")(completion, solution, **meta)
        return ItemScore(parsed, iou, {"iou": iou, "raw_iou": iou})
    # Validation as in the reward (a ground truth after the video's end is a SolutionError).
    gt = check_inside_video(normalize_solution("temporal_grounding", solution), rules._duration(meta))
    raw = reference_interval_iou(pair, gt) if pair is not None else 0.0
    # The reference appends max(iou, 0) to its mean but compares the raw value with m.
    return ItemScore(parsed, max(raw, 0.0), {"iou": max(raw, 0.0), "raw_iou": raw})


def _grounding_aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    recall = {f"R@{k}": _share([k <= it.values["raw_iou"] for it in items]) for k in GROUNDING_THRESHOLDS}
    return {"mIoU": _mean([it.values["iou"] for it in items]), **recall}


register_task_metric("temporal_grounding", "mIoU", _grounding_item, _grounding_aggregate)


# ------------------------------------------------------------------------------------------ tracking


def _tracking_item(
    completion: str, solution: Any, meta: Mapping[str, Any], options: MetricOptions
) -> ItemScore:
    gt = normalize_solution("tracking", solution)
    answer = last_block(completion, "answer")
    pred = None if answer is None else _groups(answer)
    parsed = bool(pred) and all(len(p) == 4 for p in pred)
    # The prompt gives the first frame's box, so like the GOT-10k toolkit (which drops frame 0)
    # it is not scored; with no first_box in meta every frame counts.
    first = 1 if meta.get("first_box") is not None and len(gt) > 1 else 0
    box_iou = got10k_box_iou if options.tracking_bound == "toolkit" else rules.box_iou
    ious = []
    for i in range(first, len(gt)):
        p = pred[i] if pred and i < len(pred) else None
        ok = p is not None and len(p) == 4 and p[0] <= p[2] and p[1] <= p[3]
        ious.append(box_iou(p, gt[i]) if ok else 0.0)
    return ItemScore(parsed, _mean(ious), {"ious": ious})


def _tracking_aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    # GOT-10k: AO and SR are frame-level over the frames of all sequences, SR with a strict ">".
    ious = [iou for it in items for iou in it.values["ious"]]
    return {
        "AO": _mean(ious),
        "SR@0.5": _share([i > 0.5 for i in ious]),
        "SR@0.75": _share([i > 0.75 for i in ious]),
    }


register_task_metric("tracking", "AO", _tracking_item, _tracking_aggregate)


# -------------------------------------------------------------------------------------- grounding QA


def _glue_spans(completion: str) -> list[tuple[float, ...]] | None:
    """The ``<glue>`` intervals as written (negative or reversed ones kept), None if unparseable."""
    glue = last_block(completion, "glue")
    groups = None if glue is None or len(glue) > rules.MAX_ANSWER_CHARS else _groups(glue)
    if not groups or any(len(g) != 2 for g in groups):
        return None
    return groups


def _gqa_item(completion: str, solution: Any, meta: Mapping[str, Any], options: MetricOptions) -> ItemScore:
    _, gt_intervals = normalize_solution("grounding_qa", solution)
    letter = extract_letter(extract_answer(completion) or "")
    correct = get_reward("gqa_accuracy")(completion, solution, **meta)
    spans = _glue_spans(completion)
    # NExT-GQA's eval_ground scores one span as written: a negative start is measured as is, a
    # reversed span scores 0. Several glue intervals are covered by the hull of the ones that
    # are not reversed (a reversed one adds nothing, as it would score 0 on its own).
    forward = [sp for sp in spans or [] if sp[0] <= sp[1]]
    iou, iop = nextgqa_best_overlap(span_hull(forward), gt_intervals) if forward else (0.0, 0.0)
    parsed = letter is not None and spans is not None
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


register_task_metric("grounding_qa", "Acc", _gqa_item, _gqa_aggregate)


# ------------------------------------------------------------------------ accuracy-type and text tasks


def _regression_item(
    completion: str, solution: Any, meta: Mapping[str, Any], options: MetricOptions
) -> ItemScore:
    truth = normalize_solution("regression", solution)
    answer = extract_answer(completion)
    pred = None if answer is None else parse_number(answer)
    if pred is None:
        return ItemScore(False, 0.0)
    return ItemScore(True, mean_relative_accuracy(pred, truth, rule=options.mra))


register_task_metric("regression", "MRA", _regression_item)


def _reward_item(reward: str, parse: Callable[[str], Any]) -> ItemScorer:
    """The task's answer reward per item; parsed when the ``<answer>`` block parses with ``parse``."""

    def score(completion: str, solution: Any, meta: Mapping[str, Any], options: MetricOptions) -> ItemScore:
        value = get_reward(reward)(completion, solution, **meta)
        answer = extract_answer(completion)
        return ItemScore(answer is not None and parse(answer) is not None, value)

    return score


def _nonempty(answer: str) -> str | None:
    return answer or None


#: The rewards' caption (event recall) reward used for the caption metric.
CAPTION_REWARD = "caption_recall"
# Text tasks score the mean of the answer reward (without the format part, so it stays in [0, 1]).
for _task, _primary, _reward, _parse in (
    ("multiple_choice", "accuracy", "mc_accuracy", extract_letter),
    ("numerical", "accuracy", "numerical_accuracy", parse_number),
    ("quality", "accuracy", "quality_accuracy", _nonempty),
    ("ocr", "reward", "ocr_accuracy", _nonempty),
    ("free_form", "reward", "free_form_accuracy", _nonempty),
    ("caption", "reward", CAPTION_REWARD, _nonempty),
):
    register_task_metric(_task, _primary, _reward_item(_reward, _parse))


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
    unit: str = "line",
    judge: Any = None,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> ScoredRows:
    """Score every row with its task's metric. A malformed row raises ``DataError`` naming ``source``,
    the row (its index, or its line/record from ``lines`` counted in ``unit``s) and the field; with
    ``skip_invalid`` it is listed in ``skipped``. ``judge``: the caption reward's judge (None: the
    rewards' default); ``options``: the official arithmetic (default) or our alternatives."""
    out = ScoredRows()
    for index, row in enumerate(rows):
        task = row.get("task")
        try:
            if task not in _METRICS:
                raise FieldError("task", _unknown(task))
            meta = reward_meta(row)
            if task == "caption" and judge is not None:
                meta["judge"] = judge
            item = _METRICS[task].score_item(row.get("completion") or "", row.get("solution"), meta, options)
        except (FieldError, SolutionError) as exc:
            where = (index, "record") if lines is None else (lines[index], unit)
            err = DataError(source, where[0], exc.field, exc.reason, unit=where[1])
            if not skip_invalid:
                raise err from None
            out.skipped.append(err.to_skip())
        else:
            out.by_task.setdefault(task, []).append((dict(row), item))
    return out


def score_file(
    path: str | Path,
    *,
    skip_invalid: bool = False,
    judge: Any = None,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> ScoredRows:
    """Every row of a predictions file (``read_predictions``) scored; bad lines (records) raise
    ``DataError``, or with ``skip_invalid`` are listed in ``skipped``."""
    pred = read_predictions(path, skip_invalid=skip_invalid)
    scored = score_rows(
        pred.rows,
        source=str(path),
        skip_invalid=skip_invalid,
        lines=pred.lines,
        unit=pred.unit,
        judge=judge,
        options=options,
    )
    scored.skipped[:0] = pred.skipped
    return scored


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
    options: MetricOptions = DEFAULT_OPTIONS,
) -> dict[str, dict[str, Any]]:
    """Metrics per task of prediction rows (empty rows -> ``{}``)."""
    return aggregate(score_rows(rows, source=source, skip_invalid=skip_invalid, judge=judge, options=options))


def metrics_of_file(
    path: str | Path,
    *,
    skip_invalid: bool = False,
    judge: Any = None,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> tuple[dict[str, dict[str, Any]], list[SkipReport]]:
    """Metrics of a predictions file, and the lines/rows skipped (``skip_invalid`` only).

    A repeated prediction id is an error (it would be counted twice); with ``skip_invalid`` the
    repeats are skipped and listed, so the first prediction of each id is scored.
    """
    scored = score_file(path, skip_invalid=skip_invalid, judge=judge, options=options)
    return aggregate(scored), scored.skipped


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

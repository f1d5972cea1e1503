"""Validation of ground-truth solutions into each task's canonical form.

Completions may be anything, but a malformed *solution* is a data bug: it raises
:class:`SolutionError` naming the field, and the caller (CLI, loader, trainer) adds the file and line.
Video-R1's ``"<answer>…</answer>"``-wrapped solutions are accepted everywhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from videorft.rewards.parsing import (
    extract_answer,
    extract_letter,
    parse_number,
    parse_number_groups,
    parse_time_pair,
)

__all__ = [
    "SolutionError",
    "answer_text",
    "as_interval",
    "as_boxes",
    "as_letter",
    "as_text",
    "as_number",
    "as_gqa",
    "as_events",
    "check_inside_video",
    "normalize_solution",
]

Interval = tuple[float, float]
Box = tuple[float, float, float, float]


class SolutionError(ValueError):
    """A ground-truth solution that cannot be used; ``field`` names the offending field."""

    def __init__(self, message: str, field: str = "solution") -> None:
        super().__init__(f"field {field!r}: {message}")
        self.field = field
        self.reason = message


def _unwrap(solution: Any) -> Any:
    if isinstance(solution, str) and "<answer>" in solution:
        inner = extract_answer(solution)
        if inner is not None:
            return inner
    return solution


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def as_interval(solution: Any) -> Interval:
    """``[start, end]`` seconds (also "12.5 to 17.3") with 0 <= start <= end."""
    sol = _unwrap(solution)
    if isinstance(sol, str):
        sol = parse_time_pair(sol)
    if not (isinstance(sol, Sequence) and len(sol) == 2 and all(_finite(x) for x in sol)):
        raise SolutionError(f"expected [start, end] in seconds, got {_short(solution)}")
    s, e = float(sol[0]), float(sol[1])
    if not 0 <= s <= e:
        raise SolutionError(f"expected 0 <= start <= end, got [{s}, {e}]")
    return s, e


def check_inside_video(interval: Interval, duration: float | None, field: str = "solution") -> Interval:
    """``interval`` unchanged, or ``SolutionError`` when it starts at or after the video's end.

    Such a ground truth cannot be localised in the video; clipped to [0, duration] it would become
    the point (D, D), which any wrong prediction past the end matches with IoU 1. An end beyond the
    duration (present in the real Charades-STA annotations) is fine: the interval still overlaps.
    """
    if duration is not None and interval[0] >= duration:
        raise SolutionError(
            f"ground truth [{interval[0]}, {interval[1]}] starts at or after the video's end "
            f"(duration {duration} s)",
            field=field,
        )
    return interval


def as_boxes(solution: Any) -> tuple[Box, ...]:
    """A non-empty list of ``[x0, y0, x1, y1]`` boxes with x0 <= x1 and y0 <= y1 (VideoChat-R1's
    tracking datasets wrap them as ``{"answer": boxes}``)."""
    sol = _unwrap(solution)
    if isinstance(sol, Mapping) and set(sol) == {"answer"}:
        sol = _unwrap(sol["answer"])
    if isinstance(sol, str):
        sol = parse_number_groups(sol)
    if isinstance(sol, Sequence) and len(sol) == 4 and all(_finite(x) for x in sol):
        sol = [sol]  # a single box
    if not (isinstance(sol, Sequence) and not isinstance(sol, str) and len(sol) > 0):
        raise SolutionError(f"expected a non-empty list of [x0, y0, x1, y1] boxes, got {_short(solution)}")
    boxes = []
    for i, box in enumerate(sol):
        if not (isinstance(box, Sequence) and len(box) == 4 and all(_finite(x) for x in box)):
            raise SolutionError(f"box {i} is not four finite numbers: {_short(box)}")
        x0, y0, x1, y1 = (float(v) for v in box)
        if x0 > x1 or y0 > y1:
            raise SolutionError(f"box {i} has x0 > x1 or y0 > y1: {list(box)}")
        boxes.append((x0, y0, x1, y1))
    return tuple(boxes)


def as_letter(solution: Any) -> str:
    """An option letter from "C", "(C)", "C. text" or "<answer>C</answer>"."""
    sol = _unwrap(solution)
    letter = extract_letter(sol) if isinstance(sol, str) else None
    if letter is None:
        raise SolutionError(f"expected an option letter such as 'C' or '(C)', got {_short(solution)}")
    return letter


def as_text(solution: Any) -> str:
    """A non-empty string (OCR, free-form, quality)."""
    sol = _unwrap(solution)
    if not isinstance(sol, str) or not sol.strip():
        raise SolutionError(f"expected a non-empty string, got {_short(solution)}")
    return sol.strip()


def as_number(solution: Any) -> float:
    """A finite number, or a string that spells one ("1,024", "3.5")."""
    sol = _unwrap(solution)
    value = float(sol) if _finite(sol) else parse_number(sol) if isinstance(sol, str) else None
    if value is None:
        raise SolutionError(f"expected a number, got {_short(solution)}")
    return value


def as_gqa(solution: Any) -> tuple[str, tuple[Interval, ...]]:
    """``{"answer": "C", "intervals": [[s, e], ...]}`` (VideoChat-R1's key ``glue`` also accepted)."""
    if not isinstance(solution, Mapping):
        raise SolutionError(f"expected an object with 'answer' and 'intervals', got {_short(solution)}")
    if "answer" not in solution:
        raise SolutionError("missing", field="solution.answer")
    try:
        letter = as_letter(solution["answer"])
    except SolutionError as exc:
        raise SolutionError(exc.reason, field="solution.answer") from None
    key = "intervals" if "intervals" in solution else "glue" if "glue" in solution else None
    if key is None:
        raise SolutionError("missing", field="solution.intervals")
    raw = solution[key]
    if isinstance(raw, str):
        raw = parse_number_groups(raw)
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise SolutionError(
            f"expected a non-empty list of [start, end], got {_short(solution[key])}", f"solution.{key}"
        )
    intervals = []
    for i, iv in enumerate(raw):
        try:
            intervals.append(as_interval(iv))
        except SolutionError as exc:
            raise SolutionError(f"interval {i}: {exc.reason}", field=f"solution.{key}") from None
    return letter, tuple(intervals)


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s++|\n++")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at . ! ? (and CJK stops) followed by space, and at newlines."""
    return [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]


def as_events(solution: Any) -> tuple[str, ...]:
    """Caption events: ``{"events": [...]}``, a list of strings, or a string split into sentences."""
    sol = _unwrap(solution)
    if isinstance(sol, Mapping):
        if "events" not in sol:
            raise SolutionError("missing", field="solution.events")
        sol = sol["events"]
    if isinstance(sol, str):
        events = split_sentences(sol)
    elif isinstance(sol, Sequence) and all(isinstance(e, str) for e in sol):
        events = [e.strip() for e in sol if e.strip()]
    else:
        raise SolutionError(f"expected a list of event strings or a caption string, got {_short(solution)}")
    if not events:
        raise SolutionError("no events (empty reference caption)")
    return tuple(events)


#: canonical task -> validator producing its canonical solution
NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "temporal_grounding": as_interval,
    "tracking": as_boxes,
    "multiple_choice": as_letter,
    "numerical": as_number,
    "ocr": as_text,
    "free_form": as_text,
    "regression": as_number,
    "quality": as_text,
    "grounding_qa": as_gqa,
    "caption": as_events,
}


def normalize_solution(task: str, solution: Any) -> Any:
    """Validate ``solution`` for a canonical task name and return its canonical form."""
    try:
        fn = NORMALIZERS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(NORMALIZERS)}") from None
    return fn(solution)


def answer_text(task: str, solution: Any) -> str:
    """A canonical solution written the way the task's reward parser reads it (SFT targets, CoT rows).

    >>> answer_text("temporal_grounding", [1, 2.5])
    '1.00 to 2.50'
    """
    if task == "temporal_grounding":
        return f"{float(solution[0]):.2f} to {float(solution[1]):.2f}"
    if task == "tracking":
        return json.dumps([[round(float(v), 3) for v in box] for box in solution])
    if task == "grounding_qa":
        return str(solution["answer"])
    if task == "caption":
        return " ".join(solution["events"] if isinstance(solution, dict) else [str(solution)])
    return str(solution)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

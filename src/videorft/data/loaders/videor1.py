"""Video-R1 JSON (260k RL, COT-165k SFT, eval_*.json). Rows ``videorft data cot`` writes for the other
tasks name the task in ``problem_type``, with ``solution_value`` and ``meta`` (docs/cot.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LETTERS,
    LoadContext,
    check_inside,
    get_field,
    get_str,
    parse_box,
    read_json_list,
    register_format,
    to_float,
)
from videorft.data.record import TASKS, Record, check_box_count
from videorft.rewards.parsing import first_block
from videorft.rewards.solutions import SolutionError
from videorft.rewards.tasks import normalize_solution

#: Video-R1 problem_type spelling -> canonical task name.
PROBLEM_TYPES: dict[str, str] = {
    "multiple choice": "multiple_choice",
    "numerical": "numerical",
    "OCR": "ocr",
    "free-form": "free_form",
    "regression": "regression",
}

#: Canonical tasks outside Video-R1's problem types: ``problem_type`` is the task name itself.
EXTENSION_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t not in PROBLEM_TYPES.values())

#: Loader-set meta keys a row's ``meta`` may not override.
_RESERVED_META = ("problem_type", "problem_id", "data_source", "process", "source_file", "source_index")


def _options(item: dict[str, Any], task: str) -> list[str]:
    value = item.get("options")
    if value is None or value == []:
        if task in ("multiple_choice", "grounding_qa"):
            raise FieldError("options", f"{task} needs a non-empty list of options")
        return []
    if not isinstance(value, list) or not all(isinstance(o, str) and o.strip() for o in value):
        raise FieldError("options", f"expected a list of non-empty strings, got {value!r:.80}")
    if len(value) > len(LETTERS) and task in ("multiple_choice", "grounding_qa"):
        raise FieldError("options", f"at most {len(LETTERS)} options supported, got {len(value)}")
    # Video-R1 options already read "A. text"; keep them verbatim so prompts match the originals.
    return [o.strip() for o in value]


def _solution(raw: str, task: str, options: list[str]) -> str:
    block = first_block(raw, "answer")  # Video-R1 solutions read "<answer>...</answer>"
    answer = (raw if block is None else block).strip()
    if not answer:
        raise FieldError("solution", f"empty answer in {raw!r}")
    if task == "multiple_choice":
        m = re.fullmatch(r"\(?([A-Za-z])\)?\.?", answer)
        if not m:
            raise FieldError("solution", f"expected a single option letter, got {answer!r}")
        letter = m.group(1).upper()
        if letter not in LETTERS[: len(options)]:
            raise FieldError("solution", f"answer {letter!r} is not one of the {len(options)} options")
        return letter
    if task in ("numerical", "regression"):
        to_float(answer.replace(",", ""), "solution")  # validate only: the string form matters to the reward
    return answer


def _canonical_solution(value: Any, task: str, options: list[str]) -> Any:
    """``solution_value`` validated for ``task`` and returned in the JSON form the other loaders produce."""
    try:
        sol = normalize_solution(task, value)
    except SolutionError as exc:
        raise FieldError("solution_value" + exc.field.removeprefix("solution"), exc.reason) from None
    if task == "temporal_grounding":
        return list(sol)
    if task == "tracking":
        if not all(0.0 <= v <= 1.0 for box in sol for v in box):
            raise FieldError("solution_value", f"boxes must be normalised to [0, 1], got {value!r:.80}")
        return [list(box) for box in sol]
    if task == "grounding_qa":
        letter, intervals = sol
        if letter not in LETTERS[: len(options)]:
            raise FieldError("solution_value.answer", f"{letter!r} is not one of the {len(options)} options")
        return {"answer": letter, "intervals": [list(iv) for iv in intervals]}
    if task == "caption":
        return {"events": list(sol)}
    return sol  # quality: the stripped string


def _number(meta: dict[str, Any], key: str, *, positive: bool = False) -> float:
    x = to_float(meta[key], f"meta.{key}")
    if x < 0 or (positive and x == 0):
        raise FieldError(
            f"meta.{key}", f"expected a {'positive' if positive else 'non-negative'} number, got {x}"
        )
    return x


def _row_meta(item: dict[str, Any], task: str, solution: Any) -> dict[str, Any]:
    """The row's ``meta`` object, with the fields prompts and the frame sampler read checked."""
    meta = item.get("meta", {})
    if not isinstance(meta, dict):
        raise FieldError("meta", f"expected a JSON object, got {type(meta).__name__}: {meta!r:.80}")
    meta = dict(meta)
    clash = [k for k in _RESERVED_META if k in meta]
    if clash:
        raise FieldError(
            f"meta.{clash[0]}", "set by the loader from the row's own fields; remove it from meta"
        )
    if "duration" in meta:
        meta["duration"] = _number(meta, "duration", positive=True)
        if task == "temporal_grounding":
            check_inside(solution, meta["duration"], "solution_value")
    for key in ("video_start", "video_end"):
        if key in meta:
            meta[key] = _number(meta, key)
    if "video_start" in meta and "video_end" in meta and meta["video_end"] <= meta["video_start"]:
        raise FieldError(
            "meta.video_end", f"{meta['video_end']} is not after video_start {meta['video_start']}"
        )
    if "object" in meta and (not isinstance(meta["object"], str) or not meta["object"].strip()):
        raise FieldError("meta.object", f"expected a non-empty string, got {meta['object']!r:.80}")
    if "first_box" in meta:
        meta["first_box"] = parse_box(meta["first_box"], "meta.first_box")
    if "nframes" in meta:
        n = meta["nframes"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise FieldError("meta.nframes", f"expected a positive integer, got {n!r:.80}")
        # The tracking prompt asks for nframes boxes and the reward pairs them with the ground truth.
        if task == "tracking" and n != len(solution):
            raise FieldError("meta.nframes", f"expected {len(solution)} (one box per sampled frame), got {n}")
    if task == "tracking":
        # one frame per box (Record.nframes, also without meta.nframes), and frames come in pairs
        check_box_count(len(solution), "solution_value")
    return meta


@register_format("videor1", tasks=tuple(PROBLEM_TYPES.values()) + EXTENSION_TASKS)
def load_videor1(path: Path, ctx: LoadContext) -> list[Record]:
    """Video-R1 JSON (260k RL, COT-165k SFT, eval_*.json); images and videos"""

    def parse(item: dict[str, Any], i: int) -> Record:
        ptype = get_str(item, "problem_type")
        if ptype not in PROBLEM_TYPES and ptype not in EXTENSION_TASKS:
            valid = ", ".join([*PROBLEM_TYPES, *EXTENSION_TASKS])
            raise FieldError("problem_type", f"unknown {ptype!r}; valid: {valid}")
        task = PROBLEM_TYPES.get(ptype, ptype)
        # cot_row writes both; a disagreement means a hand-edited or mixed-up row.
        if "task" in item and item["task"] != task:
            raise FieldError("task", f"{item['task']!r} disagrees with problem_type (task {task!r})")
        data_type = get_str(item, "data_type")
        if data_type not in ("image", "video"):
            raise FieldError("data_type", f"expected 'image' or 'video', got {data_type!r}")
        if task in EXTENSION_TASKS and data_type != "video":
            raise FieldError("data_type", f"{task} needs a video, got {data_type!r}")
        options = _options(item, task)
        _, pid = get_field(item, "problem_id")
        if task in EXTENSION_TASKS:
            if "solution_value" not in item:
                raise FieldError(
                    "solution_value", f"missing (a {task} row carries its canonical solution here)"
                )
            solution = _canonical_solution(item["solution_value"], task, options)
            meta: dict[str, Any] = _row_meta(item, task, solution)
        else:
            solution = _solution(get_str(item, "solution"), task, options)
            meta = {}
        meta.update(problem_type=ptype, problem_id=pid)
        for key in ("data_source", "process"):
            if key in item:
                meta[key] = get_str(item, key)
        media = ctx.media(get_str(item, "path"), "path", kind=data_type)
        # Rows written by `videorft data cot` keep the source record's id; Video-R1's own have none.
        rid = (
            get_str(item, "id")
            if item.get("id") is not None
            else f"{item.get('data_source') or path.stem}-{pid}"
        )
        return Record(
            id=rid,
            task=task,
            problem=get_str(item, "problem", allow_empty=task == "caption"),
            solution=solution,
            video=media if data_type == "video" else None,
            image=media if data_type == "image" else None,
            options=options,
            meta=meta,
        )

    return ctx.records(read_json_list(path, ctx), parse)

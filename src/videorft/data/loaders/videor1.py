"""Video-R1 JSON: the 260k RL set, the COT-165k SFT set and the evaluation JSONs (eval_mvbench.json, ...).

Each item: ``problem_id, problem, data_type (image|video), problem_type, options, solution
("<answer>..</answer>"), path ("./..." relative to the video root), data_source``; the CoT set adds
``process`` ("<think>..</think>").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LETTERS,
    LoadContext,
    get_field,
    get_str,
    read_json_list,
    register_format,
    require_dict,
    to_float,
)
from videorft.data.record import Record

#: Video-R1 problem_type spelling -> canonical task name.
PROBLEM_TYPES: dict[str, str] = {
    "multiple choice": "multiple_choice",
    "numerical": "numerical",
    "OCR": "ocr",
    "free-form": "free_form",
    "regression": "regression",
}

_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)


def strip_answer_tags(solution: str) -> str:
    """Content of the first ``<answer>`` block (whole string when there is none), stripped."""
    m = _ANSWER.search(solution)
    return (m.group(1) if m else solution).strip()


def _options(item: dict[str, Any], task: str) -> list[str]:
    value = item.get("options")
    if value is None or value == []:
        if task == "multiple_choice":
            raise FieldError("options", "multiple choice needs a non-empty list of options")
        return []
    if not isinstance(value, list) or not all(isinstance(o, str) and o.strip() for o in value):
        raise FieldError("options", f"expected a list of non-empty strings, got {value!r:.80}")
    if len(value) > len(LETTERS) and task == "multiple_choice":
        raise FieldError("options", f"at most {len(LETTERS)} options supported, got {len(value)}")
    # Video-R1 options already read "A. text"; keep them verbatim so prompts match the originals.
    return [o.strip() for o in value]


def _solution(raw: str, task: str, options: list[str]) -> str:
    answer = strip_answer_tags(raw)
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


@register_format(
    "videor1",
    tasks=tuple(PROBLEM_TYPES.values()),
    description="Video-R1 JSON (260k RL, COT-165k SFT, eval_*.json); images and videos",
)
def load_videor1(path: Path, ctx: LoadContext) -> list[Record]:
    records: list[Record] = []
    for i, raw in enumerate(read_json_list(path, ctx)):
        with ctx.item(i):
            item = require_dict(raw)
            ptype = get_str(item, "problem_type")
            if ptype not in PROBLEM_TYPES:
                raise FieldError("problem_type", f"unknown {ptype!r}; valid: {', '.join(PROBLEM_TYPES)}")
            task = PROBLEM_TYPES[ptype]
            data_type = get_str(item, "data_type")
            if data_type not in ("image", "video"):
                raise FieldError("data_type", f"expected 'image' or 'video', got {data_type!r}")
            options = _options(item, task)
            _, pid = get_field(item, "problem_id")
            meta: dict[str, Any] = {"problem_type": ptype, "problem_id": pid}
            if "data_source" in item:
                meta["data_source"] = get_str(item, "data_source")
            if "process" in item:
                meta["process"] = get_str(item, "process")
            media = ctx.media(get_str(item, "path"), "path", kind=data_type)
            record = Record(
                id=f"{item.get('data_source') or path.stem}-{pid}",
                task=task,
                problem=get_str(item, "problem"),
                solution=_solution(get_str(item, "solution"), task, options),
                video=media if data_type == "video" else None,
                image=media if data_type == "image" else None,
                options=options,
                meta=meta,
            )
            records.append(ctx.finish(i, record))
    return records

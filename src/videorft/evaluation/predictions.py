"""Prediction rows: the `videorft score` input line format, plus the prompt the model saw.

One JSON object per line::

    {"id": "...", "task": "temporal_grounding", "completion": "<think>..</think><answer>..</answer>",
     "solution": [3.1, 7.4], "duration": 30.0, "prompt": "..."}

``task``, ``completion`` and ``solution`` are required; ``solution`` is in the task's canonical
form (docs/architecture.md). As in `videorft score`, every other top-level key is reward meta
(``duration``, ``first_box``, ...); a nested ``"meta"`` object is merged in as well
(``videorft.rewards.tasks.reward_meta``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.errors import DataError, FieldError, SkipReport
from videorft.files import read_jsonl, write_atomic
from videorft.rewards.tasks import canonical_task

PREDICTIONS_FILE = "predictions.jsonl"
REQUIRED_FIELDS: tuple[str, ...] = ("task", "completion", "solution")
#: Our row fields, as they are named in a predictions file.
OUR_FIELDS: dict[str, str] = {"id": "id", "task": "task", "completion": "completion", "solution": "solution"}
#: The same fields in Video-R1's ``src/eval_bench.py`` output: each benchmark sample (``solution``
#: "<answer>X</answer>") with the model's ``output``, ``prediction``, ``reward`` and ``correct`` added.
VIDEO_R1_FIELDS: dict[str, str] = {
    "id": "problem_id",
    "task": "problem_type",
    "completion": "output",
    "solution": "solution",
}


@dataclass
class PredictionFile:
    """Rows of a predictions file and the lines (or records) left out (``skip_invalid=True`` only)."""

    rows: list[dict[str, Any]]
    lines: list[int] = field(default_factory=list)  # each row's line (1-based) or record (0-based)
    skipped: list[SkipReport] = field(default_factory=list)
    unit: str = "line"  # "record": Video-R1's {"results": [...]} file


def validate_row(row: Any, names: Mapping[str, str] = OUR_FIELDS) -> dict[str, Any]:
    """One row, its fields named as in ``names``, in our format with the canonical task name.

    Raises ``FieldError`` naming the field as the file names it.
    """
    if not isinstance(row, dict):
        raise FieldError(None, f"expected a JSON object, got {type(row).__name__}")
    for name in REQUIRED_FIELDS:
        if names[name] not in row:
            raise FieldError(names[name], "missing")
    try:
        task = canonical_task(row[names["task"]])  # "multiple choice", "OCR", ... as `videorft score` accepts
    except ValueError as exc:
        raise FieldError(names["task"], str(exc)) from None
    completion = row[names["completion"]]
    if completion is not None and not isinstance(completion, str):
        raise FieldError(names["completion"], f"expected a string, got {type(completion).__name__}")
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        raise FieldError("meta", f"expected an object, got {type(meta).__name__}")
    out = {k: v for k, v in row.items() if k in names or k not in names.values()}
    out.update((ours, row[theirs]) for ours, theirs in names.items() if theirs in row)
    return {**out, "task": task, "completion": completion or ""}


def _parsed_rows(path: Path) -> tuple[str, Mapping[str, str], list[tuple[int, Any]]]:
    """(unit, field names, [(line or record, JSON value or its JSONDecodeError)]) of a JSONL file, or of
    the ``{"results": [...], "final_acc": [...]}`` file Video-R1's eval_bench.py writes."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None  # JSONL: one object per line
        if isinstance(doc, dict) and "results" in doc:
            if not isinstance(doc["results"], list):
                raise DataError(
                    str(path), None, "results", f"expected a list, got {type(doc['results']).__name__}"
                )
            return "record", VIDEO_R1_FIELDS, list(enumerate(doc["results"]))
    rows: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                rows.append((lineno, exc))
    return "line", OUR_FIELDS, rows


def read_predictions(path: str | Path, *, skip_invalid: bool = False) -> PredictionFile:
    """Read a predictions JSONL file, or Video-R1's eval_bench.py output (``{"results": [...]}``).

    Bad lines (records) raise ``DataError`` (file, line or record, field) unless ``skip_invalid``, in
    which case they are left out and listed in ``skipped``. A repeated id is a bad line too (a metric
    would count that prediction twice): with ``skip_invalid`` the first row of each id is kept.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    unit, names, parsed = _parsed_rows(path)
    out = PredictionFile(rows=[], unit=unit)
    first: dict[str, int] = {}
    for where, value in parsed:
        try:
            if isinstance(value, json.JSONDecodeError):
                raise FieldError(None, f"invalid JSON: {value.msg}")
            row = validate_row(value, names)
            if row.get("id") is not None:
                key = str(row["id"])
                if key in first:
                    raise FieldError(
                        names["id"],
                        f"duplicate id {key!r} (first on {unit} {first[key]}); each prediction once",
                    )
                first[key] = where
        except FieldError as exc:
            err = DataError(str(path), where, exc.field, exc.reason, unit=unit)
            if not skip_invalid:
                raise err from None
            out.skipped.append(err.to_skip())
        else:
            out.rows.append(row)
            out.lines.append(where)
    return out


def rows_by_id(path: str | Path) -> dict[str, dict[str, Any]]:
    """Rows of an existing predictions file by id, for resuming. A run killed mid-write leaves a torn
    last line: it is dropped from the file (so appending starts on a fresh line) and that record is
    simply predicted again."""
    path = Path(path)
    if not path.is_file():
        return {}
    rows = {str(row["id"]): row for row in read_jsonl(path) if isinstance(row, dict) and "id" in row}
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values()))
    return rows

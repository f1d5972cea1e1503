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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.errors import DataError, SkipReport
from videorft.files import append_jsonl, read_jsonl
from videorft.rewards.tasks import canonical_task

REQUIRED_FIELDS: tuple[str, ...] = ("task", "completion", "solution")


@dataclass
class PredictionFile:
    """Rows of a predictions file and the lines left out (``skip_invalid=True`` only)."""

    rows: list[dict[str, Any]]
    lines: list[int] = field(default_factory=list)  # 1-based line of each row, for error messages
    skipped: list[SkipReport] = field(default_factory=list)


def validate_row(row: Any) -> dict[str, Any]:
    """Check one row; raises ``ValueError`` naming the field. Returns it with the canonical task name."""
    if not isinstance(row, dict):
        raise _FieldProblem(None, f"expected a JSON object, got {type(row).__name__}")
    for name in REQUIRED_FIELDS:
        if name not in row:
            raise _FieldProblem(name, "missing")
    try:
        task = canonical_task(row["task"])  # "multiple choice", "OCR", ... as `videorft score` accepts
    except ValueError as exc:
        raise _FieldProblem("task", str(exc)) from None
    if row["completion"] is not None and not isinstance(row["completion"], str):
        raise _FieldProblem("completion", f"expected a string, got {type(row['completion']).__name__}")
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        raise _FieldProblem("meta", f"expected an object, got {type(meta).__name__}")
    return {**row, "task": task, "completion": row["completion"] or ""}


class _FieldProblem(ValueError):
    def __init__(self, field_name: str | None, reason: str) -> None:
        self.field_name = field_name
        self.reason = reason
        super().__init__(reason)


def read_predictions(path: str | Path, *, skip_invalid: bool = False) -> PredictionFile:
    """Read a predictions JSONL file.

    Bad lines raise ``DataError`` (file, line, field) unless ``skip_invalid``, in which case they
    are left out and listed in ``skipped``. A repeated ``id`` is a bad line too (a metric would
    count that prediction twice): with ``skip_invalid`` the first row of each id is kept.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    out = PredictionFile(rows=[])
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = validate_row(json.loads(line))
                if row.get("id") is not None:
                    key = str(row["id"])
                    if key in first_line:
                        raise _FieldProblem(
                            "id",
                            f"duplicate id {key!r} (first on line {first_line[key]}); each prediction once",
                        )
                    first_line[key] = lineno
            except json.JSONDecodeError as exc:
                err = DataError(str(path), lineno, None, f"invalid JSON: {exc.msg}", unit="line")
            except _FieldProblem as exc:
                err = DataError(str(path), lineno, exc.field_name, exc.reason, unit="line")
            else:
                out.rows.append(row)
                out.lines.append(lineno)
                continue
            if not skip_invalid:
                raise err
            out.skipped.append(err.to_skip())
    return out


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]], *, append: bool = False) -> None:
    """Write (or append) rows as JSONL, flushing so an interrupted run keeps what it finished."""
    if not append:
        Path(path).write_text("", encoding="utf-8")
    append_jsonl(path, rows, ensure_ascii=False)


def rows_by_id(path: str | Path) -> dict[str, dict[str, Any]]:
    """Rows of an existing predictions file by id (for resuming); a torn last line is ignored,
    so that record is simply predicted again."""
    path = Path(path)
    rows: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for row in read_jsonl(path):  # a run killed mid-write leaves a partial last line: skipped
        if isinstance(row, dict) and "id" in row:
            rows[str(row["id"])] = row
    return rows

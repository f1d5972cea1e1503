"""Records <-> ``datasets.Dataset`` rows; ``solution`` and ``meta`` are JSON strings (Arrow wants one
type per column, solutions differ per task): `decode_solution` / `record_from_row` read them back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from videorft.data.record import Record

if TYPE_CHECKING:
    import datasets

COLUMNS: tuple[str, ...] = ("id", "task", "problem", "solution", "video", "image", "options", "meta")


def decode_solution(value: str) -> Any:
    """Inverse of the ``solution`` column encoding."""
    return json.loads(value)


def record_to_row(record: Record) -> dict[str, Any]:
    row = dataclasses.asdict(record)
    row["solution"] = json.dumps(record.solution, ensure_ascii=False)
    row["meta"] = json.dumps(record.meta, ensure_ascii=False, sort_keys=True)
    return row


def record_from_row(row: Mapping[str, Any]) -> Record:
    """A `Record` back from a dataset row (as `to_hf_dataset` wrote it)."""
    return Record(
        id=row["id"],
        task=row["task"],
        problem=row["problem"],
        solution=decode_solution(row["solution"]),
        video=row.get("video"),
        image=row.get("image"),
        options=list(row.get("options") or []),
        meta=json.loads(row["meta"]) if row.get("meta") else {},
    )


def to_hf_dataset(records: Sequence[Record]) -> datasets.Dataset:
    """A `datasets.Dataset` with one row per record (see the module docstring for columns)."""
    from datasets import Dataset, Features, List, Value

    features = Features({c: List(Value("string")) if c == "options" else Value("string") for c in COLUMNS})
    rows = [record_to_row(r) for r in records]  # not from_list: it cannot build an empty dataset
    return Dataset.from_dict({c: [row[c] for row in rows] for c in COLUMNS}, features=features)

"""Errors for bad input data: every message names the file, the record (or line) and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkipReport:
    """One record (or video) left out of a load with ``skip_invalid=True``, and why."""

    file: str
    index: int | None
    field: str | None
    reason: str
    unit: str = "record"

    def __str__(self) -> str:
        index = [] if self.index is None else [f"{self.unit} {self.index}"]
        field = [] if self.field is None else [f"field {self.field!r}"]
        return ": ".join([self.file, *index, *field, self.reason])


class DataError(ValueError):
    """``FILE: record 12: field 'timestamps': expected ...``; ``index`` 0-based (a ``line`` is 1-based)."""

    def __init__(
        self, file: str, index: int | None, field: str | None, reason: str, *, unit: str = "record"
    ) -> None:
        self.file = str(file)
        self.index = index
        self.field = field
        self.reason = reason
        self.unit = unit
        super().__init__(str(self.to_skip()))

    def to_skip(self) -> SkipReport:
        return SkipReport(self.file, self.index, self.field, self.reason, self.unit)


class FieldError(ValueError):
    """A field-level problem raised by validators; the loader adds file and record index."""

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"field {field!r}: {reason}" if field else reason)

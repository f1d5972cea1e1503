"""Writing and reading run files: atomic writes (readers see all or nothing), JSONL append/read, the
one on-disk cache (:class:`SqliteCache`: judge verdicts, CoT teacher completions), and which files are images.

JSONL logs (``train_log.jsonl``, ``rollouts.jsonl``, ``predictions.jsonl``, ...) are appended a row at a
time, so a killed run may leave a torn last line: :func:`read_jsonl` skips (and reports) such lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Image files (PIL opens them): still-image records, and the frames of a frame folder (GOT-10k style).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"})

__all__ = [
    "IMAGE_SUFFIXES",
    "write_atomic",
    "write_json",
    "append_jsonl",
    "read_jsonl",
    "cache_key",
    "SqliteCache",
]


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; run files and caches may be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any, *, indent: int | None = 2, **dumps: Any) -> None:
    """``data`` as JSON (plus a final newline), written atomically."""
    write_atomic(path, json.dumps(data, indent=indent, **dumps) + "\n")


def append_jsonl(path: str | Path, rows: Iterable[Any], **dumps: Any) -> None:
    """Append one JSON line per row (creating the folder), flushed so a killed run keeps what it wrote."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(row, **dumps) + "\n" for row in rows)


def read_jsonl(path: str | Path, bad_lines: list[int] | None = None) -> list[Any]:
    """The values of a JSONL file's lines; blank lines are skipped, and so are lines that are not JSON
    (torn by a crash), whose 1-based numbers go to ``bad_lines`` when given."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            if bad_lines is not None:
                bad_lines.append(number)
    return rows


def cache_key(*parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts`` (ASCII-escaped, so lone surrogates hash too)."""
    payload = json.dumps(list(parts), sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


class SqliteCache:
    """JSON values by key in one SQLite file: safe across threads and processes, committed per value, so a
    killed run loses only the work in flight."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path}: not a usable cache ({exc}); delete it or pass another") from None

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cache VALUES (?, ?)", (key, json.dumps(value)))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM cache").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

"""On-disk cache of teacher completions, so an interrupted run resumes without paying twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from videorft.data.cot.client import ChatResult

__all__ = ["CompletionCache", "cache_key"]

#: Bump when the request layout changes in a way that makes old completions wrong to reuse.
CACHE_VERSION = "cot-v1"


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``parts`` (everything that decides what the teacher sees)."""
    payload = json.dumps([CACHE_VERSION, parts], sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


class CompletionCache:
    """Completions keyed by :func:`cache_key`, in one SQLite file (safe across threads; commits per row,
    so a killed run loses at most the requests in flight)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions "
                "(key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT)"
            )
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"{self.path}: not a usable CoT cache ({exc}); delete it or pass another"
            ) from None

    def get(self, key: str) -> ChatResult | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason FROM completions WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else ChatResult(row[0], row[1])

    def put(self, key: str, result: ChatResult) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?)",
                (key, result.text, result.finish_reason),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

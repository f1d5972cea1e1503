"""Bad media during training: a sample whose video or image fails to decode is replaced, never fatal.

A file can pass the loader's metadata probe and still fail to decode (truncated, corrupt, too few frames).
``MediaSkips.resolve`` logs each bad file once (to the log and ``skipped_media.jsonl``) and replaces its row by
another training row chosen from the bad row's id, so every copy of a GRPO group, on every process, gets the
same replacement. ``summary()`` is printed when training ends.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from videorft.files import append_jsonl, read_jsonl
from videorft.video import VideoDecodeError

logger = logging.getLogger(__name__)

T = TypeVar("T")
SKIPPED_MEDIA_FILE = "skipped_media.jsonl"


class NoUsableMediaError(RuntimeError):
    """Every candidate row of a replacement search failed to decode."""


class MediaSkips:
    """Counts undecodable samples and finds replacements for them in ``pool`` (the training rows)."""

    def __init__(
        self,
        pool: Sequence[dict[str, Any]] | None = None,
        *,
        log_dir: str | Path | None = None,
        write: bool = True,
        max_tries: int = 64,
    ) -> None:
        self.pool = pool
        self.path = Path(log_dir) / SKIPPED_MEDIA_FILE if log_dir is not None else None
        self.write = write
        self.max_tries = max_tries
        self.bad: dict[str, str] = {}  # file -> reason
        self.skipped_samples = 0  # requested rows replaced (or dropped), counting repeats of a file
        self._read_log()  # a resumed run knows its bad files already

    def _read_log(self) -> None:
        """Add the files in ``skipped_media.jsonl`` (an earlier run's, or data-loader workers') to ``bad``."""
        if self.path is None or not self.path.is_file():
            return
        # a line torn by a crash: the file is simply decoded (and logged) again
        for row in read_jsonl(self.path):
            try:
                self.bad.setdefault(str(row["file"]), str(row["reason"]))
            except (KeyError, TypeError):
                continue

    def _note(self, row: dict[str, Any], exc: VideoDecodeError) -> None:
        if exc.path in self.bad:
            return
        self.bad[exc.path] = exc.reason
        logger.warning("skipping sample %s: %s: %s", row.get("id"), exc.path, exc.reason)
        if self.path is not None and self.write:
            append_jsonl(self.path, [{"file": exc.path, "reason": exc.reason, "id": row.get("id")}])

    def _try(self, row: dict[str, Any], attempt: Callable[[dict[str, Any]], T]) -> T:
        media = [str(row[k]) for k in ("video", "image_path", "image") if row.get(k)]
        known = next((m for m in media if m in self.bad), None)
        if known is not None:  # a file known to be bad is not decoded again
            raise VideoDecodeError(known, self.bad[known])
        return attempt(row)

    def resolve(
        self, row: dict[str, Any], attempt: Callable[[dict[str, Any]], T]
    ) -> tuple[dict[str, Any], T]:
        """``(row, attempt(row))``, or the first replacement row (and its result) whose media decodes.

        Replacements are tried in pool order from a start fixed by the row's id. Raises
        ``NoUsableMediaError`` when ``max_tries`` candidates all fail, or when there is no pool.
        """
        try:
            return row, self._try(row, attempt)
        except VideoDecodeError as exc:
            self._note(row, exc)
            self.skipped_samples += 1
            first = exc
        if not self.pool:
            raise NoUsableMediaError(f"no replacement for sample {row.get('id')!r}: {first}") from None
        n = len(self.pool)
        start = zlib.crc32(str(row.get("id")).encode("utf-8")) % n
        for k in range(min(n, self.max_tries)):
            candidate = self.pool[(start + k) % n]
            if candidate.get("id") == row.get("id"):
                continue
            try:
                return candidate, self._try(candidate, attempt)
            except VideoDecodeError as exc:
                self._note(candidate, exc)
        raise NoUsableMediaError(
            f"{min(n, self.max_tries)} training samples in a row failed to decode "
            f"(e.g. {first}); check the data with `videorft data stats SPEC --probe-videos`"
        )

    def summary(self) -> str | None:
        """One paragraph for the end of training (workers' skips read back from the log), or None."""
        self._read_log()
        if not self.bad and not self.skipped_samples:
            return None
        lines = [
            f"skipped {max(self.skipped_samples, len(self.bad))} sample(s) whose media failed to decode "
            f"({len(self.bad)} file(s); listed in {self.path or 'the log'}):"
        ]
        lines += [f"  {path}: {reason}" for path, reason in list(self.bad.items())[:10]]
        if len(self.bad) > 10:
            lines.append(f"  ... and {len(self.bad) - 10} more")
        return "\n".join(lines)

"""The one error every video/image reading failure becomes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class VideoDecodeError(Exception):
    """A video, frame folder or image cannot be read: missing, empty, corrupt, truncated or unsupported.

    ``path`` names the file and ``reason`` says what is wrong with it, so loaders can skip, count
    and report bad items without parsing messages.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keeps the two fields through pickling (DataLoader workers)
        return (type(self), (self.path, self.reason))


@contextmanager
def unreadable(
    path: str | Path, prefix: str = "", errors: tuple[type[Exception], ...] = (ValueError,)
) -> Iterator[None]:
    """``errors`` in the block (a budget this file cannot meet) become a VideoDecodeError of ``path``."""
    try:
        yield
    except errors as exc:
        raise VideoDecodeError(path, f"{prefix}{exc}") from None

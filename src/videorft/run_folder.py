"""One writer per run folder: a lock file that a second process writing the same folder is refused by.

The lock is ``fcntl.flock`` on ``FOLDER/.videorft.lock`` (``OUT.lock`` next to a single output file): the
kernel drops it when the holder exits, also on SIGKILL or a crash, so a stale lock file never blocks a
resume. A process may re-enter a lock it already holds (the eval CLI locks ``--out`` before loading the
model; ``run_eval`` locks it again). Standard library only: CLIs take the lock before importing torch.
"""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

LOCK_NAME = ".videorft.lock"
F = TypeVar("F", bound=Callable[..., Any])

_held: dict[str, list[int]] = {}  # lock file -> [fd, depth] of the locks this process holds


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: busy, not empty, or holding another run."""


def list_differences(differences: list[str], shown: int = 5) -> str:
    """The first ``shown`` differences of a saved run's settings and the count of the rest, for one line."""
    rest = len(differences) - shown
    return "; ".join(differences[:shown]) + (f"; and {rest} more" if rest > 0 else "")


@contextmanager
def file_lock(lock_path: str | Path, what: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``lock_path`` (``what`` names the output it guards in the message)."""
    path = Path(lock_path).resolve()
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield path
        finally:
            _held[key][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise RunFolderError(
            f"{what}: another videorft process (pid {holder}) is writing here; "
            "wait for it to finish or choose another output"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    _held[key] = [fd, 1]
    try:
        yield path
    finally:
        del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_lock(folder: str | Path) -> Any:
    """``with run_lock(folder):`` the folder (created if missing) is this process's alone."""
    return file_lock(Path(folder) / LOCK_NAME, folder)


def locks_out_dir(param: str = "out_dir") -> Callable[[F], F]:
    """Decorator: hold ``run_lock`` on the keyword argument ``param`` (when given) for the whole call."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            folder = kwargs.get(param)
            with run_lock(folder) if folder is not None else nullcontext():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco

"""Shared fixtures of the data tests (writers live in fixtures_helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures_helpers import write_video


@pytest.fixture(scope="session")
def _tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "tiny.mp4")


@pytest.fixture
def put_video(_tiny_video: Path):
    """``put_video(path)``: copy the session's tiny mp4 to ``path`` (copying beats re-encoding)."""

    def put(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_tiny_video, path)
        return path

    return put

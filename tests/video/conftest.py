"""Small videos rendered once per session with PyAV (each frame carries its own index)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videorft.video.synth import render_test_video

# name -> (file name, codec, frames, height, width, fps, gop). Short clips keep the suite fast;
# the keyframe interval is shorter than the spacing of sparse samples so seeking matters.
VIDEOS = {
    "h264_mp4": ("h264.mp4", "h264", 240, 72, 128, 30, 24),
    "h264_mkv": ("h264.mkv", "h264", 180, 96, 96, 25, 20),
    "mpeg4_mp4": ("mpeg4.mp4", "mpeg4", 240, 90, 160, 30, 16),
    "vp9_webm": ("vp9.webm", "vp9", 150, 64, 112, 24, 30),
}


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def videos(video_dir: Path) -> dict[str, Path]:
    out = {}
    for name, (file, codec, n, h, w, fps, gop) in VIDEOS.items():
        out[name] = render_test_video(video_dir / file, n, h, w, fps=fps, codec=codec, gop=gop)
    return out

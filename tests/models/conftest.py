"""Fixtures of the models tests: the real tokenizer, the tiny checkpoint loaded back, a decoded mp4."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from videorft.models.tokenizer import build_qwen_tokenizer

    return build_qwen_tokenizer()


@pytest.fixture(scope="session")
def tiny_processor(tiny_model_dir: Path):
    from videorft.models.loading import load_processor

    return load_processor(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):
    from videorft.models.loading import load_model

    return load_model(tiny_model_dir, dtype="float32")


def write_square_video(path: Path, n_frames: int = 48, size: int = 64, fps: int = 24) -> Path:
    """An H.264 mp4 (PyAV) of a white square moving left to right over a dark background."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(n_frames):
            frame = np.full((size, size, 3), 20, np.uint8)
            x = (i * (size - 16)) // max(n_frames - 1, 1)
            frame[24:40, x : x + 16] = 235
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def square_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_square_video(tmp_path_factory.mktemp("videos") / "square.mp4")


@pytest.fixture(scope="session")
def clip(square_video: Path):
    """8 frames of 56x56 sampled by videorft.video (2 s at 24 fps -> effective 4 fps)."""
    from videorft.video import FrameBudget, load_video

    return load_video(square_video, FrameBudget(nframes=8, min_pixels=56 * 56, max_pixels=56 * 56))


def video_conversation(question: str = "Where does the square go?") -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "video", "video": "square.mp4"}, {"type": "text", "text": question}],
        }
    ]


def text_conversation(text: str = "Say something.") -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]

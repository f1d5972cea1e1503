"""Writers for data-test fixtures in the real formats: tiny real videos (PyAV), corrupt files, images, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

VIDEO_FRAMES = 8
VIDEO_FPS = 4  # -> 2.0 s


def write_video(path: Path, nframes: int = VIDEO_FRAMES, fps: int = VIDEO_FPS, size: int = 32) -> Path:
    """A real, decodable mp4 of ``nframes`` flat grey frames."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(nframes):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), 20 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00garbage, not a video\xff" * 64)
    return path


def write_image(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 30, 200)).save(path)
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def write_got_sequence(
    folder: Path,
    boxes_xywh: list[tuple[float, float, float, float]],
    size: tuple[int, int] = (64, 48),
    object_class: str | None = "sloth",
) -> Path:
    """A GOT-10k sequence folder: 00000001.jpg..., groundtruth.txt (x,y,w,h px), meta_info.ini."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(boxes_xywh)):
        write_image(folder / f"{i + 1:08d}.jpg", size)
    (folder / "groundtruth.txt").write_text(
        "".join(",".join(f"{v:.4f}" for v in box) + "\n" for box in boxes_xywh), encoding="utf-8"
    )
    if object_class is not None:
        (folder / "meta_info.ini").write_text(
            "[METAINFO]\nurl: https://example.org/x\nbegin: 00:00:00\nend: 00:00:10\nanno_fps: 10Hz\n"
            f"object_class: {object_class}\nmotion_class: crawling\nmajor_class: mammal\n"
            f"resolution: ({size[0]}, {size[1]})\n",
            encoding="utf-8",
        )
    return folder


def videor1_item(pid: int, path: str, problem_type: str = "multiple choice", **over: Any) -> dict[str, Any]:
    """One Video-R1 record as the 260k / eval JSONs spell it."""
    item: dict[str, Any] = {
        "problem_id": pid,
        "problem": "Which object appears first in the video?",
        "data_type": "video",
        "problem_type": problem_type,
        "options": ["A. a red square", "B. a blue circle", "C. a green star", "D. nothing"]
        if problem_type == "multiple choice"
        else [],
        "process": "",
        "solution": "<answer>B</answer>" if problem_type == "multiple choice" else "<answer>3</answer>",
        "path": path,
        "data_source": "LLaVA-Video-178K",
    }
    del item["process"]
    item.update(over)
    return item

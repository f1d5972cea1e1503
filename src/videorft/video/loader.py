"""``load_video``: sample and resize frames of a video file or a frame folder under a FrameBudget."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from videorft.video.budget import FrameBudget, frame_size, sample_indices
from videorft.video.decode import VideoInfo, decode_frames, probe_and_index, probe_file
from videorft.video.errors import unreadable
from videorft.video.folder import DEFAULT_FOLDER_FPS, list_frames, open_rgb, probe_folder, read_frames


@dataclass
class VideoClip:
    """Sampled frames, ready for Qwen2.5-VL's video processor (which keeps their size)."""

    frames: np.ndarray  # (T, H, W, 3) uint8, T even, H and W multiples of 28
    timestamps: list[float]  # seconds of each sampled frame from the start of the source video
    fps: float  # effective sampling fps: second_per_grid_ts = temporal_patch_size / fps
    indices: list[int]  # source frame index of each sampled frame
    duration: float  # seconds of the whole source video
    source_fps: float
    path: str

    @property
    def second_per_grid_ts(self) -> float:
        """Seconds per temporal patch of 2 frames, as Qwen2.5-VL's M-RoPE expects."""
        return 2 / self.fps


def probe_video(path: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS) -> VideoInfo:
    """Duration, fps, frame count, size and codec of a video file, or of a folder of frames at ``folder_fps``."""
    return probe_folder(path, folder_fps) if Path(path).is_dir() else probe_file(path)


def load_video(
    path: str | Path, budget: FrameBudget | None = None, *, folder_fps: float = DEFAULT_FOLDER_FPS
) -> VideoClip:
    """Sample frames of a video file (or a folder of image frames at ``folder_fps``) under ``budget``.

    Frame indices, frame count, frame size and effective fps are those qwen-vl-utils 0.0.14 would
    choose. Only the needed frames are decoded (seeking to keyframes when that is cheaper) and
    each is converted and resized in one pass. Any unreadable input raises VideoDecodeError.
    """
    budget = budget or FrameBudget()
    p = Path(path)
    if p.is_dir():
        return _load_folder(p, budget, folder_fps)
    info, index = probe_and_index(p)
    with unreadable(p):
        indices, fps = sample_indices(index.n_frames, info.fps, budget)
        height, width = frame_size(info.height, info.width, len(indices), budget)
    frames = decode_frames(p, index, indices, height, width)
    timestamps = [index.seconds(i) if index.seekable else i / info.fps for i in indices]
    return VideoClip(frames, timestamps, fps, indices, info.duration, info.fps, str(p))


class FramedRecord(Protocol):
    """What ``record_budget`` reads of a record (``videorft.data.Record``; the video layer sits below data)."""

    video: str | None
    meta: Mapping[str, Any]

    @property
    def nframes(self) -> int | None: ...


def record_budget(record: FramedRecord, budget: FrameBudget) -> FrameBudget:
    """``budget`` with a record's own frame count (``record.nframes``: ``meta['nframes']``, one per box for
    tracking) and time window (``meta['video_start'/'video_end']``) applied; a window the budget rejects is a
    VideoDecodeError of the record's video."""
    meta = record.meta
    overrides: dict[str, Any] = {}
    if meta.get("video_start") is not None or meta.get("video_end") is not None:
        overrides.update(video_start=meta.get("video_start"), video_end=meta.get("video_end"))
    if record.nframes:
        overrides["nframes"] = record.nframes
    with unreadable(str(record.video), "cannot sample this record's frames: ", (TypeError, ValueError)):
        return dataclasses.replace(budget, **overrides)


def _load_folder(folder: Path, budget: FrameBudget, fps: float) -> VideoClip:
    if not fps > 0:
        raise ValueError(f"folder_fps must be > 0, got {fps}")
    files = list_frames(folder)
    with unreadable(folder):
        indices, sample_fps = sample_indices(len(files), fps, budget)
        first = open_rgb(files[indices[0]])
        height, width = frame_size(first.height, first.width, len(indices), budget)
    frames = read_frames([files[i] for i in indices], height, width)
    timestamps = [i / fps for i in indices]
    return VideoClip(frames, timestamps, sample_fps, indices, len(files) / fps, fps, str(folder))

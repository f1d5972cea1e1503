"""The seeking sampler against a full decode, the frames' own indices, and qwen-vl-utils' pipeline."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import av
import numpy as np
import pytest

from videorft.video import FrameBudget, load_video, probe_video, sample_indices
from videorft.video.decode import decode_all_then_pick, decode_frames, scan_index
from videorft.video.synth import read_pattern_index

from .conftest import VIDEOS

BUDGETS = [
    FrameBudget(),  # 2 fps: dense relative to the keyframe interval
    FrameBudget(nframes=6),  # sparse: one frame every ~1-2 s
    FrameBudget(max_frames=8, min_pixels=16 * 784, max_pixels=64 * 784),
    FrameBudget(nframes=4, video_start=1.5, video_end=4.0),
]


@pytest.mark.parametrize("name", list(VIDEOS))
@pytest.mark.parametrize("budget", BUDGETS, ids=["fps2", "n6", "max8_small", "clip"])
def test_seek_sampler_equals_full_decode(videos, name, budget):
    clip = load_video(videos[name], budget)
    t, h, w, c = clip.frames.shape
    assert clip.frames.dtype == np.uint8 and c == 3
    assert t % 2 == 0 and h % 28 == 0 and w % 28 == 0 and t == len(clip.indices) == len(clip.timestamps)
    baseline = decode_all_then_pick(videos[name], clip.indices, h, w)
    assert np.array_equal(clip.frames, baseline)
    # The frames carry their number: the sampler returned the frames it claims.
    assert [read_pattern_index(f) for f in clip.frames] == clip.indices


@pytest.mark.parametrize("name", list(VIDEOS))
def test_sparse_sampling_seeks_instead_of_decoding_everything(videos, name):
    index = scan_index(videos[name])
    n = index.n_frames
    wanted = [n // 5, n // 2, n - 2]  # far apart compared with the keyframe interval
    stats: dict[str, int] = {}
    frames = decode_frames(videos[name], index, wanted, 56, 56, stats=stats)
    assert stats["seeks"] >= 2
    assert stats["decoded"] < n / 2
    assert np.array_equal(frames, decode_all_then_pick(videos[name], wanted, 56, 56))


def test_dense_sampling_decodes_sequentially(videos):
    index = scan_index(videos["h264_mp4"])
    wanted = list(range(0, 60, 2))  # every other frame: never worth a seek
    stats: dict[str, int] = {}
    decode_frames(videos["h264_mp4"], index, wanted, 28, 56, stats=stats)
    assert stats["seeks"] == 0
    # frames 0..58 lie on the way; unwanted non-reference ones (B-frames) need not be decoded
    assert 30 <= stats["decoded"] <= 59


def test_repeated_and_unordered_indices(videos):
    index = scan_index(videos["mpeg4_mp4"])
    wanted = [200, 3, 3, 120]
    frames = decode_frames(videos["mpeg4_mp4"], index, wanted, 56, 84)
    assert [read_pattern_index(f) for f in frames] == wanted


def test_frames_without_matching_pts_are_identified_by_order(videos):
    # As with packed B-frames in old AVI files: decoded frames' pts differ from the packets'.
    index = scan_index(videos["h264_mp4"])
    shifted = dataclasses.replace(index, pts=index.pts + 1)
    wanted = [5, 100, 200]
    frames = decode_frames(videos["h264_mp4"], shifted, wanted, 56, 84)
    assert [read_pattern_index(f) for f in frames] == wanted


@pytest.mark.parametrize("name", list(VIDEOS))
def test_probe_and_timestamps(videos, name):
    _, _, n, h, w, fps, _ = VIDEOS[name]
    info = probe_video(videos[name])
    assert (info.n_frames, info.width, info.height) == (n, w, h)
    assert info.fps == pytest.approx(fps)
    assert info.duration == pytest.approx(n / fps, abs=0.05)
    clip = load_video(videos[name], FrameBudget(nframes=4))
    assert clip.source_fps == pytest.approx(fps)
    # containers store times at ms precision (WebM/MKV), so allow that much
    assert clip.timestamps == pytest.approx([i / fps for i in clip.indices], abs=1e-3)
    assert clip.fps == pytest.approx(4 / n * fps) and clip.second_per_grid_ts == pytest.approx(2 / clip.fps)


def test_frame_budget_is_enforced_before_the_model(videos):
    budget = FrameBudget(max_frames=8, max_pixels=32 * 784, min_pixels=8 * 784)
    clip = load_video(videos["mpeg4_mp4"], budget)
    assert len(clip.frames) <= 8
    assert clip.frames.shape[1] * clip.frames.shape[2] <= 32 * 784


class _FakeDecord(types.ModuleType):
    """A decord stand-in over a full PyAV decode, so qwen-vl-utils' own reader logic runs."""

    class VideoReader:
        def __init__(self, path: str) -> None:
            with av.open(path) as container:
                stream = container.streams.video[0]
                self.fps = float(stream.average_rate)
                self.frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])

        def __len__(self) -> int:
            return len(self.frames)

        def get_avg_fps(self) -> float:
            return self.fps

        def get_batch(self, idx):
            return types.SimpleNamespace(asnumpy=lambda: self.frames[idx])


@pytest.mark.parametrize(
    "budget",
    [
        FrameBudget(),
        FrameBudget(nframes=6, min_pixels=16 * 784, total_pixels=60 * 784),
        FrameBudget(fps=1.0, video_start=2.1, video_end=7.0, min_pixels=32 * 784, max_pixels=100 * 784),
    ],
)
def test_end_to_end_against_qwen_vl_utils_fetch_video(videos, monkeypatch, budget):
    from qwen_vl_utils import (
        vision_process as vp,
        # the oracle is a pinned dev dependency: without it this fails (a broken install), never skips
    )

    monkeypatch.setitem(sys.modules, "decord", _FakeDecord("decord"))
    monkeypatch.setattr(vp, "get_video_reader_backend", lambda: "decord")
    path = videos["h264_mp4"]
    ele = {"video": str(path), "min_pixels": budget.min_pixels, "max_pixels": budget.max_pixels}
    ele.update({"nframes": budget.nframes} if budget.nframes else {"fps": budget.fps})
    for key in ("total_pixels", "video_start", "video_end"):
        if getattr(budget, key) is not None:
            ele[key] = getattr(budget, key)
    (video, meta), sample_fps = vp.fetch_video(ele, return_video_sample_fps=True, return_video_metadata=True)
    clip = load_video(path, budget)
    assert clip.indices == list(meta["frames_indices"])
    assert clip.fps == pytest.approx(sample_fps)
    theirs = video.permute(0, 2, 3, 1).numpy()  # (T, H, W, 3), uint8 values as float
    assert clip.frames.shape == theirs.shape
    # Same frames, different bicubic kernels (swscale from YUV vs torchvision from RGB): close, not equal.
    diff = np.abs(clip.frames.astype(np.float32) - theirs)
    assert diff.mean() < 3.0


def test_scan_matches_decoded_frame_count(videos: dict[str, Path]):
    for path in videos.values():
        with av.open(str(path)) as container:
            decoded = sum(1 for _ in container.decode(video=0))
        assert scan_index(path).n_frames == decoded


def test_sample_indices_cover_the_video(videos):
    index = scan_index(videos["vp9_webm"])
    indices, _ = sample_indices(index.n_frames, 24.0, FrameBudget(nframes=8))
    assert indices[0] == 0 and indices[-1] == index.n_frames - 1

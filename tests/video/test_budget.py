"""Frame-count and size decisions against qwen-vl-utils 0.0.14 (the oracle) and worked examples."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

# the oracle is a pinned dev dependency: without it this fails (a broken install), never skips
from qwen_vl_utils import vision_process as vp

from videorft.video import (
    FrameBudget,
    frame_pixel_limits,
    frame_range,
    sample_indices,
    smart_nframes,
    smart_resize,
)
from videorft.video.budget import DEFAULT_TOTAL_PIXELS, VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS


def _ele(b: FrameBudget) -> dict:
    """The qwen-vl-utils video element equivalent to a FrameBudget."""
    ele: dict = {"min_frames": b.min_frames, "max_frames": b.max_frames}
    if b.nframes is not None:
        ele = {"nframes": b.nframes}
    else:
        ele["fps"] = b.fps
    for key in ("video_start", "video_end"):
        if getattr(b, key) is not None:
            ele[key] = getattr(b, key)
    return ele


def test_defaults_are_qwen_vl_utils_video_defaults():
    b = FrameBudget()
    assert (b.fps, b.min_frames, b.max_frames) == (vp.FPS, vp.FPS_MIN_FRAMES, vp.FPS_MAX_FRAMES)
    assert b.min_pixels == vp.VIDEO_MIN_TOKEN_NUM * 28 * 28 == VIDEO_MIN_PIXELS
    assert b.max_pixels == vp.VIDEO_MAX_TOKEN_NUM * 28 * 28 == VIDEO_MAX_PIXELS
    assert DEFAULT_TOTAL_PIXELS == vp.MODEL_SEQ_LEN * 28 * 28 * 0.9


SIZES = [
    (1, 1),
    (28, 28),
    (10, 500),
    (240, 320),
    (360, 640),
    (480, 854),
    (720, 1280),
    (1080, 1920),
    (1920, 1080),
    (2160, 3840),
    (333, 777),
    (14, 2000),
    (57, 3),
]
LIMITS = [
    (4 * 784, 16384 * 784),
    (VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS),
    (16 * 784, 768 * 784),
    (128 * 784, 128 * 784 * 1.05),
    (256 * 784, 256 * 784),
    (3136, 10000),
]


@pytest.mark.parametrize("size", SIZES)
def test_smart_resize_matches_oracle(size):
    for lo, hi in LIMITS:
        h, w = size
        try:
            expected = vp.smart_resize(h, w, 28, lo, hi)
        except ValueError:
            with pytest.raises(ValueError, match="aspect ratio"):
                smart_resize(h, w, 28, lo, hi)
            continue
        assert smart_resize(h, w, 28, lo, hi) == expected


def test_smart_resize_worked_examples():
    # 360x640 rounds to 364x644 = 234,416 px, inside [100,352, 602,112]: kept.
    assert smart_resize(360, 640, 28, VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS) == (364, 644)
    # 1080x1920 at 128 tokens: beta = sqrt(2,073,600 / 100,352) = 4.5457; 1080/beta = 237.6 -> 224,
    # 1920/beta = 422.4 -> 420 (floors to multiples of 28).
    assert smart_resize(1080, 1920, 28, 4 * 784, 128 * 784) == (224, 420)
    # 100x100 below 128*784: beta = sqrt(100,352 / 10,000) = 3.168; 316.8 -> ceil to 336.
    assert smart_resize(100, 100, 28, VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS) == (336, 336)


GRID = list(
    itertools.product([1, 2, 3, 5, 16, 30, 31, 100, 301, 1800, 10_000], [1.0, 10.0, 24.0, 29.97, 60.0])
)


@pytest.mark.parametrize(
    "budget",
    [
        FrameBudget(),
        FrameBudget(fps=1.0),
        FrameBudget(fps=0.5, min_frames=3, max_frames=17),
        FrameBudget(fps=4.0, max_frames=16),
        FrameBudget(nframes=7),
        FrameBudget(nframes=16),
        FrameBudget(nframes=1),
    ],
)
def test_smart_nframes_matches_oracle(budget):
    ele = _ele(budget)
    for total, fps in GRID:
        try:
            expected = vp.smart_nframes(dict(ele), total_frames=total, video_fps=fps)
        except ValueError:
            with pytest.raises(ValueError, match="cannot sample"):
                smart_nframes(total, fps, budget)
            continue
        got = smart_nframes(total, fps, budget)
        assert got == expected and got % 2 == 0


def test_smart_nframes_worked_examples():
    assert smart_nframes(300, 30.0) == 20  # 10 s x 2 fps
    assert smart_nframes(30, 30.0) == 4  # 1 s x 2 fps = 2, raised to min_frames 4
    assert smart_nframes(3, 30.0) == 2  # at most the 3 frames there are, floored to even
    assert smart_nframes(100_000, 25.0, FrameBudget(max_frames=17)) == 16  # max rounded down to even
    assert smart_nframes(300, 30.0, FrameBudget(nframes=5)) == 4  # round(2.5) = 2 (half to even) -> 4
    with pytest.raises(ValueError):
        smart_nframes(1, 30.0)


def _oracle_indices(total: int, fps: float, budget: FrameBudget) -> tuple[list[int], float]:
    """What qwen-vl-utils' decord/torchcodec readers pick for a video of ``total`` frames."""
    ele = _ele(budget)
    start, end, count = vp.calculate_video_frame_range(ele, total, fps)
    n = vp.smart_nframes(ele, total_frames=count, video_fps=fps)
    return torch.linspace(start, end, n).round().long().tolist(), n / max(count, 1e-6) * fps


@pytest.mark.parametrize(
    "budget",
    [
        FrameBudget(),
        FrameBudget(max_frames=16),
        FrameBudget(nframes=32),
        FrameBudget(fps=1.0, video_start=3.3),
        FrameBudget(video_end=7.9),
        FrameBudget(nframes=8, video_start=1.01, video_end=8.5),
        FrameBudget(video_start=0.0, video_end=1e6),
    ],
)
def test_sample_indices_match_oracle(budget):
    for total, fps in [(300, 30.0), (301, 29.97), (1800, 30.0), (250, 25.0), (107_999, 30.0), (96, 10.0)]:
        try:
            expected = _oracle_indices(total, fps, budget)
        except ValueError:
            with pytest.raises(ValueError):
                sample_indices(total, fps, budget)
            continue
        indices, eff_fps = sample_indices(total, fps, budget)
        assert indices == expected[0]
        assert eff_fps == pytest.approx(expected[1], rel=1e-12)
        assert len(indices) % 2 == 0 and indices == sorted(indices)


def test_sample_indices_worked_example():
    # 10 s at 30 fps, clip 2.0..7.5 s: frames ceil(60)..floor(225) = 166 frames = 5.53 s -> 11.07 at
    # 2 fps -> 10 frames, linspace(60, 225, 10) step 18.33; effective fps 10 / 166 * 30.
    indices, fps = sample_indices(300, 30.0, FrameBudget(video_start=2.0, video_end=7.5))
    assert indices == [60, 78, 97, 115, 133, 152, 170, 188, 207, 225]
    assert fps == pytest.approx(10 / 166 * 30)
    assert frame_range(300, 30.0, FrameBudget(video_start=2.0, video_end=7.5)) == (60, 225)


def test_empty_time_range_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        frame_range(300, 30.0, FrameBudget(video_start=20.0, video_end=30.0))


@pytest.mark.parametrize("nframes", [2, 4, 16, 32, 120, 768])
def test_pixel_limits_divide_total_budget_like_oracle(nframes):
    # fetch_video's rule, restated: cap per frame = max(min(768*784, total / T * 2), int(1.05 * min)).
    for b in [
        FrameBudget(),
        FrameBudget(min_pixels=16 * 784, total_pixels=3584 * 784),
        FrameBudget(max_pixels=128 * 784),
        FrameBudget(min_pixels=256 * 784, total_pixels=1000 * 784),
    ]:
        total = vp.MODEL_SEQ_LEN * 28 * 28 * 0.9 if b.total_pixels is None else b.total_pixels
        cap = max(min(vp.VIDEO_MAX_TOKEN_NUM * 784, total / nframes * 2), int(b.min_pixels * 1.05))
        assert frame_pixel_limits(nframes, b) == (b.min_pixels, min(b.max_pixels, cap))
    # VideoChat-R1's setting by hand: 120 frames (60 temporal patches) share 3584 tokens of 28x28 px,
    # i.e. 3584 * 2 / 120 = 59.7 tokens per frame, above 1.05 x 16 tokens, so that is the cap.
    lo, hi = frame_pixel_limits(120, FrameBudget(min_pixels=16 * 784, total_pixels=3584 * 784))
    assert math.isclose(hi, 3584 * 784 * 2 / 120)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 0},
        {"nframes": 0},
        {"min_frames": 10, "max_frames": 4},
        {"min_pixels": 10, "max_pixels": 5},
        {"total_pixels": 0},
        {"video_start": -1.0},
        {"video_start": 5.0, "video_end": 4.0},
    ],
)
def test_invalid_budget_names_the_field(kwargs):
    field = next(iter(kwargs))
    with pytest.raises(ValueError, match=field.split("_")[0]):
        FrameBudget(**kwargs)

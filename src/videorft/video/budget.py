"""Frame-count and pixel-budget decisions, identical to qwen-vl-utils 0.0.14.

Pure functions: no decoding here. ``load_video`` asks these *before* decoding which source frames
to read and to which size to resize them, so budgets are enforced before anything reaches a model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: Qwen2.5-VL: 14-pixel patches merged 2x2, so frame sides are multiples of 28.
IMAGE_FACTOR = 28
#: Temporal patch size: frames are grouped in pairs, so frame counts are kept even.
FRAME_FACTOR = 2
#: qwen-vl-utils rejects aspect ratios above this.
MAX_RATIO = 200
VIDEO_MIN_PIXELS = 128 * IMAGE_FACTOR * IMAGE_FACTOR
VIDEO_MAX_PIXELS = 768 * IMAGE_FACTOR * IMAGE_FACTOR
IMAGE_MIN_PIXELS = 4 * IMAGE_FACTOR * IMAGE_FACTOR
IMAGE_MAX_PIXELS = 16384 * IMAGE_FACTOR * IMAGE_FACTOR
#: qwen-vl-utils' default total budget: 0.9 x MODEL_SEQ_LEN (128000) tokens of 28x28 pixels.
DEFAULT_TOTAL_PIXELS = 128000 * IMAGE_FACTOR * IMAGE_FACTOR * 0.9
FPS = 2.0
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768


@dataclass
class FrameBudget:
    """How many frames to sample and how large each may be (defaults = qwen-vl-utils' video defaults)."""

    fps: float = FPS  # sampling rate in frames per second; ignored when nframes is set
    nframes: int | None = None  # exact frame count (rounded to even); overrides fps/min_frames/max_frames
    min_frames: int = FPS_MIN_FRAMES  # lower bound on the fps-based count (rounded up to even)
    max_frames: int = FPS_MAX_FRAMES  # upper bound on the fps-based count (rounded down to even)
    min_pixels: int = VIDEO_MIN_PIXELS  # smallest H*W of a resized frame
    # largest H*W of a resized frame; also capped at 768*28*28 and by total_pixels, as in qwen-vl-utils
    max_pixels: int = VIDEO_MAX_PIXELS
    total_pixels: int | None = None  # T*H*W budget of the clip; None: qwen-vl-utils' 0.9 * 128000 * 28 * 28
    video_start: float | None = None  # clip start in seconds (None: the first frame)
    video_end: float | None = None  # clip end in seconds (None: the last frame)

    @classmethod
    def from_settings(cls, settings: Any) -> FrameBudget:
        """The budget a config describes (``VideoDataArguments``, ``EvalConfig``: fields of the same names)."""
        names = ("fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels", "total_pixels")
        return cls(**{name: getattr(settings, name) for name in names})

    def __post_init__(self) -> None:
        if self.nframes is not None and self.nframes < 1:
            raise ValueError(f"FrameBudget.nframes must be >= 1, got {self.nframes}")
        if not self.fps > 0:
            raise ValueError(f"FrameBudget.fps must be > 0, got {self.fps}")
        if self.min_frames < 1 or self.max_frames < FRAME_FACTOR or self.min_frames > self.max_frames:
            raise ValueError(
                f"FrameBudget needs 1 <= min_frames <= max_frames and max_frames >= {FRAME_FACTOR}, "
                f"got min_frames={self.min_frames}, max_frames={self.max_frames}"
            )
        if self.min_pixels < 1 or self.max_pixels < self.min_pixels:
            raise ValueError(
                f"FrameBudget needs 1 <= min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}"
            )
        if self.total_pixels is not None and self.total_pixels < 1:
            raise ValueError(f"FrameBudget.total_pixels must be >= 1, got {self.total_pixels}")
        for name in ("video_start", "video_end"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"FrameBudget.{name} must be >= 0 seconds, got {getattr(self, name)}")
        if self.video_start is not None and self.video_end is not None and self.video_end <= self.video_start:
            raise ValueError(
                f"FrameBudget.video_end ({self.video_end}) must be after video_start ({self.video_start})"
            )


def _round_by(x: float, factor: int) -> int:
    # Python's round (half to even), exactly as qwen-vl-utils.
    return round(x / factor) * factor


def _ceil_by(x: float, factor: int) -> int:
    return math.ceil(x / factor) * factor


def _floor_by(x: float, factor: int) -> int:
    return math.floor(x / factor) * factor


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: float = IMAGE_MIN_PIXELS,
    max_pixels: float = IMAGE_MAX_PIXELS,
) -> tuple[int, int]:
    """(height, width) rounded to multiples of ``factor`` with min_pixels <= H*W <= max_pixels, aspect kept.

    >>> smart_resize(360, 640, min_pixels=VIDEO_MIN_PIXELS, max_pixels=VIDEO_MAX_PIXELS)
    (364, 644)
    """
    if max_pixels < min_pixels:
        raise ValueError(f"max_pixels ({max_pixels}) must be >= min_pixels ({min_pixels})")
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"aspect ratio must be at most {MAX_RATIO}, got {max(height, width) / min(height, width):.1f}"
        )
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by(height / beta, factor)
        w_bar = _floor_by(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return h_bar, w_bar


def smart_nframes(total_frames: int, video_fps: float, budget: FrameBudget | None = None) -> int:
    """Number of frames to sample from ``total_frames`` frames at ``video_fps`` (always even).

    Raises ValueError when the result is not within [2, total_frames] (e.g. a 1-frame video).

    >>> smart_nframes(300, 30.0)  # 10 s at 2 fps
    20
    >>> smart_nframes(300, 30.0, FrameBudget(max_frames=16))
    16
    """
    budget = budget or FrameBudget()
    if budget.nframes is not None:
        nframes = _round_by(budget.nframes, FRAME_FACTOR)
    else:
        min_frames = _ceil_by(budget.min_frames, FRAME_FACTOR)
        max_frames = _floor_by(budget.max_frames, FRAME_FACTOR)
        n = total_frames / video_fps * budget.fps
        n = min(min(max(n, min_frames), max_frames), total_frames)
        nframes = _floor_by(n, FRAME_FACTOR)
    if not FRAME_FACTOR <= nframes <= total_frames:
        raise ValueError(
            f"cannot sample {nframes} frame(s) from {total_frames}: the count must be in "
            f"[{FRAME_FACTOR}, {total_frames}]"
        )
    return nframes


def frame_range(total_frames: int, video_fps: float, budget: FrameBudget | None = None) -> tuple[int, int]:
    """First and last source frame (inclusive) inside ``video_start``/``video_end``.

    As qwen-vl-utils' decord/torchcodec readers: times are clamped to the video, the start is
    rounded up and the end down to whole frames.
    """
    budget = budget or FrameBudget()
    if video_fps <= 0 or total_frames <= 0:
        raise ValueError(f"need a positive frame count and fps, got {total_frames} frames at {video_fps} fps")
    if budget.video_start is None and budget.video_end is None:
        return 0, total_frames - 1
    max_duration = total_frames / video_fps
    start = 0
    if budget.video_start is not None:
        start = math.ceil(max(0.0, min(budget.video_start, max_duration)) * video_fps)
    end = total_frames - 1
    if budget.video_end is not None:
        end = min(math.floor(max(0.0, min(budget.video_end, max_duration)) * video_fps), total_frames - 1)
    if start >= end:
        raise ValueError(
            f"time range [{budget.video_start}, {budget.video_end}] s selects frames {start}..{end} of a "
            f"{max_duration:.2f} s video ({total_frames} frames at {video_fps:g} fps): empty"
        )
    return start, end


def sample_indices(
    total_frames: int, video_fps: float, budget: FrameBudget | None = None
) -> tuple[list[int], float]:
    """Source frame indices to decode and the effective sampling fps, as qwen-vl-utils chooses them.

    Indices are ``linspace(start, end, n).round()`` over the (clipped) range; the effective fps
    is ``n / frames_in_range * video_fps`` (what ``second_per_grid_ts`` = 2 / fps is built from).
    """
    start, end = frame_range(total_frames, video_fps, budget)
    in_range = end - start + 1
    nframes = smart_nframes(in_range, video_fps, budget)
    # torch.linspace in float32 (not numpy's float64): its rounding decides ties on long videos,
    # and matching it keeps our indices identical to qwen-vl-utils'.
    import torch

    indices = torch.linspace(start, end, nframes).round().long().tolist()
    return indices, nframes / max(in_range, 1e-6) * video_fps


def frame_pixel_limits(nframes: int, budget: FrameBudget | None = None) -> tuple[float, float]:
    """(min_pixels, max_pixels) per frame after dividing ``total_pixels`` over ``nframes`` frames.

    qwen-vl-utils: max = min(768*28*28, total / nframes * 2), never below 1.05 * min_pixels,
    then capped by the requested ``max_pixels``.
    """
    budget = budget or FrameBudget()
    total = DEFAULT_TOTAL_PIXELS if budget.total_pixels is None else budget.total_pixels
    limit = max(min(VIDEO_MAX_PIXELS, total / nframes * FRAME_FACTOR), int(budget.min_pixels * 1.05))
    if budget.max_pixels > limit:
        logger.debug(
            "max_pixels %s exceeds the per-frame limit %s; using the limit", budget.max_pixels, limit
        )
    return budget.min_pixels, min(budget.max_pixels, limit)


def frame_size(height: int, width: int, nframes: int, budget: FrameBudget | None = None) -> tuple[int, int]:
    """Resized (height, width) of every frame of an ``nframes``-frame clip from ``height`` x ``width``."""
    min_pixels, max_pixels = frame_pixel_limits(nframes, budget)
    return smart_resize(height, width, IMAGE_FACTOR, min_pixels, max_pixels)

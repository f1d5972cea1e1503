"""Video decoding and frame sampling with qwen-vl-utils' budget semantics (see docs/video.md)."""

from videorft.video.budget import (
    FrameBudget,
    frame_pixel_limits,
    frame_range,
    frame_size,
    sample_indices,
    smart_nframes,
    smart_resize,
)
from videorft.video.decode import VideoInfo
from videorft.video.errors import VideoDecodeError
from videorft.video.folder import DEFAULT_FOLDER_FPS, load_image
from videorft.video.loader import VideoClip, load_video, probe_video, record_budget

__all__ = [
    "DEFAULT_FOLDER_FPS",
    "FrameBudget",
    "VideoClip",
    "VideoDecodeError",
    "VideoInfo",
    "frame_pixel_limits",
    "frame_range",
    "frame_size",
    "load_image",
    "load_video",
    "record_budget",
    "probe_video",
    "sample_indices",
    "smart_nframes",
    "smart_resize",
]

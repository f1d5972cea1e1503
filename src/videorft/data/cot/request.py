"""What the teacher sees: sampled frames (as JPEG ``image_url`` parts or one encoded ``video_url``) and the
task prompt, in OpenAI chat-completions content parts."""

from __future__ import annotations

import base64
import io
import os
from fractions import Fraction
from typing import Any

import numpy as np

from videorft.data.prompts import PromptSpec
from videorft.data.record import Record
from videorft.video import FrameBudget, VideoClip, load_image, load_video, record_budget

__all__ = [
    "VIDEO_FORMATS",
    "build_messages",
    "jpeg_data_url",
    "media_fingerprint",
    "mp4_data_url",
    "record_clip",
]

#: ``frames``: one ``image_url`` part per sampled frame (any vision server; vLLM needs
#: ``--limit-mm-per-prompt`` >= the frame count). ``video_url``: the sampled frames re-encoded as one
#: H.264 mp4 data URL (vLLM's video input; the server may resample it).
VIDEO_FORMATS: tuple[str, ...] = ("frames", "video_url")


def record_clip(record: Record, budget: FrameBudget) -> VideoClip:
    """The record's sampled frames, with its own frame count and time window applied (``record_budget``, as in
    training, so teacher and student see the same frames)."""
    assert record.video is not None
    return load_video(record.video, record_budget(record, budget))


def jpeg_data_url(frame: np.ndarray, quality: int = 90) -> str:
    """``data:image/jpeg;base64,...`` of one (H, W, 3) uint8 frame."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def mp4_data_url(frames: np.ndarray, fps: float) -> str:
    """``data:video/mp4;base64,...``: the (T, H, W, 3) frames as H.264 at the clip's effective fps, so the
    server sees the same frames and timing as the student."""
    from videorft.video.synth import write_video

    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1000)
    write_video(buf, frames, rate, options={"crf": "18", "preset": "veryfast"}, container_format="mp4")
    return "data:video/mp4;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def media_fingerprint(path: str | None) -> list[Any] | None:
    """(path, size) of a media file: enough to notice a replaced video without hashing its bytes."""
    if path is None:
        return None
    try:
        size = os.path.getsize(path) if os.path.isfile(path) else len(os.listdir(path))
    except OSError:
        size = None
    return [os.path.abspath(path), size]


def build_messages(
    record: Record,
    *,
    budget: FrameBudget,
    video_format: str = "frames",
    timing: bool = True,
    template: str | None = None,
    system: str | None = None,
    jpeg_quality: int = 90,
) -> list[dict[str, Any]]:
    """Chat messages for the teacher: optional system turn, then ``[media parts..., prompt text]``.

    ``timing`` puts duration, fps and frame timestamps in the prompt; separate frame images carry no
    time, so without it a teacher cannot ground events in seconds.
    """
    if video_format not in VIDEO_FORMATS:
        raise ValueError(f"unknown video format {video_format!r}; valid: {', '.join(VIDEO_FORMATS)}")
    parts: list[dict[str, Any]] = []
    clip = None
    if record.video is not None:
        clip = record_clip(record, budget)
        if video_format == "frames":
            parts += [_image_part(jpeg_data_url(f, jpeg_quality)) for f in clip.frames]
        else:
            parts.append({"type": "video_url", "video_url": {"url": mp4_data_url(clip.frames, clip.fps)}})
    elif record.image is not None:
        image = load_image(record.image, min_pixels=budget.min_pixels, max_pixels=budget.max_pixels)
        parts.append(_image_part(jpeg_data_url(image, jpeg_quality)))
    parts.append({"type": "text", "text": PromptSpec(template, timing=timing).text(record, clip)})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": parts})
    return messages


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}

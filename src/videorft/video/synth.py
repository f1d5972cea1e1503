"""Render small test videos with PyAV whose frames carry their own index (for tests and benchmarks).

Each frame has a moving gradient and square, plus a band of black/white blocks spelling the
frame number in binary, large enough to survive lossy coding and resizing.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

INDEX_BITS = 12  # frame numbers up to 4095


def pattern_frame(index: int, height: int, width: int) -> np.ndarray:
    """Frame ``index`` of the test pattern, (height, width, 3) uint8."""
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = ((x * 255 / width + 3 * index) % 256).astype(np.uint8)
    frame[..., 1] = ((y * 255 / height + 5 * index) % 256).astype(np.uint8)
    frame[..., 2] = 96
    side = max(4, min(height, width) // 5)
    top = height // 4 + (index * 3) % max(1, height - height // 4 - side)
    left = (index * 7) % max(1, width - side)
    frame[top : top + side, left : left + side] = (250, 250, 40)
    band = max(4, height // 5)
    bits = [(index >> b) & 1 for b in range(INDEX_BITS)]
    edges = np.linspace(0, width, INDEX_BITS + 1).astype(int)
    for b, bit in enumerate(bits):
        frame[:band, edges[b] : edges[b + 1]] = 255 if bit else 0
    return frame


def read_pattern_index(frame: np.ndarray) -> int:
    """The frame number written by ``pattern_frame`` (robust to coding noise and resizing)."""
    height, width = frame.shape[:2]
    band = max(4, height // 5)
    edges = np.linspace(0, width, INDEX_BITS + 1)
    row = frame[band // 2, :, :].mean(axis=-1)
    index = 0
    for b in range(INDEX_BITS):
        centre = int((edges[b] + edges[b + 1]) / 2)
        index |= int(row[centre] > 128) << b
    return index


def write_video(
    path: str | Path | BinaryIO,
    frames: Iterable[np.ndarray],
    fps: int | Fraction = 30,
    codec: str = "libx264",
    gop: int | None = None,
    options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
    container_format: str | None = None,
) -> Path | BinaryIO:
    """Encode RGB frames (H, W, 3) uint8 to ``path`` (a file, or a buffer with ``container_format``);
    ``gop`` = keyframe interval in frames."""
    is_buffer = hasattr(path, "write")
    with av.open(path if is_buffer else str(path), mode="w", format=container_format) as out:
        stream = None
        for frame in frames:
            if stream is None:
                stream = out.add_stream(codec, rate=fps, options=options or {})
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                stream.pix_fmt = pix_fmt
                if gop is not None:
                    stream.codec_context.gop_size = gop
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return path if is_buffer else Path(path)


#: Encoder settings per codec: fast to encode, decoded by FFmpeg's own decoders.
CODECS: dict[str, dict] = {
    "h264": {"codec": "libx264", "options": {"preset": "veryfast"}},
    "mpeg4": {"codec": "mpeg4", "options": {"qscale": "4"}},
    "vp9": {
        "codec": "libvpx-vp9",
        "options": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"},
    },
}


def render_test_video(
    path: str | Path,
    n_frames: int,
    height: int,
    width: int,
    fps: int = 30,
    codec: str = "h264",
    gop: int | None = 60,
) -> Path:
    """A ``pattern_frame`` video; ``codec`` is a key of CODECS (or an FFmpeg encoder name)."""
    spec = CODECS.get(codec, {"codec": codec, "options": {}})
    frames = (pattern_frame(i, height, width) for i in range(n_frames))
    return write_video(path, frames, fps=fps, codec=spec["codec"], gop=gop, options=dict(spec["options"]))


#: Files that pass a metadata probe but fail when their frames are decoded (``render_broken_video``).
BROKEN_KINDS = ("truncated_index_first", "corrupt_middle", "one_frame", "aspect_ratio", "few_frames")


def render_broken_video(path: str | Path, kind: str) -> Path:
    """A video of ``kind`` (one of BROKEN_KINDS) whose header probes fine but whose frames do not decode
    (under a budget of 4 or more frames): for tests of skipping bad media.

    ``truncated_index_first``: an MP4 with its index (moov) up front, cut in half; ``corrupt_middle``: the
    same file with its middle tenth overwritten; ``one_frame``: one frame (no temporal patch of 2);
    ``aspect_ratio``: 420x2 pixels (over qwen-vl-utils' 200:1); ``few_frames``: 3 frames.
    """
    path = Path(path)
    shapes = {"one_frame": (1, 64, 64), "aspect_ratio": (4, 2, 420), "few_frames": (3, 64, 64)}  # T, H, W
    if kind in shapes:
        return render_test_video(path, *shapes[kind])
    if kind not in BROKEN_KINDS:
        raise ValueError(f"unknown broken-video kind {kind!r}; valid: {', '.join(BROKEN_KINDS)}")
    plain = render_test_video(path.with_name(path.stem + ".plain.mp4"), 60, 64, 96, gop=12)
    fast = path.with_name(path.stem + ".faststart.mp4")
    with av.open(str(plain)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = out
            dst.mux(packet)
    data = bytearray(fast.read_bytes())
    plain.unlink()
    fast.unlink()
    if kind == "truncated_index_first":
        data = data[: len(data) // 2]
    else:
        for i in range(int(len(data) * 0.45), int(len(data) * 0.55)):
            data[i] = (data[i] * 7 + 13) % 256
    path.write_bytes(bytes(data))
    return path

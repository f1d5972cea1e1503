"""Render small test videos with PyAV whose frames carry their own index (for tests and benchmarks).

Each frame has a moving gradient and square, plus a band of black/white blocks spelling the
frame number in binary, large enough to survive lossy coding and resizing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int = 30,
    codec: str = "libx264",
    gop: int | None = None,
    options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode RGB frames (H, W, 3) uint8 to ``path``; ``gop`` = keyframe interval in frames."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps, options=options or {})
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                stream.pix_fmt = pix_fmt
                if gop is not None:
                    stream.codec_context.gop_size = gop
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return path


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

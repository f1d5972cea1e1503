"""PyAV decoding: probing, a packet index, and a sampler that seeks instead of decoding everything.

Frame *i* of a video is the i-th frame in presentation order, i.e. the i-th frame a full
sequential decode outputs. The index maps it to its presentation timestamp (pts) and to the
last keyframe at or before it, found by demuxing packets (no decoding: cheap). The sampler then
decodes forward from that keyframe for each wanted frame, or keeps decoding sequentially when
the next wanted frame is closer than the next keyframe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from videorft.video.errors import VideoDecodeError

#: swscale interpolation used for the one-pass YUV -> RGB + resize (antialiased when shrinking).
INTERPOLATION = "BICUBIC"
#: Seek only when it skips at least this many frames: a seek plus decoder restart costs a few
#: frame decodes (measured ~2-5 on 360p h264/vp9/mpeg4), so shorter gaps are decoded through.
SEEK_MIN_GAP = 4


@dataclass(frozen=True)
class VideoInfo:
    """What a video (or frame folder) holds, from container metadata."""

    path: str
    duration: float  # seconds
    fps: float  # average source frame rate
    n_frames: int
    width: int
    height: int
    codec: str  # decoder name ("h264", "vp9", ...); "images" for a frame folder


@dataclass(frozen=True)
class FrameIndex:
    """Presentation-order frame table of one video stream, built by demuxing packets."""

    pts: np.ndarray  # (N,) int64, sorted presentation timestamps in ``time_base`` units
    prev_keyframe: np.ndarray  # (N,) int64, index of the last keyframe <= i (-1 if none)
    time_base: Fraction
    seekable: bool  # every packet has a distinct pts, so frames can be found by pts after a seek

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    def seconds(self, i: int) -> float:
        """Time of frame ``i`` from the first frame, in seconds."""
        if not self.seekable:
            raise ValueError("frame times are unknown without pts")
        return float((int(self.pts[i]) - int(self.pts[0])) * self.time_base)


class _SeekFailed(Exception):
    """A seek landed after the wanted frame (inexact container index); decode sequentially instead."""


class _PtsMismatch(Exception):
    """Decoded frames do not carry the packets' pts (e.g. packed B-frames); identify frames by order."""


def check_file(path: str | Path) -> Path:
    """The path as a Path, or VideoDecodeError when it is missing or empty."""
    p = Path(path)
    if not p.exists():
        raise VideoDecodeError(p, "file not found")
    if p.is_file() and p.stat().st_size == 0:
        raise VideoDecodeError(p, "empty file (0 bytes)")
    return p


def open_video(path: str | Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open ``path`` and return (container, first video stream); every failure is a VideoDecodeError."""
    p = check_file(path)
    try:
        container = av.open(os.fspath(p), mode="r")
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(
            p, f"not a readable media file: corrupt, truncated or unsupported ({_ffmpeg_reason(exc)})"
        ) from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(p, "no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        container.close()
        raise VideoDecodeError(p, "unsupported video codec")
    return container, stream


def _ffmpeg_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


@contextmanager
def _stream_errors(path: str | Path, doing: str) -> Iterator[None]:
    """FFmpeg failures in the block become one VideoDecodeError of ``path`` (a bad file, not a traceback)."""
    try:
        yield
    except av.error.FFmpegError as exc:
        reason = f"corrupt or truncated stream while {doing} ({_ffmpeg_reason(exc)})"
        raise VideoDecodeError(path, reason) from None


def _stream_fps(stream: av.video.stream.VideoStream, n_frames: int, duration: float | None) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    if duration and n_frames:
        return n_frames / duration
    return None


def _metadata_duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def scan_index(path: str | Path) -> FrameIndex:
    """Demux (not decode) the first video stream into a presentation-order frame index."""
    container, stream = open_video(path)
    pts: list[int | None] = []
    keys: list[bool] = []
    with _stream_errors(path, "reading packets"), container:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:  # flush packets; edit-list discards
                continue
            pts.append(packet.pts)
            keys.append(packet.is_keyframe)
        time_base = stream.time_base or Fraction(1, 1)
    if not pts:
        raise VideoDecodeError(path, "video stream has no frames")
    known = [p for p in pts if p is not None]
    seekable = len(known) == len(pts) and len(set(known)) == len(known)
    if not seekable:
        # Without distinct pts, frames are identified by their output order only.
        return FrameIndex(np.arange(len(pts), dtype=np.int64), np.zeros(len(pts), np.int64), time_base, False)
    order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
    sorted_pts = np.asarray(pts, dtype=np.int64)[order]
    is_key = np.asarray(keys, dtype=bool)[order]
    prev_key = np.maximum.accumulate(np.where(is_key, np.arange(len(pts)), -1))
    return FrameIndex(sorted_pts, prev_key.astype(np.int64), time_base, True)


def probe_file(path: str | Path) -> VideoInfo:
    """Duration, fps, frame count, size and codec of a video file (``videorft.video.probe_video`` also takes
    frame folders).

    Reads container metadata; the frame count is recounted from packets when the container does
    not store it or it disagrees with duration x fps (as in many WebM/MKV files).
    """
    p = check_file(path)
    meta = _read_metadata(p)
    n_frames = meta.n_frames
    plausible = n_frames > 0 and (
        meta.duration is None
        or meta.fps is None
        or abs(n_frames - meta.duration * meta.fps) <= max(2.0, 0.05 * n_frames)
    )
    if plausible:
        return meta.info(n_frames)
    return probe_and_index(p)[0]


def probe_and_index(path: str | Path) -> tuple[VideoInfo, FrameIndex]:
    """VideoInfo with the exact frame count, and the frame index it was counted from.

    Raises VideoDecodeError when the packets end well before what the container header promises
    (a truncated file whose remaining frames would still decode).
    """
    p = check_file(path)
    meta = _read_metadata(p)
    index = scan_index(p)
    info = meta.info(index.n_frames)
    if meta.n_frames and meta.n_frames - index.n_frames > max(2, 0.05 * meta.n_frames):
        raise VideoDecodeError(
            p, f"truncated: the header lists {meta.n_frames} frames but only {index.n_frames} are present"
        )
    if meta.duration_trusted and index.seekable and meta.duration:
        extent = index.seconds(index.n_frames - 1) + 1 / info.fps
        if meta.duration - extent > max(1.0, 0.1 * meta.duration):
            raise VideoDecodeError(
                p, f"truncated: frames end at {extent:.2f} s but the header says {meta.duration:.2f} s"
            )
    return info, index


@dataclass(frozen=True)
class _Metadata:
    path: Path
    width: int
    height: int
    codec: str
    n_frames: int  # as the container states it (0 = unknown)
    duration: float | None
    fps: float | None
    duration_trusted: bool  # the duration is the video stream's own (not an audio track's)

    def info(self, n_frames: int) -> VideoInfo:
        fps = self.fps or (n_frames / self.duration if self.duration else None)
        if not fps:
            raise VideoDecodeError(self.path, "frame rate unknown (no rate or duration in the container)")
        duration = self.duration or n_frames / fps
        return VideoInfo(str(self.path), duration, fps, n_frames, self.width, self.height, self.codec)


def _read_metadata(p: Path) -> _Metadata:
    container, stream = open_video(p)
    with container:
        width, height = stream.codec_context.width, stream.codec_context.height
        n_frames = int(stream.frames or 0)
        duration = _metadata_duration(container, stream)
        # A container-level duration may come from a longer audio track; trust it alone only
        # when the video is the only stream.
        trusted = bool(stream.duration) or len(container.streams) == 1
        fps = _stream_fps(stream, n_frames, duration)
        meta = _Metadata(p, width, height, stream.codec_context.name, n_frames, duration, fps, trusted)
    if width <= 0 or height <= 0:
        raise VideoDecodeError(p, f"invalid frame size {width}x{height} (unsupported or corrupt stream)")
    return meta


class _Converter:
    """YUV -> RGB24 at the target size in one swscale pass, reusing one scaler context."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = self._reformatter.reformat(
            frame, width=self.width, height=self.height, format="rgb24", interpolation=INTERPOLATION
        )
        return rgb.to_ndarray()  # (H, W, 3) uint8


def decode_frames(
    path: str | Path,
    index: FrameIndex,
    wanted: list[int],
    height: int,
    width: int,
    *,
    seek: bool = True,
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """Frames ``wanted`` (source indices, any order, repeats allowed) as (T, height, width, 3) uint8.

    With ``seek`` the decoder jumps to the keyframe before a wanted frame whenever that keyframe
    lies beyond what was already decoded; otherwise it decodes forward. A seek that overshoots
    (inexact index) falls back to one sequential pass; frames whose pts do not match their packets'
    are identified by output order instead. ``stats``, if given, receives the
    numbers of frames decoded and seeks made.
    """
    unique = sorted(set(wanted))
    if unique and not 0 <= unique[0] <= unique[-1] < index.n_frames:
        raise ValueError(f"frame indices must be in [0, {index.n_frames}), got {unique[0]}..{unique[-1]}")
    convert = _Converter(height, width)
    with _stream_errors(path, "decoding"):
        try:
            try:
                got = _decode(path, index, unique, convert, seek=seek and index.seekable, stats=stats)
            except _SeekFailed:
                got = _decode(path, index, unique, convert, seek=False, stats=stats)
        except _PtsMismatch:
            got = _decode(path, index, unique, convert, seek=False, stats=stats, by_order=True)
    if not wanted:
        return np.zeros((0, height, width, 3), np.uint8)
    return np.stack([got[i] for i in wanted])


def _decode(
    path: str | Path,
    index: FrameIndex,
    unique: list[int],
    convert: _Converter,
    *,
    seek: bool,
    stats: dict[str, int] | None,
    by_order: bool = False,
) -> dict[int, np.ndarray]:
    container, stream = open_video(path)
    stream.thread_type = "AUTO"
    by_pts = index.seekable and not by_order
    pts_to_idx = {int(p): i for i, p in enumerate(index.pts)} if by_pts else {}
    out: dict[int, np.ndarray] = {}
    wanted_pts = {int(index.pts[t]) for t in unique} if by_pts else None
    with container:
        frames = _frames(container, stream, wanted_pts)
        count = -1  # output frames so far (frame identity for streams without pts)
        cur = -1  # index of the last frame the decoder output
        seeks = 0
        for t in unique:
            just_seeked = False
            k = int(index.prev_keyframe[t])
            if seek and k - cur - 1 >= SEEK_MIN_GAP:
                # Decoding from `cur` to `k` would be wasted work: jump to the keyframe.
                frames.close()
                container.seek(int(index.pts[k]), stream=stream, backward=True)
                frames = _frames(container, stream, wanted_pts)
                just_seeked = True
                seeks += 1
            for frame in frames:
                count += 1
                i = pts_to_idx.get(frame.pts, -1) if by_pts else count
                if i < 0:
                    continue  # a frame outside the index (e.g. an edit-list discard)
                if just_seeked:
                    just_seeked = False
                    if i > t:
                        raise _SeekFailed
                cur = i
                if i == t:
                    out[t] = convert(frame)
                    break
                if i > t:
                    if by_pts:
                        raise _PtsMismatch
                    raise VideoDecodeError(
                        path, f"frame {t} was not produced by the decoder (corrupt stream?)"
                    )
            else:
                if by_pts:
                    raise _PtsMismatch  # maybe frames lack the packets' pts: retry by order
                raise VideoDecodeError(
                    path, f"stream ended before frame {t} of {index.n_frames} (truncated or corrupt file?)"
                )
        frames.close()
    if stats is not None:
        stats.update(decoded=count + 1, seeks=seeks)
    return out


def _frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, wanted_pts: set[int] | None
) -> Iterator[av.VideoFrame]:
    """Decoded frames from the current position; packets of unwanted frames skip non-reference work.

    A frame nothing else references (e.g. most B-frames) is not decoded unless it is wanted; the
    decoder skips it without affecting any other frame, so results stay bit-identical.
    """
    ctx = stream.codec_context
    for packet in container.demux(stream):
        if packet.size == 0:  # end of stream: drain the decoder
            ctx.skip_frame = "DEFAULT"
            yield from ctx.decode(None)
            return
        if wanted_pts is not None:
            ctx.skip_frame = "DEFAULT" if packet.pts in wanted_pts else "NONREF"
        yield from ctx.decode(packet)


def decode_all_then_pick(path: str | Path, wanted: list[int], height: int, width: int) -> np.ndarray:
    """Baseline: decode every frame in order and keep the ``wanted`` ones (same conversion as ours).

    What simple loaders do (they even convert every frame); used by tests and the benchmark.
    """
    container, stream = open_video(path)
    stream.thread_type = "AUTO"
    convert = _Converter(height, width)
    want = set(wanted)
    got: dict[int, np.ndarray] = {}
    with _stream_errors(path, "decoding"), container:
        for i, frame in enumerate(container.decode(stream)):
            if i in want:
                got[i] = convert(frame)
    missing = want - got.keys()
    if missing:
        raise VideoDecodeError(path, f"stream ended before frame {min(missing)} (truncated or corrupt file?)")
    return np.stack([got[i] for i in wanted]) if wanted else np.zeros((0, height, width, 3), np.uint8)

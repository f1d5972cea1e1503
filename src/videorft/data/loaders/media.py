"""Cheap checks that a video / frame folder / image can be read, and its basic statistics.

Videos go through ``videorft.video.probe_video`` when that package is importable; otherwise a
minimal PyAV probe (open the container, decode one frame) stands in, so loaders work either way.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"})


class MediaError(Exception):
    """A video, frame folder or image that cannot be read."""


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learned; fields are None where the container does not say."""

    kind: str  # "video" | "frames" | "image"
    duration: float | None = None  # seconds
    fps: float | None = None
    nframes: int | None = None
    width: int | None = None
    height: int | None = None


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files of a frame folder, in name order (GOT-10k: 00000001.jpg, ...)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe a video file, a folder of frames or an image; raise `MediaError` when unreadable."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"not found: {p}")
    if p.is_dir():
        return _probe_video(p, kind="frames")
    if p.stat().st_size == 0:
        raise MediaError(f"empty file: {p}")
    if is_image_path(p):
        width, height = _image_size(p)
        return MediaInfo(kind="image", nframes=1, width=width, height=height)
    return _probe_video(p)


class ProbeCache:
    """Probe results (and probe errors) of one dataset in a JSON file, each keyed by path and checked
    against the file's size and mtime, so a changed file is probed again. Multi-process training probes
    on the main process and the other ranks read the file (``training.run``); a write replaces the file
    atomically, so concurrent writers lose entries (probed again next time), never corrupt the file."""

    def __init__(self, file: str | os.PathLike[str]) -> None:
        self.file = Path(file)
        self.probes = 0  # probes actually run (cache misses)
        self._dirty = False
        try:
            self._entries: dict[str, dict] = dict(json.loads(self.file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            self._entries = {}  # absent or not ours: probe everything again

    def probe(self, path: str | os.PathLike[str]) -> MediaInfo:
        """``probe_media(path)``, from the cache when the file's size and mtime are unchanged."""
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError:
            return probe_media(path)  # raises its "not found"
        stamp = [st.st_size, st.st_mtime_ns]
        entry = self._entries.get(key)
        if entry is None or entry.get("stamp") != stamp:
            self.probes += 1
            try:
                entry = {"stamp": stamp, "info": dataclasses.asdict(probe_media(path))}
            except MediaError as exc:
                entry = {"stamp": stamp, "error": str(exc)}
            self._entries[key] = entry
            self._dirty = True
        if "error" in entry:
            raise MediaError(entry["error"])
        return MediaInfo(**entry["info"])

    def save(self) -> None:
        if not self._dirty:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._entries), encoding="utf-8")
        os.replace(tmp, self.file)
        self._dirty = False


def _image_size(p: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            im.load()  # verify() alone misses truncated pixel data
            return im.size
    except Image.DecompressionBombError as exc:
        raise MediaError(f"image too large to open safely {p}: {exc}") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise MediaError(f"unreadable image {p}: {exc}") from exc


def _probe_frames(p: Path) -> MediaInfo:
    frames = frame_files(p)
    if not frames:
        raise MediaError(f"frame folder has no images: {p}")
    width, height = _image_size(frames[0])
    return MediaInfo(kind="frames", nframes=len(frames), width=width, height=height)


def _probe_video(p: Path, kind: str = "video") -> MediaInfo:
    try:
        from videorft.video import VideoDecodeError, probe_video
    except ImportError:
        return _probe_frames(p) if kind == "frames" else _probe_video_pyav(p)
    try:
        info = probe_video(str(p))
    except VideoDecodeError as exc:
        raise MediaError(str(exc)) from exc
    return MediaInfo(
        kind=kind,
        duration=_first_attr(info, "duration", "duration_s"),
        fps=_first_attr(info, "fps", "avg_fps"),
        nframes=_first_attr(info, "n_frames", "num_frames", "nframes", "total_frames", "frames"),
        width=_first_attr(info, "width"),
        height=_first_attr(info, "height"),
    )


def _first_attr(obj: object, *names: str) -> float | int | None:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _probe_video_pyav(p: Path) -> MediaInfo:
    import av

    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise MediaError(f"no video stream in {p}")
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else None
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            nframes = stream.frames or (round(duration * fps) if duration and fps else None)
            # Decoding one frame catches files whose header parses but whose data does not.
            frame = next(container.decode(stream), None)
            if frame is None:
                raise MediaError(f"no decodable frame in {p}")
            return MediaInfo("video", duration, fps, nframes, frame.width, frame.height)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, StopIteration) as exc:
        raise MediaError(f"unreadable video {p}: {exc}") from exc

"""Cheap checks that a video / frame folder (``videorft.video.probe_video``) or image can be read."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from videorft.files import IMAGE_SUFFIXES, write_json


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


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe a video file, a folder of frames or an image; raise `MediaError` when unreadable."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"not found: {p}")
    if p.is_dir():
        return _probe_video(p, kind="frames")
    if p.stat().st_size == 0:
        raise MediaError(f"empty file: {p}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        width, height = _image_size(p)
        return MediaInfo(kind="image", nframes=1, width=width, height=height)
    return _probe_video(p)


class ProbeCache:
    """Probe results and errors of one dataset in a JSON file, keyed by path and checked against size and
    mtime; writes are atomic, so concurrent writers lose entries, never corrupt the file."""

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
        write_json(self.file, self._entries, indent=None)
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


def _probe_video(p: Path, kind: str = "video") -> MediaInfo:
    from videorft.video import VideoDecodeError, probe_video  # lazy: PyAV loads only when probing

    try:
        info = probe_video(str(p))
    except VideoDecodeError as exc:
        raise MediaError(str(exc)) from exc
    return MediaInfo(kind, info.duration, info.fps, info.n_frames, info.width, info.height)

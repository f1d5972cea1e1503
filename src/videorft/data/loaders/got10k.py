"""GOT-10k single-object tracking: VideoChat-R1's JSON and the original sequence folders."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LoadContext,
    get_field,
    get_str,
    parse_box,
    read_json_list,
    register_format,
    to_float,
)
from videorft.data.loaders.media import MediaError, probe_media
from videorft.data.record import Record, check_box_count

#: GOT-10k sequences are annotated at 10 frames per second.
GOT10K_FPS = 10.0


def _tracking_record(
    rid: str, video: str, obj: str, boxes: list[list[float]], meta: dict[str, Any]
) -> Record:
    return Record(
        id=rid,
        task="tracking",
        problem=obj,
        solution=boxes,
        video=video,
        meta={"object": obj, "first_box": boxes[0], "nframes": len(boxes), **meta},
    )


@register_format("got10k_json", tasks=("tracking",))
def load_got10k_json(path: Path, ctx: LoadContext) -> list[Record]:
    """VideoChat-R1 GOT-10k JSON: [{path, object, boxes|gt (normalised, one per sampled frame)}]"""

    def parse(item: dict[str, Any], i: int) -> Record:
        key, value = get_field(item, "boxes", "gt")
        if not isinstance(value, list) or not value:
            raise FieldError(key, f"expected a non-empty list of boxes, got {value!r:.80}")
        boxes = [parse_box(b, key) for b in value]
        check_box_count(len(boxes), key)
        if "nframes" in item:
            n = item["nframes"]
            if not isinstance(n, int) or isinstance(n, bool) or n != len(boxes):
                raise FieldError("nframes", f"expected {len(boxes)} (one box per sampled frame), got {n!r}")
        raw_path = get_str(item, "path")
        video = ctx.media(raw_path, "path", kind="video or frame folder")
        obj = get_str(item, "object").strip()
        return _tracking_record(Path(raw_path.rstrip("/")).stem, video, obj, boxes, {})

    return ctx.records(read_json_list(path, ctx), parse)


def sampled_frames(frames: int, nframes: int) -> list[int]:
    """The frames a record of ``nframes`` boxes is seen on: those the video loader picks for ``meta['nframes']``
    (``linspace(0, frames - 1, nframes).round()`` as qwen-vl-utils), so each box is on the frame it describes."""
    from videorft.video.budget import FrameBudget, sample_indices  # lazy: videorft.video loads PyAV

    return sample_indices(frames, GOT10K_FPS, FrameBudget(nframes=nframes))[0]


def _meta_info(seq: Path) -> tuple[str | None, tuple[int, int] | None]:
    """(object_class, (width, height)) from GOT-10k's meta_info.ini, where present."""
    ini = seq / "meta_info.ini"
    if not ini.is_file():
        return None, None
    parser = configparser.ConfigParser()
    try:
        parser.read_string(ini.read_text(encoding="utf-8-sig"))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise FieldError("meta_info.ini", f"unparseable: {exc}") from None
    section = parser["METAINFO"] if parser.has_section("METAINFO") else {}
    obj = section.get("object_class")
    m = re.match(r"\(?\s*(\d+)\s*,\s*(\d+)", section.get("resolution", ""))
    return (obj.strip() if obj else None), ((int(m.group(1)), int(m.group(2))) if m else None)


def _read_groundtruth(seq: Path) -> list[list[float]]:
    gt = seq / "groundtruth.txt"
    rows = []
    for lineno, line in enumerate(gt.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        parts = re.split(r"[,\s]+", line.strip())
        field = f"groundtruth.txt line {lineno}"
        if len(parts) != 4:
            raise FieldError(field, f"expected 'x,y,w,h', got {line.strip()!r:.80}")
        x, y, w, h = (to_float(p, field) for p in parts)
        if w < 0 or h < 0:
            raise FieldError(field, f"negative width/height in {line.strip()!r}")
        rows.append([x, y, w, h])
    return rows


def _frame_files(seq: Path) -> list[Path]:
    from videorft.video import VideoDecodeError
    from videorft.video.folder import list_frames  # the loader's list: box i belongs to its frame i

    try:
        return list_frames(seq)
    except VideoDecodeError as exc:
        raise FieldError("frames", str(exc)) from None


def _sequences(root: Path) -> list[Path]:
    if (root / "groundtruth.txt").is_file():
        return [root]  # a single sequence folder
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "groundtruth.txt").is_file())


@register_format("got10k_dir", tasks=("tracking",))
def load_got10k_dir(path: Path, ctx: LoadContext, *, nframes: int = 8) -> list[Record]:
    """GOT-10k split folder: sequences of 00000001.jpg... with groundtruth.txt (x,y,w,h pixels)"""
    if not path.is_dir():
        raise ctx.error(None, None, "expected a GOT-10k split folder or sequence folder")
    from videorft.video.budget import FRAME_FACTOR  # lazy: videorft.video loads PyAV

    if not isinstance(nframes, int) or isinstance(nframes, bool) or nframes < 2 or nframes % FRAME_FACTOR:
        raise ctx.error(
            None, "nframes", f"expected an even integer >= 2 (frames come in pairs), got {nframes!r}"
        )
    sequences = _sequences(path)
    if not sequences:
        raise ctx.error(None, None, "no sequence folders with a groundtruth.txt found")
    records: list[Record] = []
    for i, seq in enumerate(sequences):
        with ctx.item(i):
            frames = _frame_files(seq)
            gt = _read_groundtruth(seq)
            if len(gt) != len(frames):
                raise FieldError(
                    "groundtruth.txt",
                    f"{len(gt)} boxes for {len(frames)} frames in {seq.name} (the test split only has the first box)",
                )
            if len(frames) < nframes:
                raise FieldError(
                    "frames", f"{seq.name} has {len(frames)} frames, fewer than nframes={nframes}"
                )
            obj, size = _meta_info(seq)
            if size is None:
                try:
                    info = probe_media(frames[0])
                except MediaError as exc:
                    raise FieldError("frames", str(exc)) from None
                size = (info.width or 0, info.height or 0)
            width, height = size
            if width <= 0 or height <= 0:
                raise FieldError("meta_info.ini", f"bad resolution {size} for {seq.name}")
            idx = sampled_frames(len(frames), nframes)
            boxes = [_normalise(gt[j], width, height) for j in idx]
            video = ctx.media_path(seq, "path", kind="frame folder")
            meta = {
                "frame_indices": idx,
                "fps": GOT10K_FPS,
                "duration": len(frames) / GOT10K_FPS,
                "width": width,
                "height": height,
            }
            record = _tracking_record(seq.name, video, obj or "target object", boxes, meta)
            records.append(ctx.finish(i, record))
    return records


def _normalise(xywh: list[float], width: int, height: int) -> list[float]:
    """Pixel ``x, y, w, h`` -> normalised ``[x0, y0, x1, y1]``, bounded as the got10k toolkit's
    ``rect_iou(..., bound=)``: x, y clipped to the frame, then w, h to what is left."""
    x, y, w, h = xywh
    x, y = min(max(x, 0.0), width), min(max(y, 0.0), height)
    w, h = min(max(w, 0.0), width - x), min(max(h, 0.0), height - y)
    return [_clip01(x / width), _clip01(y / height), _clip01((x + w) / width), _clip01((y + h) / height)]


def _clip01(v: float) -> float:
    return round(min(1.0, max(0.0, v)), 4)

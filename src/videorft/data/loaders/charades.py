"""Charades-STA temporal grounding: VideoChat-R1's JSON and the original ``VID START END##sentence`` text."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LoadContext,
    check_inside,
    get_duration,
    load_json_file,
    parse_interval,
    read_json_dict,
    register_format,
    require_dict,
    to_float,
)
from videorft.data.loaders.media import MediaError, probe_media
from videorft.data.record import Record


def _grounding_record(
    ctx: LoadContext,
    vid: str,
    k: int,
    sentence: Any,
    interval: list[float],
    duration: float | None,
    video_ext: str,
    fields: tuple[str, str],  # names of the sentence and interval fields in errors
) -> Record:
    sentence_field, interval_field = fields
    if not isinstance(sentence, str) or not sentence.strip():
        raise FieldError(sentence_field, f"expected a non-empty sentence, got {sentence!r:.80}")
    meta: dict[str, Any] = {"video_id": vid}
    if duration is not None:
        meta["duration"] = duration
        check_inside(interval, duration, interval_field)
    return Record(
        id=f"{vid}#{k}",
        task="temporal_grounding",
        problem=sentence.strip(),
        solution=interval,
        video=ctx.media(f"{vid}{video_ext}", "video_id"),
        meta=meta,
    )


@register_format("charades_json", tasks=("temporal_grounding",))
def load_charades_json(path: Path, ctx: LoadContext, *, video_ext: str = ".mp4") -> list[Record]:
    """VideoChat-R1 Charades-STA JSON: {video_id: {duration, timestamps, sentences}}"""
    records: list[Record] = []
    # Index = position of the video in the file. A bad video-level field skips all its sentences;
    # a bad sentence or interval skips that query only (the real train.json has 3 reversed ones).
    for i, (vid, raw) in enumerate(read_json_dict(path, ctx).items()):
        with ctx.item(i):
            item = require_dict(raw)
            duration = get_duration(item)
            stamps, sentences = item.get("timestamps"), item.get("sentences")
            if not isinstance(stamps, list) or not stamps:
                raise FieldError(
                    "timestamps", f"expected a non-empty list of [start, end], got {stamps!r:.80}"
                )
            if not isinstance(sentences, list) or len(sentences) != len(stamps):
                n = len(sentences) if isinstance(sentences, list) else type(sentences).__name__
                raise FieldError(
                    "sentences", f"expected a list of {len(stamps)} sentences (one per timestamp), got {n}"
                )
            for k, (stamp, sentence) in enumerate(zip(stamps, sentences)):
                fields = (f"sentences[{k}]", f"timestamps[{k}]")
                with ctx.item(i):
                    interval = parse_interval(stamp, fields[1])
                    record = _grounding_record(ctx, vid, k, sentence, interval, duration, video_ext, fields)
                    records.append(ctx.finish(i, record))
    return records


def _read_durations(path: Path) -> dict[str, float]:
    """Video id -> seconds from a JSON ({id: d} or {id: {duration: d}}) or a Charades_v1 CSV (id, length);
    a bad duration is a ValueError naming its JSON key or CSV line."""
    if path.suffix == ".json":
        data = load_json_file(path)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object {{video id: seconds}}, got a {type(data).__name__}")
        return {
            str(k): _seconds(v.get("duration") if isinstance(v, dict) else v, f"entry {k!r}")
            for k, v in data.items()
        }
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    key = "length" if rows and "length" in rows[0] else "duration"
    return {
        r["id"]: _seconds(r[key], f"line {n} ({r.get('id')})") for n, r in enumerate(rows, 2) if r.get(key)
    }


def _seconds(value: Any, where: str) -> float:
    try:
        d = to_float(value, "duration")
    except FieldError as exc:
        raise ValueError(f"{where}: {exc.reason}") from None
    if d <= 0:
        raise ValueError(f"{where}: a duration must be positive, got {value!r:.40}")
    return d


def _find_durations(path: Path) -> Path | None:
    """The Charades_v1_{train,test}.csv that ships beside charades_sta_{train,test}.txt."""
    candidates = [
        path.with_name(f"Charades_v1_{split}.csv") for split in ("train", "test") if split in path.name
    ]
    return next((p for p in candidates if p.is_file()), None)


_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s*##(.*)$")


@register_format("charades_txt", tasks=("temporal_grounding",))
def load_charades_txt(
    path: Path, ctx: LoadContext, *, durations: str | None = None, video_ext: str = ".mp4"
) -> list[Record]:
    """original Charades-STA text: 'VID START END##sentence' (durations from a companion file or the video)"""
    if not path.is_file():
        raise ctx.error(None, None, "annotation file not found")
    dur_path = Path(durations) if durations else _find_durations(path)
    try:
        known = _read_durations(dur_path) if dur_path else {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ctx.error(None, "durations", f"cannot read durations file {dur_path}: {exc}") from None
    ctx.unit = "line"
    records: list[Record] = []
    per_video: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        with ctx.item(lineno):
            m = _LINE.match(line.strip())
            if not m:
                raise FieldError(None, f"expected 'VIDEO_ID START END##sentence', got {line.strip()!r:.80}")
            vid = m.group(1)
            interval = parse_interval(
                [to_float(m.group(2), "start"), to_float(m.group(3), "end")], "timestamps"
            )
            k = per_video.get(vid, 0)
            fields = ("sentence", "timestamps")
            record = _grounding_record(ctx, vid, k, m.group(4), interval, known.get(vid), video_ext, fields)
            if "duration" not in record.meta:
                record.meta["duration"] = _probe_duration(record.video, vid)
                check_inside(interval, record.meta["duration"], "timestamps")
            per_video[vid] = k + 1
            records.append(ctx.finish(lineno, record))
    return records


def _probe_duration(video: str | None, vid: str) -> float:
    try:
        info = probe_media(video) if video else None
    except MediaError as exc:
        raise FieldError(
            "duration", f"no duration for {vid} in a durations file and the video is unreadable: {exc}"
        ) from None
    if info is None or not info.duration:
        raise FieldError("duration", f"no duration for {vid}: pass durations=FILE (json or Charades_v1 csv)")
    return float(info.duration)

"""NExT-GQA grounded video QA: VideoChat-R1's JSON list and the original CSV + ``gsub_*.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LoadContext,
    get_duration,
    get_field,
    get_str,
    load_json_file,
    normalise_options,
    option_letter,
    parse_intervals,
    read_csv_rows,
    read_json_list,
    register_format,
    require_dict,
)
from videorft.data.record import Record


def _gqa_record(
    ctx: LoadContext,
    rid: str,
    video: str,
    question: str,
    options: list[str],
    answer: Any,
    intervals: Any,
    duration: float,
    meta: dict[str, Any],
) -> Record:
    return Record(
        id=rid,
        task="grounding_qa",
        problem=question.strip(),
        solution={
            "answer": option_letter(answer, options, "answer"),
            "intervals": parse_intervals(intervals, "glue"),
        },
        video=ctx.media(video, "video"),
        options=options,
        meta={"duration": duration, **meta},
    )


@register_format("nextgqa_json", tasks=("grounding_qa",))
def load_nextgqa_json(path: Path, ctx: LoadContext) -> list[Record]:
    """VideoChat-R1 NExT-GQA JSON: [{video, question, options, answer, duration, glue}]"""

    def parse(item: dict[str, Any], i: int) -> Record:
        video = get_str(item, "video")
        _, intervals = get_field(item, "glue", "solution", "intervals")
        meta = {"video_id": Path(video).stem}
        if "type" in item:
            meta["question_type"] = item["type"]
        rid = str(item.get("id") or f"{Path(video).stem}_{i}")
        question, options = get_str(item, "question"), normalise_options(item.get("options"), "options")
        answer = get_field(item, "answer")[1]
        return _gqa_record(ctx, rid, video, question, options, answer, intervals, get_duration(item), meta)

    return ctx.records(read_json_list(path, ctx), parse)


def _companion(
    path: Path, given: str | None, default_name: str, ctx: LoadContext, field: str
) -> dict[str, Any] | None:
    p = Path(given) if given else path.with_name(default_name)
    if not p.is_file():
        if given:
            raise ctx.error(None, field, f"file not found: {p}")
        return None
    try:
        data = load_json_file(p)
    except (OSError, ValueError) as exc:
        raise ctx.error(None, field, f"cannot read {p}: {exc}") from None
    if not isinstance(data, dict):
        raise ctx.error(None, field, f"{p} must hold a JSON object keyed by video id")
    return data


@register_format("nextgqa_csv", tasks=("grounding_qa",))
def load_nextgqa_csv(
    path: Path,
    ctx: LoadContext,
    *,
    gsub: str | None = None,
    video_map: str | None = None,
    video_ext: str = ".mp4",
) -> list[Record]:
    """original NExT-GQA CSV (video_id, question, answer, qid, a0..a4) + gsub_<split>.json spans"""
    spans = _companion(path, gsub, f"gsub_{path.stem}.json", ctx, "gsub")
    if spans is None:
        raise ctx.error(
            None,
            "gsub",
            f"no time-span file: expected {path.with_name(f'gsub_{path.stem}.json')} or gsub=FILE",
        )
    # map_vid_vidorID.json maps the numeric video_id to its "folder/name" path in NExT-QA's video tree.
    vmap = _companion(path, video_map, "map_vid_vidorID.json", ctx, "video_map") or {}
    ctx.unit = "line"
    records: list[Record] = []
    required = ("video_id", "question", "answer", "qid", "a0", "a1", "a2", "a3", "a4")
    for lineno, row in read_csv_rows(path, ctx, required):
        with ctx.item(lineno):
            vid, qid = row["video_id"].strip(), row["qid"].strip()
            if vid not in spans:
                raise FieldError("video_id", f"video {vid} has no entry in the gsub file")
            span = require_dict(spans[vid])
            location = span.get("location")
            if not isinstance(location, dict) or qid not in location:
                raise FieldError("qid", f"question {qid} of video {vid} has no time span in the gsub file")
            options = normalise_options([row[f"a{k}"] for k in range(5)], "a0..a4")
            answer = row["answer"].strip()  # NExT-GQA: the option text; NExT-QA: its index
            rid, video, duration = f"{vid}_{qid}", str(vmap.get(vid, vid)) + video_ext, get_duration(span)
            meta = {"video_id": vid, "question_type": row.get("type", "")}
            record = _gqa_record(
                ctx, rid, video, row["question"], options, answer, location[qid], duration, meta
            )
            records.append(ctx.finish(lineno, record))
    return records

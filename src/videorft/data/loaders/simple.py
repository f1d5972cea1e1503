"""Flat video-level formats: quality assessment (VideoChat-R1) and videorft's caption JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from videorft.data.errors import FieldError
from videorft.data.loaders.base import (
    LoadContext,
    get_duration,
    get_str,
    read_json_list,
    register_format,
)
from videorft.data.record import Record


@register_format("quality_json", tasks=("quality",))
def load_quality_json(path: Path, ctx: LoadContext) -> list[Record]:
    """VideoChat-R1 quality assessment JSON: [{video, instruction|question, answer}]"""

    def parse(item: dict[str, Any], i: int) -> Record:
        video = get_str(item, "video")
        meta = {"duration": get_duration(item)} if "duration" in item else {}
        return Record(
            id=Path(video).stem,
            task="quality",
            problem=get_str(item, "instruction", "question").strip(),
            solution=get_str(item, "answer").strip(),
            video=ctx.media(video, "video"),
            meta=meta,
        )

    return ctx.records(read_json_list(path, ctx), parse)


@register_format("caption_json", tasks=("caption",))
def load_caption_json(path: Path, ctx: LoadContext) -> list[Record]:
    """videorft caption JSON: [{video, duration, events: [str, ...]}] (event-recall reward)"""

    def parse(item: dict[str, Any], i: int) -> Record:
        video = get_str(item, "video")
        events = item.get("events")
        if not isinstance(events, list) or not events:
            raise FieldError("events", f"expected a non-empty list of event strings, got {events!r:.80}")
        for k, e in enumerate(events):
            if not isinstance(e, str) or not e.strip():
                raise FieldError("events", f"event {k} must be a non-empty string, got {e!r:.80}")
        return Record(
            id=str(item.get("id") or Path(video).stem),
            task="caption",
            # The instruction lives in the template; an item may add its own question.
            problem=str(item.get("question") or "").strip(),
            solution={"events": [e.strip() for e in events]},
            video=ctx.media(video, "video"),
            meta={"duration": get_duration(item)},
        )

    return ctx.records(read_json_list(path, ctx), parse)

"""CoT SFT data from a teacher behind an OpenAI-compatible API (Video-R1's COT-165k recipe). See docs/cot.md."""

from videorft.data.cot.client import (
    ChatResult,
    SampleFailed,
    TeacherClient,
    TeacherUnavailable,
    completion_text,
)
from videorft.data.cot.pipeline import (
    REASONS,
    CotConfig,
    CotError,
    CotReport,
    RecordOutcome,
    SampleScore,
    cot_row,
    generate_cot,
    score_sample,
    select_best,
)
from videorft.data.cot.request import VIDEO_FORMATS, build_messages

__all__ = [
    "REASONS",
    "VIDEO_FORMATS",
    "ChatResult",
    "CotConfig",
    "CotError",
    "CotReport",
    "RecordOutcome",
    "SampleFailed",
    "SampleScore",
    "TeacherClient",
    "TeacherUnavailable",
    "build_messages",
    "completion_text",
    "cot_row",
    "generate_cot",
    "score_sample",
    "select_best",
]

"""The one record type every loader produces and every trainer/evaluator consumes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from videorft.data.errors import FieldError
from videorft.rewards.tasks import task_names

#: The built-in canonical task names (``videorft.rewards.tasks.register_task`` adds more).
TASKS: tuple[str, ...] = tuple(task_names())


@dataclass
class Record:
    """One training/evaluation sample; ``solution`` in its task's canonical form (docs/architecture.md),
    ``meta`` the task-specific fields (``duration``, ``object``, ``first_box``, ``process``, ...)."""

    id: str
    task: str
    problem: str  # the question / query / event sentence / object name
    solution: Any
    video: str | None = None  # absolute path to a video file or a folder of frames
    image: str | None = None  # absolute path to an image (Video-R1 mixes images in)
    options: list[str] = field(default_factory=list)  # ["A. ...", "B. ..."] for multiple choice
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in task_names():
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {', '.join(task_names())}")
        # the loaders check first, naming their own field; this covers a Record made in code
        if self.task == "tracking" and isinstance(self.solution, list):
            try:
                check_box_count(len(self.solution), "solution")
            except FieldError as exc:
                raise FieldError("solution", f"record {self.id!r}: {exc.reason}") from None

    @property
    def data_type(self) -> str:
        return "video" if self.video is not None else ("image" if self.image is not None else "text")

    @property
    def nframes(self) -> int | None:
        """The frames this record must be seen on, where it fixes them: ``meta['nframes']``, else one per box for
        tracking (box i describes sampled frame i); None: the frame budget decides. The prompt and the frame
        sampler (``videorft.video.record_budget``) both read this, so they cannot disagree."""
        if self.meta.get("nframes"):
            return int(self.meta["nframes"])
        if self.task == "tracking" and isinstance(self.solution, list):
            return len(self.solution)
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_box_count(n: int, field: str) -> None:
    """A tracking record's boxes, one per sampled frame: Qwen2.5-VL samples frames in pairs (2-frame temporal
    patches), so an odd count would be rounded by the frame sampler and boxes and frames would not line up."""
    from videorft.video.budget import FRAME_FACTOR  # lazy: videorft.video loads PyAV

    if n % FRAME_FACTOR:
        raise FieldError(field, f"{n} boxes: tracking needs an even number of boxes (frames come in pairs)")

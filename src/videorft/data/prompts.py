"""Prompts from Jinja templates (``videorft/templates/``, or a user's by path) and Qwen chat messages.
Templates see the `render_prompt` context and the filters ``secs`` and ``box``."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.record import Record

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STYLES: tuple[str, ...] = ("think", "no_think")


@dataclass(frozen=True)
class TimingInfo:
    """Video timing to put in the prompt: duration (s), sampling fps, the time of each sampled frame."""

    duration: float
    fps: float
    timestamps: tuple[float, ...] = field(default_factory=tuple)

    @classmethod
    def from_clip(cls, clip: Any) -> TimingInfo:
        """From a ``videorft.video.VideoClip`` (anything with duration, fps, timestamps)."""
        return cls(float(clip.duration), float(clip.fps), tuple(float(t) for t in clip.timestamps))

    @classmethod
    def from_timestamps(
        cls, timestamps: list[float], duration: float, fps: float | None = None
    ) -> TimingInfo:
        """Infer fps from the frame spacing when not given."""
        if fps is None:
            span = timestamps[-1] - timestamps[0] if len(timestamps) > 1 else 0.0
            fps = (len(timestamps) - 1) / span if span > 0 else 0.0
        return cls(float(duration), float(fps), tuple(float(t) for t in timestamps))


def fmt_secs(x: float) -> str:
    """12 -> "12.0", 0.3333 -> "0.33": two decimals at most, one at least."""
    text = f"{float(x):.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def fmt_box(box: list[float]) -> str:
    return "[" + ", ".join(str(round(float(v), 3)) for v in box) + "]"


def list_templates() -> list[str]:
    """Names of the built-in templates (partials starting with '_' excluded)."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.jinja") if not p.name.startswith("_"))


def task_templates() -> dict[str, str]:
    """Task -> default template file (``videorft.rewards.tasks.register_task``)."""
    from videorft.rewards.tasks import get_task, task_names

    return {t: get_task(t).template for t in task_names()}


@functools.cache
def _environment(user_dir: str | None) -> Any:
    import jinja2

    # A user template folder comes first, so user templates can {% include "_timing.jinja" %}.
    dirs = ([user_dir] if user_dir else []) + [str(TEMPLATE_DIR)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["secs"] = fmt_secs
    env.filters["box"] = fmt_box
    env.filters["add_suffix"] = lambda s, suffix: f"{s}{suffix}"
    return env


def template_file(template: str | None, task: str) -> Path:
    """The .jinja file ``task``'s prompt is rendered from: built-in (by name; None: the task's own) or a path."""
    if template is None:
        return TEMPLATE_DIR / task_templates()[task]
    p = Path(template)
    if p.suffix == ".jinja" and (p.is_file() or os.sep in template or "/" in template):
        return p
    return TEMPLATE_DIR / (template if template.endswith(".jinja") else f"{template}.jinja")


def _load_template(template: str | None, task: str) -> Any:
    import jinja2

    path = template_file(template, task)
    user = path.parent != TEMPLATE_DIR
    if user and not path.is_file():
        raise FileNotFoundError(f"prompt template not found: {path}")
    if not user and path.stem not in list_templates():
        raise ValueError(
            f"unknown prompt template {template!r}; built-in: {', '.join(list_templates())}, or a path"
        )
    try:
        return _environment(str(path.resolve().parent) if user else None).get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        shown = str(path) if user else path.name
        raise ValueError(f"{shown}: line {exc.lineno}: template syntax error: {exc.message}") from None


def render_prompt(
    record: Record, *, template: str | None = None, timing: TimingInfo | None = None, style: str = "think"
) -> str:
    """The user prompt of ``record`` from ``template`` (name, .jinja path, None: the task's own)."""
    import jinja2

    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; valid: {', '.join(STYLES)}")
    tpl = _load_template(template, record.task)
    meta = record.meta
    boxes = record.solution if record.task == "tracking" and isinstance(record.solution, list) else None
    context = {
        "record": record,
        "task": record.task,
        "problem": record.problem,
        "options": record.options,
        "meta": meta,
        "media": record.data_type,
        "object": meta.get("object", record.problem),
        "first_box": meta.get("first_box") or (boxes[0] if boxes else None),
        "nframes": record.nframes,
        "think": style == "think",
        "timing": timing if record.image is None else None,  # a still image has no timing
    }
    try:
        text = tpl.render(**context)
    except jinja2.UndefinedError as exc:
        raise ValueError(f"{tpl.filename}: record {record.id!r}: {exc.message}") from None
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@dataclass(frozen=True)
class PromptSpec:
    """How a record becomes a prompt (template, answer style, timing, system turn); training and
    evaluation each hand one to ``videorft.inputs.SampleEncoder``."""

    template: str | None = None  # built-in name or .jinja path; None: the task's own
    style: str = "think"  # "think" or "no_think"
    timing: bool = False  # duration, sampling fps and every sampled frame's timestamp in the prompt
    system: str | None = None  # system turn; None: the chat template's default

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown prompt style {self.style!r}; valid: {', '.join(STYLES)}")

    def text(self, record: Record, clip: Any = None) -> str:
        """The user prompt of ``record``; ``clip`` (a ``VideoClip``) supplies the timing when ``timing``."""
        info = TimingInfo.from_clip(clip) if self.timing and clip is not None else None
        return render_prompt(record, template=self.template, timing=info, style=self.style)

    def conversation(self, record: Record, text: str) -> list[dict[str, Any]]:
        return build_conversation(record, text, system=self.system)


def build_conversation(
    record: Record, prompt: str, *, system: str | None = None, with_path: bool = False
) -> list[dict[str, Any]]:
    """Qwen chat messages: an optional system turn, then the user turn ``[media part, text part]``
    (``with_path``: the media file under the part's type key, qwen-vl-utils style)."""
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    content: list[dict[str, Any]] = []
    kind = record.data_type
    if kind in ("video", "image"):
        part: dict[str, Any] = {"type": kind}
        if with_path:
            part[kind] = record.video if kind == "video" else record.image
        content.append(part)
    content.append({"type": "text", "text": prompt})
    messages.append({"role": "user", "content": content})
    return messages

"""CoT generation (Video-R1's cold-start recipe): ask a teacher for ``<think>``/``<answer>`` completions,
score them with the task reward, keep the best sample above a threshold, write the Video-R1 COT schema."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.cot.client import ChatResult, SampleFailed, TeacherClient, TeacherUnavailable
from videorft.data.cot.request import VIDEO_FORMATS, build_messages, media_fingerprint
from videorft.data.errors import SkipReport
from videorft.data.loaders.videor1 import PROBLEM_TYPES
from videorft.data.record import Record
from videorft.files import SqliteCache, cache_key, write_json
from videorft.rewards import get_task_reward
from videorft.rewards.parsing import extract_answer, last_block
from videorft.rewards.tasks import get_task, reward_meta
from videorft.video import FrameBudget

#: Why a record produced no CoT: every sample failed at the server; none had the think/answer format;
#: the best did not beat ``min_reward``; the reward failed (judge down); its media was unreadable.
REASONS: tuple[str, ...] = ("server_error", "no_format", "low_reward", "score_error", "bad_input")

#: Video-R1 ``problem_type`` spelling of the tasks its loader reads; other tasks keep their canonical name.
VIDEO_R1_TYPES: dict[str, str] = {task: ptype for ptype, task in PROBLEM_TYPES.items()}
#: Record.meta keys copied to the output (what prompts and rewards of the other tasks read).
META_KEYS: tuple[str, ...] = ("duration", "object", "first_box", "nframes", "video_start", "video_end")


class CotError(RuntimeError):
    """The run cannot go on (teacher unreachable, bad settings); nothing was written."""


class _Stopped(Exception):
    """A worker gave up because another one hit a fatal error."""


@dataclass
class CotConfig:
    """Settings of a CoT generation run (Video-R1: Qwen2.5-VL-72B, temperature 1.0, 512 tokens, reward > 0.6)."""

    teacher_url: str = field(metadata={"help": "OpenAI-compatible base URL, e.g. http://localhost:8000/v1"})
    teacher_model: str = field(metadata={"help": "model name sent in each request"})
    samples: int = field(default=1, metadata={"help": "completions asked per record; the best one is kept"})
    min_reward: float = field(
        default=0.6, metadata={"help": "keep a record when its best reward is above this"}
    )
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float | None = field(default=None, metadata={"help": "nucleus sampling (None: server default)"})
    max_tokens: int = field(
        default=512,
        metadata={"help": "completion length cap", "aliases": ["--max-new-tokens", "--max_new_tokens"]},
    )
    seed: int = field(default=0, metadata={"help": "sample k of a record is requested with seed + k"})
    video_format: str = field(default="frames", metadata={"help": "frames (image_url parts) or video_url"})
    timing: bool | None = field(
        default=None, metadata={"help": "timing line in the prompt (None: on for frames, off for video_url)"}
    )
    template: str | None = field(default=None, metadata={"help": "prompt template name or .jinja path"})
    system: str | None = field(default=None, metadata={"help": "system prompt (None: none, as the papers)"})
    budget: FrameBudget = field(
        default_factory=lambda: FrameBudget(max_frames=16, max_pixels=256 * 28 * 28),
        metadata={"help": "frame sampling of the teacher's input"},
    )
    jpeg_quality: int = field(default=90, metadata={"help": "JPEG quality of frames sent as images"})
    extra_body: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "extra request fields (top_k, repetition_penalty, ...)"}
    )
    concurrency: int = field(default=4, metadata={"help": "records in flight at once"})
    timeout: float = field(default=120.0, metadata={"help": "seconds per request"})
    max_retries: int = field(default=3, metadata={"help": "retries per request after the first attempt"})
    backoff_base: float = field(
        default=1.0,
        metadata={"help": "first backoff in seconds (doubles per retry)", "aliases": ["--backoff"]},
    )
    backoff_max: float = field(default=30.0, metadata={"help": "longest backoff in seconds"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "environment variable with the key"})

    def __post_init__(self) -> None:
        if self.video_format not in VIDEO_FORMATS:
            raise ValueError(
                f"video_format must be one of {', '.join(VIDEO_FORMATS)}, got {self.video_format!r}"
            )
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if not self.teacher_url.startswith(("http://", "https://")):
            raise ValueError(f"teacher_url must start with http:// or https://, got {self.teacher_url!r}")
        if self.timing is None:
            self.timing = self.video_format == "frames"

    def generation(self) -> dict[str, Any]:
        """Sampling fields of every request (without the per-sample seed)."""
        out: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            out["top_p"] = self.top_p
        return {**out, **self.extra_body}


# ------------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class SampleScore:
    """One teacher sample, scored: ``reward`` is the mean of the non-format components (format gates)."""

    index: int
    text: str
    formatted: bool
    reward: float
    components: dict[str, float]
    finish_reason: str | None = None
    error: str | None = None  # the reward raised (e.g. judge down)


#: Bump when the request layout changes in a way that makes old completions wrong to reuse.
CACHE_VERSION = "cot-v1"


def score_sample(record: Record, result: ChatResult, index: int, *, judge: Any = None) -> SampleScore:
    """Score one completion with the record's task reward; never raises on malformed text."""
    try:
        meta = reward_meta({"meta": record.meta})
        comps = get_task_reward(record.task).score(result.text, record.solution, judge=judge, **meta)
    except Exception as exc:  # a judge outage must cost one record, not the run
        return SampleScore(
            index, result.text, False, 0.0, {}, result.finish_reason, f"{type(exc).__name__}: {exc}"
        )
    values = [v for k, v in comps.items() if k not in ("format", "total")]
    reward = sum(values) / len(values) if values else 0.0
    return SampleScore(
        index, result.text, comps.get("format", 0.0) >= 1.0, reward, comps, result.finish_reason
    )


def select_best(samples: Sequence[SampleScore], min_reward: float) -> tuple[SampleScore | None, str | None]:
    """(best formatted sample, None if it beats ``min_reward`` else the reason); ties: the earliest."""
    formatted = [s for s in samples if s.formatted]
    if formatted:
        best = max(formatted, key=lambda s: (s.reward, -s.index))
        return (best, None) if best.reward > min_reward else (best, "low_reward")
    if any(s.error for s in samples):
        return None, "score_error"
    return None, "no_format" if samples else "server_error"


# ------------------------------------------------------------------------------------------- output


def _relative_path(media: str, out_dir: Path) -> str:
    """``./rel`` under the output's folder; outside it the absolute path (loaders refuse '..')."""
    rel = os.path.relpath(os.path.abspath(media), os.path.abspath(out_dir))
    return os.path.abspath(media) if rel.startswith("..") else "./" + rel


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def cot_row(record: Record, best: SampleScore, out_dir: Path) -> dict[str, Any]:
    """One Video-R1 COT item: the record's fields + ``process`` (the teacher's think block) + the
    ground-truth ``solution``; videorft extension fields (task, reward, ...) come after."""
    think = (last_block(best.text, "think") or "").strip()
    meta = record.meta
    media = record.video if record.video is not None else record.image
    row: dict[str, Any] = {
        "problem_id": meta.get("problem_id", record.id),
        "problem": record.problem,
        "data_type": record.data_type,
        "problem_type": meta.get("problem_type") or VIDEO_R1_TYPES.get(record.task, record.task),
        "options": list(record.options),
        "process": f"<think>{think}</think>",
        "solution": f"<answer>{get_task(record.task).answer(record.solution)}</answer>",  # as SFT targets
        "path": _relative_path(media, out_dir) if media is not None else None,
        "data_source": meta.get("data_source") or "videorft-cot",
        # videorft extensions; Video-R1 readers ignore them.
        "id": record.id,
        "task": record.task,
        "reward": round(best.reward, 4),
        "teacher_answer": extract_answer(best.text),
    }
    if record.task not in VIDEO_R1_TYPES:
        row["solution_value"] = _jsonable(record.solution)
        row["meta"] = {k: _jsonable(meta[k]) for k in META_KEYS if meta.get(k) is not None}
    return row


# ------------------------------------------------------------------------------------------- report


@dataclass
class RecordOutcome:
    id: str
    task: str
    kept: bool
    reason: str | None  # one of REASONS when not kept
    reward: float | None  # best formatted sample's reward
    samples: int  # samples that got a completion
    detail: str = ""  # last server / scoring error


@dataclass
class CotReport:
    """Kept / rejected per task and why, request and cache counts, input records skipped at load."""

    outcomes: list[RecordOutcome] = field(default_factory=list)
    requests: int = 0  # HTTP attempts, retries included
    retries: int = 0
    cache_hits: int = 0
    truncated: int = 0  # completions stopped by max_tokens
    load_skipped: list[SkipReport] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return sum(o.kept for o in self.outcomes)

    def by_task(self) -> dict[str, dict[str, int]]:
        """task -> {"kept": n, <reason>: n, ...} (reasons with zero count left out)."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for o in self.outcomes:
            table[o.task]["kept" if o.kept else str(o.reason)] += 1
        return {t: dict(c) for t, c in sorted(table.items())}

    def rejected(self) -> dict[str, int]:
        return dict(Counter(o.reason for o in self.outcomes if not o.kept and o.reason))

    def summary(self) -> str:
        lines = [
            f"kept {self.kept} of {len(self.outcomes)} records; requests {self.requests} "
            f"(retries {self.retries}), cache hits {self.cache_hits}, truncated completions {self.truncated}"
        ]
        for task, counts in self.by_task().items():
            reasons = ", ".join(f"{r}={counts[r]}" for r in REASONS if r in counts) or "none"
            lines.append(f"  {task}: kept {counts.get('kept', 0)}; rejected: {reasons}")
        errors = [o for o in self.outcomes if o.detail]
        for o in errors[:10]:
            lines.append(f"  {o.id}: {o.reason}: {o.detail}")
        if len(errors) > 10:
            lines.append(f"  ... and {len(errors) - 10} more errors")
        if self.load_skipped:
            lines.append(f"skipped at load: {len(self.load_skipped)} invalid input records")
            lines += [f"  {s}" for s in self.load_skipped[:10]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["load_skipped"] = [str(s) for s in self.load_skipped]
        fields["outcomes"] = fields.pop("outcomes")  # the long list last
        summary = {"kept": self.kept, "records": len(self.outcomes), "by_task": self.by_task()}
        return {**summary, "rejected": self.rejected(), **fields}


# ------------------------------------------------------------------------------------------- runner


def _template_fingerprint(template: str | None) -> str | None:
    if template and os.path.isfile(template):
        with open(template, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    return template


class _Run:
    """Per-run state shared by the worker threads."""

    def __init__(
        self, config: CotConfig, client: TeacherClient, cache: SqliteCache | None, judge: Any
    ) -> None:
        self.config = config
        self.client = client
        self.cache = cache
        self.judge = judge
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.cache_hits = 0
        self.truncated = 0
        self.template_id = _template_fingerprint(config.template)

    def key(self, record: Record, k: int) -> str:
        """Everything that decides the teacher's input and sampling, without decoding the video."""
        c = self.config
        return cache_key(
            CACHE_VERSION,
            {
                "model": c.teacher_model,
                "task": record.task,
                "problem": record.problem,
                "options": record.options,
                "meta": {m: record.meta.get(m) for m in META_KEYS},
                "video": media_fingerprint(record.video),
                "image": media_fingerprint(record.image),
                "budget": dataclasses.asdict(c.budget),
                "format": [c.video_format, c.jpeg_quality, c.timing, self.template_id, c.system],
                "generation": c.generation(),
                "sample": [k, c.seed + k],
            },
        )

    def process(self, record: Record) -> tuple[RecordOutcome, SampleScore | None]:
        if self.stop.is_set():
            raise _Stopped
        c = self.config
        results: list[tuple[int, ChatResult]] = []
        missing: list[int] = []
        keys = [self.key(record, k) for k in range(c.samples)]
        for k, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is None:
                missing.append(k)
            else:
                results.append((k, ChatResult(*hit)))
        with self.lock:
            self.cache_hits += len(results)
        detail = ""
        if missing:
            # Frames are decoded only when some sample is not cached: a resumed run costs no decoding.
            try:
                messages = build_messages(
                    record,
                    budget=c.budget,
                    video_format=c.video_format,
                    timing=bool(c.timing),
                    template=c.template,
                    system=c.system,
                    jpeg_quality=c.jpeg_quality,
                )
            except Exception as exc:  # unreadable video: this record's problem, not the run's
                detail = f"input: {type(exc).__name__}: {exc}"
                messages = None
            for k in missing if messages is not None else []:
                if self.stop.is_set():
                    raise _Stopped
                body = {"model": c.teacher_model, "messages": messages, "seed": c.seed + k, **c.generation()}
                try:
                    result = self.client.chat(body)
                except SampleFailed as exc:
                    detail = str(exc)
                    continue
                if self.cache is not None:
                    self.cache.put(keys[k], [result.text, result.finish_reason])
                results.append((k, result))
        results.sort(key=lambda kr: kr[0])
        scored = [score_sample(record, r, k, judge=self.judge) for k, r in results]
        best, reason = select_best(scored, c.min_reward)
        if not results and detail.startswith("input: "):
            reason = "bad_input"
        if reason == "score_error":
            detail = next(s.error for s in scored if s.error) or detail
        outcome = RecordOutcome(
            id=record.id,
            task=record.task,
            kept=reason is None,
            reason=reason,
            reward=None if best is None else round(best.reward, 4),
            samples=len(results),
            detail=detail if reason is not None else "",
        )
        with self.lock:
            self.truncated += sum(r.finish_reason == "length" for _, r in results)
        return outcome, (best if reason is None else None)


def generate_cot(
    records: Sequence[Record],
    config: CotConfig,
    out: str | os.PathLike[str],
    *,
    cache_path: str | os.PathLike[str] | None = None,
    judge: Any = None,
    progress: bool = False,
    client: TeacherClient | None = None,
) -> CotReport:
    """Generate, score and filter CoT for ``records`` into ``out``; ``cache_path`` (default
    ``<out>.cache.sqlite``) lets a rerun ask only what is missing. `CotError`: teacher unreachable."""
    out = Path(out)
    if not records:
        raise CotError("no records to generate CoT for")
    cache = SqliteCache(cache_path if cache_path is not None else out.with_name(out.name + ".cache.sqlite"))
    own_client = client is None
    client = client or TeacherClient(
        config.teacher_url,
        api_key_env=config.api_key_env,
        timeout=config.timeout,
        max_retries=config.max_retries,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
    )
    run = _Run(config, client, cache, judge)
    report = CotReport()
    slots: list[tuple[RecordOutcome, SampleScore | None] | None] = [None] * len(records)
    try:
        with _progress(progress, len(records)) as advance, ThreadPoolExecutor(config.concurrency) as pool:
            futures = {pool.submit(run.process, r): i for i, r in enumerate(records)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    run.stop.set()
                    for other in pending:
                        other.cancel()
                    wait(pending)  # let requests in flight finish (bounded by the timeout)
                    errors = [f.exception() for f in failed + list(pending) if not f.cancelled()]
                    fatal = next(e for e in errors if e is not None and not isinstance(e, _Stopped))
                    if isinstance(fatal, TeacherUnavailable):
                        raise CotError(f"{fatal}; nothing written to {out}") from None
                    raise fatal
                for fut in done:
                    slots[futures[fut]] = fut.result()
                    advance()
    finally:
        if own_client:
            client.close()
        cache.close()
    rows = []
    for record, slot in zip(records, slots, strict=True):
        assert slot is not None
        outcome, best = slot
        report.outcomes.append(outcome)
        if best is not None:
            rows.append(cot_row(record, best, out.parent))
    report.requests = client.stats["requests"]
    report.retries = client.stats["retries"]
    report.cache_hits = run.cache_hits
    report.truncated = run.truncated
    write_json(out, rows, indent=1, ensure_ascii=False)
    return report


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (or nothing); ``with _progress(on, n) as advance: advance()``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("CoT"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, disable=not enabled) as bar:
        task = bar.add_task("cot", total=total)
        yield lambda: bar.advance(task)

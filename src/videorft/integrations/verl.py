"""videorft as the data and reward layer of verl (multi-node RL: Ray, FSDP/Megatron, vLLM/SGLang rollouts).

``export_verl(records, out)`` writes verl's RL parquet (the schema of verl's ``examples/data_preprocess``
scripts, geo3k for media): the user turn is ``<video>``/``<image>`` plus the rendered task prompt, which
verl's ``RLHFDataset`` splits into the same media and text parts videorft's trainer builds; video entries
carry the frame count and size videorft's sampler resolves for the record, so qwen-vl-utils inside verl
samples the same frames. ``compute_score`` is the ``reward.custom_reward_function`` for that parquet.
``ground_truth`` and ``meta`` are JSON text because a parquet column has one type and solutions and metas
differ between tasks. The whole recipe: docs/scaling.md.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.prompts import PromptSpec
from videorft.data.record import Record
from videorft.video import FrameBudget


@dataclass
class ExportResult:
    path: Path
    rows: int
    per_task: dict[str, int]
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        tasks = ", ".join(f"{t} {n}" for t, n in sorted(self.per_task.items()))
        text = f"{self.rows} rows -> {self.path} ({tasks})"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} record(s):"
            text += "".join(f"\n  {s['id']}: {s['reason']}" for s in self.skipped[:20])
        return text


class ExportError(ValueError):
    """A setting the export cannot honour (it names the setting)."""


def video_entry(record: Record, budget: FrameBudget, *, window: bool = False) -> dict[str, Any]:
    """The qwen-vl-utils video entry that samples what ``SampleEncoder.clip`` samples for ``record``.

    ``window=True`` always writes ``video_start``/``video_end`` (0 and the video's length when the record
    has none), so every row of a file that needs the keys has the same ones.
    """
    from videorft.video import record_budget
    from videorft.video.budget import frame_range, frame_size, smart_nframes
    from videorft.video.decode import probe_and_index

    assert record.video is not None
    own = record_budget(record, budget)
    # the exact frame count, as load_video counts it (container headers can be wrong)
    info, index = probe_and_index(record.video)
    start, end = frame_range(index.n_frames, info.fps, own)
    nframes = smart_nframes(end - start + 1, info.fps, own)
    height, width = frame_size(info.height, info.width, nframes, own)
    entry: dict[str, Any] = {
        "video": str(Path(record.video).resolve()),  # every node reads the same path (a shared filesystem)
        "nframes": nframes,
        "resized_height": height,
        "resized_width": width,
    }
    if window:
        entry["video_start"] = float(own.video_start if own.video_start is not None else 0.0)
        entry["video_end"] = float(own.video_end if own.video_end is not None else index.n_frames / info.fps)
    return entry


def export_verl(
    records: Sequence[Record],
    out: str | Path,
    *,
    budget: FrameBudget | None = None,
    split: str = "train",
    prompt: PromptSpec | None = None,
    skip_invalid: bool = False,
) -> ExportResult:
    """Write ``records`` as verl's RL parquet ``out``; unreadable or unsupported records raise unless
    ``skip_invalid`` (then they are skipped and listed in the result)."""
    import datasets

    from videorft.video.errors import VideoDecodeError

    budget, prompt = budget or FrameBudget(), prompt or PromptSpec()
    window = any(
        r.meta.get("video_start") is not None or r.meta.get("video_end") is not None for r in records
    )
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for record in records:
        try:
            rows.append(_row(record, len(rows), budget, split, prompt, window))
        except (VideoDecodeError, FileNotFoundError, ExportError) as exc:
            if not skip_invalid:
                raise ExportError(f"record {record.id!r}: {exc}") from None
            skipped.append({"id": record.id, "reason": str(exc)})
    if not rows:
        raise ExportError(f"no record could be exported ({len(skipped)} skipped)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows).to_parquet(str(out))
    return ExportResult(out, len(rows), dict(Counter(r["data_source"] for r in rows)), skipped)


def _row(
    record: Record,
    index: int,
    budget: FrameBudget,
    split: str,
    prompt: PromptSpec,
    window: bool,
) -> dict[str, Any]:
    text = prompt.text(record)  # no timing: verl samples the frames itself
    row: dict[str, Any] = {"data_source": record.task}
    if record.video is not None:
        if Path(record.video).is_dir():
            # verl's entry for frames is a list of image paths, a different column type from a file path
            raise ExportError(
                f"{record.video} is a folder of frames: verl's video entries here are files "
                "(encode the frames to a video file first)"
            )
        row["videos"] = [video_entry(record, budget, window=window)]
        text = "<video>" + text
    elif record.image is not None:
        if not Path(record.image).is_file():
            raise FileNotFoundError(f"image not found: {record.image}")
        # qwen-vl-utils' image entry: load_image applies the same pixel bounds
        image = {"image": str(Path(record.image).resolve())}
        row["images"] = [{**image, "min_pixels": budget.min_pixels, "max_pixels": budget.max_pixels}]
        text = "<image>" + text
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return {
        **row,
        "prompt": [*system, {"role": "user", "content": text}],
        "ability": "video" if "videos" in row else ("image" if "images" in row else "text"),
        "reward_model": {"style": "rule", "ground_truth": json.dumps(record.solution)},
        "extra_info": {"id": record.id, "split": split, "index": index, "meta": json.dumps(record.meta)},
    }


# ----------------------------------------------------------------------------------------------- reward
@functools.cache  # one judge per process and setting: the offline one loads a sentence encoder
def _judge(kind: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from videorft.rewards.judges import get_judge

    return get_judge(kind, **dict(options))


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    think: bool = True,
    use_format: bool = True,
    weights: Mapping[str, float] | None = None,
    judge: str = "offline",
    judge_options: Mapping[str, Any] | None = None,
    **_verl_kwargs: Any,
) -> dict[str, float]:
    """verl's reward function for a row of ``export_verl``'s parquet (options: verl's ``reward_kwargs``).

    ``{"score": total, "format": f, "accuracy": a}``, as ``videorft score`` composes them; the same keys for
    every task, because verl stacks each key over a batch that mixes tasks.
    """
    from videorft.rewards import get_task_reward
    from videorft.rewards.tasks import get_task, reward_meta

    task = get_task(data_source)
    solution = json.loads(ground_truth) if isinstance(ground_truth, str) else ground_truth
    own = {c: w for c, w in (weights or {}).items() if c in task.components}
    reward = get_task_reward(task.name, weights=own, think=think)
    judge_obj = (
        _judge(judge, tuple(sorted((judge_options or {}).items()))) if "recall" in reward.functions else None
    )
    parts = reward.score(
        solution_str,
        solution,
        judge=judge_obj,
        use_format=use_format,
        **reward_meta({"meta": (extra_info or {}).get("meta")}),
    )
    return {
        "score": float(parts["total"]),
        "format": float(parts.get("format", 0.0)),
        "accuracy": float(parts[reward.accuracy_component]),
    }

"""Temporal-sensitivity probe: does the model use the order of the frames at all?

The same questions are answered with frames ordered, shuffled, reversed, as a single middle
frame, and (optionally) ordered with every frame's timestamp in the prompt. The report is the
score per variant and the ordered − shuffled gap with a paired bootstrap confidence interval.
A model that ignores temporal order has a gap whose interval covers 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videorft.data.prompts import PromptSpec
from videorft.data.record import Record
from videorft.evaluation.config import check_variants
from videorft.evaluation.metrics import aggregate, get_task_metric, score_rows
from videorft.evaluation.runner import Decoding, EvalResult, as_generator, run_eval
from videorft.files import write_json
from videorft.run_folder import locks_out_dir
from videorft.video import FrameBudget

PROBE_FILE = "probe.json"
DEFAULT_VARIANTS: tuple[str, ...] = ("ordered", "shuffled", "reversed", "middle")


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Mean of a − b over paired items and its percentile bootstrap interval (items resampled
    with replacement, the pairing kept).

    >>> r = paired_bootstrap([1, 1, 0, 1], [0, 1, 0, 0], n_boot=200)
    >>> r["mean"], r["ci95"][0] <= r["mean"] <= r["ci95"][1]
    (0.5, True)
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)  # (n,)
    if len(d) == 0:
        return {"mean": None, "ci95": [None, None], "n": 0, "n_boot": n_boot, "seed": seed}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))  # (n_boot, n)
    means = d[idx].mean(axis=1)  # (n_boot,)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return {
        "mean": float(d.mean()),
        "ci95": [float(lo), float(hi)],
        "n": len(d),
        "n_boot": n_boot,
        "seed": seed,
    }


def variant_scores(
    rows: Sequence[Mapping[str, Any]], judge: Any = None
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-item primary score by id, and the variant's summary (score, per task, full metrics)."""
    scored = score_rows(rows, skip_invalid=True, judge=judge)
    by_id: dict[str, float] = {}
    per_task: dict[str, Any] = {}
    for task, items in scored.by_task.items():
        values = [item.primary for _, item in items]
        per_task[task] = {
            "metric": get_task_metric(task).primary,
            "score": sum(values) / len(values),
            "n": len(values),
        }
        by_id.update((str(row["id"]), item.primary) for row, item in items)
    all_items = [item for items in scored.by_task.values() for _, item in items]
    summary = {
        "score": sum(by_id.values()) / len(by_id) if by_id else 0.0,
        "n": len(by_id),
        "n_unparsed": sum(1 for it in all_items if not it.parsed),
        "per_task": per_task,
        "metrics": aggregate(scored),
    }
    return by_id, summary


@locks_out_dir("out_dir")
def probe(
    model: Any,
    processor: Any,
    records: Sequence[Record],
    *,
    budget: FrameBudget,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    prompt: PromptSpec | None = None,
    shuffle_unit: str = "temporal_patch",
    batch_size: int = 4,
    decoding: Decoding = Decoding(),
    n_boot: int = 1000,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    protocol_extra: dict[str, Any] | None = None,
    judge: Any = None,
) -> dict[str, Any]:
    """Run every variant (each a resumable eval run in ``out_dir/<variant>``) and return what
    ``probe.json`` holds. Records without a video are left out (frame order means nothing there)."""
    check_variants(variants)
    prompt = prompt or PromptSpec()
    video_records = [r for r in records if r.video is not None]
    generator = as_generator(model, processor)
    out = Path(out_dir) if out_dir is not None else None
    scores: dict[str, dict[str, float]] = {}
    summaries: dict[str, Any] = {}
    results: dict[str, EvalResult] = {}
    for variant in variants:
        results[variant] = run_eval(
            generator,
            processor,
            video_records,
            budget=budget,
            # "timestamps": ordered frames, every sampled frame's time written into the prompt
            prompt=dataclasses.replace(prompt, timing=True) if variant == "timestamps" else prompt,
            frame_order="ordered" if variant == "timestamps" else variant,
            shuffle_unit=shuffle_unit,
            batch_size=batch_size,
            decoding=decoding,
            out_dir=None if out is None else out / variant,
            overwrite=overwrite,
            progress=progress,
            protocol_extra=protocol_extra,
        )
        scores[variant], summaries[variant] = variant_scores(results[variant].rows, judge=judge)

    # Pair items answered under both variants (a video skipped in one is left out of the gap).
    common = [i for i in scores["ordered"] if i in scores["shuffled"]]
    ordered, shuffled = scores["ordered"], scores["shuffled"]

    def gap_of(ids: list[str]) -> dict[str, Any]:
        pairs = [ordered[i] for i in ids], [shuffled[i] for i in ids]
        return paired_bootstrap(*pairs, n_boot=n_boot, seed=decoding.seed)

    gap = gap_of(common)
    task_of = {r.id: r.task for r in video_records}
    per_task = {
        t: gap_of([i for i in common if task_of[i] == t]) for t in sorted({task_of[i] for i in common})
    }
    skipped = {v: r.skipped for v, r in results.items()}
    base_protocol = {k: v for k, v in results["ordered"].protocol.items() if k != "skipped"}
    base_protocol["video"] = {**base_protocol.get("video", {}), "frame_order": "per variant"}
    report = {
        "variants": summaries,
        "gap": {
            "ordered_minus_shuffled": gap["mean"],
            "ci95": gap["ci95"],
            "n": gap["n"],
            "n_boot": n_boot,
            "seed": decoding.seed,
            "per_task": per_task,
        },
        "n_records": len(records),
        "n_without_video": len(records) - len(video_records),
        "skipped_videos": {v: len(s) for v, s in skipped.items()},
        # id, file and reason of every video that failed to decode (the same files fail in every variant)
        "skipped": _unique_skips(skipped),
        "notes": {
            "score": "mean per-item primary score (accuracy; IoU for grounding, AO for tracking, MRA, reward)",
            "middle": "the middle sampled frame, duplicated to one temporal patch of 2 frames",
            "shuffled": f"blocks of {'2 frames' if shuffle_unit == 'temporal_patch' else '1 frame'} permuted, "
            "seeded per record",
        },
        "protocol": base_protocol,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / PROBE_FILE, report, default=str)
    return report


def _unique_skips(skipped: Mapping[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for item in (item for items in skipped.values() for item in items):
        seen.setdefault(item["id"], item)
    return list(seen.values())


def format_probe(report: Mapping[str, Any]) -> str:
    """A short plain-text summary of a probe report."""
    lines = []
    for name, v in report["variants"].items():
        lines.append(f"{name:<11} score {100 * v['score']:.1f}  (n={v['n']}, unparsed={v['n_unparsed']})")
    gap = report["gap"]
    if gap["ordered_minus_shuffled"] is None:
        lines.append("ordered − shuffled: no paired items")
    else:
        lo, hi = gap["ci95"]
        lines.append(
            f"ordered − shuffled {100 * gap['ordered_minus_shuffled']:+.1f} points, "
            f"95% CI [{100 * lo:+.1f}, {100 * hi:+.1f}] over {gap['n']} questions"
        )
    return "\n".join(lines)

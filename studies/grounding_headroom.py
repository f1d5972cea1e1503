"""How much a GRPO step could learn on grounding from a checkpoint (issue #22's "diagnose before tuning").

    python studies/grounding_headroom.py RUN_DIR [--stage sft] [--k 4] [--limit 100] [--split test]

Samples K completions per question the way RL does (temperature 1, min-p) and reports, over the questions:
greedy mIoU, the sampled completions' mean IoU, best-of-K IoU (what the group can reward), the share of
groups whose K answers score the same (zero advantage), the mean within-group IoU spread (std), the share
of groups where the best sample beats the worst by < 0.05 IoU (advantages GRPO's std scaling inflates to
+-1 from differences that carry no signal) and the distinct answers per group. RUN_DIR is a demo / study
arm folder (synth/, checkpoints/STAGE, demo_config.json). Output: a JSON line per setting on stdout.

``--oracle`` runs no model: the mIoU of a reader of the sampled frames that knows on which of them the
shape is visible and answers the span that scores best on the training videos with that pattern (the
ceiling of any model that sees those frames), next to the best constant span of the training videos.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from videorft.demo import DemoConfig, completion_tokens, demo_data_args
from videorft.evaluation.runner import Decoding, HFGenerator, run_eval


class MinPGenerator(HFGenerator):
    """HF sampling with RL's min-p (Decoding has no min-p: evaluation never samples with it)."""

    def __init__(self, model: Any, processor: Any, min_p: float) -> None:
        super().__init__(model, processor)
        self.min_p = min_p

    def generation_config(self, decoding: Decoding) -> Any:
        config = super().generation_config(decoding)
        if not decoding.greedy and self.min_p:
            config.min_p = self.min_p
        return config


def headroom(run_dir: Path, stage: str, k: int, limit: int, split: str, min_p: float) -> dict[str, Any]:
    from videorft.data.loaders import load_spec
    from videorft.models.loading import load_model, load_processor
    from videorft.rewards.rules import temporal_iou
    from videorft.video import FrameBudget

    fields = json.loads((run_dir / "demo_config.json").read_text())
    fields.pop("out", None)
    cfg = DemoConfig(**{**fields, "suite": fields["suite"]})
    suite = run_dir / "synth"
    records = [r for r in load_spec(str(suite), split=split).records if r.task == "temporal_grounding"][
        :limit
    ]
    ckpt = run_dir / "checkpoints" / stage
    generator = MinPGenerator(load_model(str(ckpt)), load_processor(str(ckpt)), min_p)
    side = 56 * 56
    common = dict(
        budget=FrameBudget(nframes=cfg.nframes, min_pixels=side, max_pixels=side),
        prompt=demo_data_args(cfg, suite).prompt_spec(),
        batch_size=16,
        progress=False,
    )
    tokens = completion_tokens(cfg)
    greedy = run_eval(
        generator, generator.processor, records, decoding=Decoding(tokens, greedy=True), **common
    ).rows
    samples = [
        run_eval(
            generator, generator.processor, records, decoding=Decoding(tokens, greedy=False, seed=s), **common
        ).rows
        for s in range(k)
    ]

    def iou(row: dict[str, Any], rec: Any) -> float:
        return temporal_iou(row["completion"], rec.solution, **rec.meta)

    g_iou = [iou(row, rec) for row, rec in zip(greedy, records)]
    groups = [[iou(rows[i], rec) for rows in samples] for i, rec in enumerate(records)]
    answers = [[rows[i]["completion"].strip() for rows in samples] for i in range(len(records))]
    greedy_answers = [row["completion"].strip() for row in greedy]
    setting = {"run": str(run_dir), "stage": stage, "split": split, "n": len(records), "k": k, "min_p": min_p}
    return {**setting, **group_stats(g_iou, greedy_answers, groups, answers)}


def group_stats(
    greedy_iou: list[float], greedy_answers: list[str], groups: list[list[float]], answers: list[list[str]]
) -> dict[str, float]:
    """The headroom numbers from per-question IoUs: greedy ones, and each question's K sampled ones."""
    top = Counter(greedy_answers).most_common(1)[0][1]
    return {
        "greedy_mIoU": statistics.fmean(greedy_iou),
        "greedy_top_answer_share": top / len(greedy_answers),
        "sample_mIoU": statistics.fmean(x for g in groups for x in g),
        "best_of_k_mIoU": statistics.fmean(max(g) for g in groups),
        "zero_spread_groups": statistics.fmean(float(max(g) == min(g)) for g in groups),
        "tiny_spread_groups": statistics.fmean(float(0 < max(g) - min(g) < 0.05) for g in groups),
        "mean_group_iou_std": statistics.fmean(statistics.pstdev(g) for g in groups),
        "distinct_answers_per_group": statistics.fmean(len(set(a)) for a in answers),
    }


def frame_oracle(run_dir: Path, limit: int, split: str = "test", step: float = 0.25) -> dict[str, Any]:
    """mIoU on ``split`` of the best span per visible-frame pattern (learned on train) and of the best
    constant span (learned on train): what the sampled frames allow, and what ignoring them gives."""
    from videorft.data.loaders import load_spec
    from videorft.rewards.rules import temporal_iou
    from videorft.video.budget import FrameBudget, sample_indices

    cfg = json.loads((run_dir / "demo_config.json").read_text())
    budget = FrameBudget(nframes=cfg["nframes"])
    low, high = cfg["suite"].get("fps", (0, 0))
    if not low or low != high:  # the annotations do not record each video's fps
        raise SystemExit(f"--oracle needs a suite with one fixed fps; {run_dir} has fps {low}-{high}")

    def grounding(name: str) -> list[Any]:
        return [
            r for r in load_spec(str(run_dir / "synth"), split=name).records if r.task == "temporal_grounding"
        ]

    def pattern(record: Any) -> tuple[int, ...]:
        fps, duration = float(low), float(record.meta["duration"])
        times = [i / fps for i in sample_indices(round(duration * fps), fps, budget)[0]]
        start, end = record.solution
        return tuple(int(start <= t < end) for t in times)

    def best_span(records: list[Any]) -> str:
        longest = max(float(r.meta["duration"]) for r in records)
        grid = [i * step for i in range(int(longest / step) + 1)]
        spans = [f"<answer>{a:.2f} to {b:.2f}</answer>" for a in grid for b in grid if b > a]
        return max(spans, key=lambda s: sum(temporal_iou(s, r.solution, **r.meta) for r in records))

    train, test = grounding("train"), grounding(split)[:limit]
    by_pattern: dict[tuple[int, ...], list[Any]] = {}
    for record in train:
        by_pattern.setdefault(pattern(record), []).append(record)
    answers = {p: best_span(rs) for p, rs in by_pattern.items()}
    constant = best_span(train)
    oracle = [temporal_iou(answers.get(pattern(r), constant), r.solution, **r.meta) for r in test]
    return {
        "run": str(run_dir),
        "split": split,
        "n": len(test),
        "patterns": len(by_pattern),
        "frame_oracle_mIoU": statistics.fmean(oracle),
        "frame_oracle_R@0.5": statistics.fmean(float(x >= 0.5) for x in oracle),
        "train_constant": constant,
        "train_constant_mIoU": statistics.fmean(temporal_iou(constant, r.solution, **r.meta) for r in test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--stage", default="sft")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--split", default="test")
    parser.add_argument("--min-p", type=float, default=0.02)
    parser.add_argument("--oracle", action="store_true", help="the frame-reading ceiling (no model)")
    args = parser.parse_args()
    if args.oracle:
        print(json.dumps(frame_oracle(args.run_dir, args.limit, args.split)))
        return
    print(json.dumps(headroom(args.run_dir, args.stage, args.k, args.limit, args.split, args.min_p)))


if __name__ == "__main__":
    main()

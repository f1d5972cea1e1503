"""`videorft metrics PREDICTIONS [--json]`: benchmark metrics per task."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions",
        help="JSONL in the `videorft score` input format (e.g. RUN_DIR/predictions.jsonl), or Video-R1's "
        'eval_bench.py output JSON ({"results": [...], "final_acc": [...]})',
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object {task: {metric: value, 'n': count}}"
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip malformed lines and repeated ids (counted and listed on stderr; the first row of "
        "an id is kept) instead of stopping",
    )
    parser.add_argument(
        "--mra",
        choices=["vsibench", "paper", "video_r1"],
        default="vsibench",
        help="VSI-Bench MRA rule: the official code's <= (default), the paper's strict < computed "
        "exactly, or Video-R1's eval_bench.py (float32, <)",
    )
    parser.add_argument(
        "--grounding-iou",
        choices=["reference", "reward"],
        default="reference",
        help="temporal grounding IoU: VideoChat-R1's eval arithmetic, unclipped (default), or the "
        "temporal_iou reward (spans clipped to the video)",
    )
    parser.add_argument(
        "--tracking-bound",
        choices=["toolkit", "clip"],
        default="toolkit",
        help="GOT-10k boxes: the got10k toolkit's bound (default) or both corners clipped to the frame",
    )
    parser.add_argument(
        "--judge", default=None, help="caption judge name (default: the rewards' offline embedding judge)"
    )


def run(args: argparse.Namespace) -> int:
    from videorft.cli.main import CommandError, errors_exit
    from videorft.data.errors import DataError
    from videorft.evaluation.metrics import MetricOptions, format_table, metrics_of_file

    judge = None
    if args.judge:
        from videorft.rewards.judges import get_judge

        try:
            judge = get_judge(args.judge)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None
    options = MetricOptions(
        mra=args.mra, grounding_iou=args.grounding_iou, tracking_bound=args.tracking_bound
    )
    with errors_exit(DataError, FileNotFoundError):
        metrics, skipped = metrics_of_file(
            args.predictions, skip_invalid=args.skip_invalid, judge=judge, options=options
        )
    if skipped:
        print(f"skipped {len(skipped)} invalid record(s):", file=sys.stderr)
        for report in skipped[:20]:
            print(f"  {report}", file=sys.stderr)
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more", file=sys.stderr)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(format_table(metrics))
    return 0

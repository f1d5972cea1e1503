"""`videorft demo [--task order|grounding] [--out DIR] [--seed S] [--quick]`: the whole method on CPU, ending
in a report."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.demo import DEMO_TASKS  # stdlib-only imports at module level: cheap for --help

    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the suite, the model and training")
    parser.add_argument("--quick", action="store_true", help="shortened run (a few minutes), as CI runs it")
    parser.add_argument(
        "--task",
        default="order",
        choices=list(DEMO_TASKS),
        help="order: which colour appears first (accuracy); grounding: when the shape is visible (mIoU)",
    )
    parser.add_argument("--grpo", action="store_true", help="plain GRPO instead of T-GRPO")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (default 0: the CPUs other work leaves idle, at least 1)",
    )


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything the demo needs is made locally
    from videorft.demo import demo_config, run_demo

    run_demo(
        demo_config(
            args.task,
            out=args.out,
            seed=args.seed,
            quick=args.quick,
            temporal=not args.grpo,
            threads=args.threads,
        )
    )
    return 0

"""`videorft demo [--task order|grounding] [--config YAML] [--FIELD VALUE ...]`: the whole method on CPU, ending
in a report. Settings: configs/demo.yaml (+ configs/demo_<task>.yaml), then flags (`videorft demo --help`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.demo import DEMO_TASKS, DemoConfig

    parser.add_argument(
        "--task",
        default="order",
        choices=list(DEMO_TASKS),
        help="order: which colour appears first (accuracy); grounding: when the shape is visible (mIoU)",
    )
    parser.add_argument("--grpo", action="store_true", help="plain GRPO instead of T-GRPO (--temporal false)")
    add_config_options(
        parser,
        DemoConfig,
        skip={"tasks", "suite"},
        config_help="settings file instead of configs/demo.yaml and configs/demo_<task>.yaml",
    )


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything the demo needs is made locally
    from videorft.cli.main import errors_exit
    from videorft.dataclass_cli import given
    from videorft.demo import DemoConfig, demo_config, run_demo
    from videorft.run_folder import RunFolderError

    fields = given(args, DemoConfig)
    if args.grpo:
        fields["temporal"] = False
    with errors_exit(ValueError, FileNotFoundError):
        cfg = demo_config(args.task, args.config, **fields)
    with errors_exit(RunFolderError):  # e.g. an interrupted stage's checkpoint made under other settings
        run_demo(cfg)
    return 0

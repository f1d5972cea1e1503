"""`videorft export verl --data SPEC --out DIR [--config TRAIN.yaml]`: verl's RL parquet of a dataset.

Writes ``DIR/<split>.parquet`` (verl's ``data.train_files`` / ``data.val_files``) and
``DIR/<split>.export.json`` (settings, rows per task, skipped records). Frame budget, prompt template
and style come from the data fields of a training config (``--config``; its other keys are ignored)
and the flags, so verl trains on the prompts and frames ``videorft train grpo`` would use.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from videorft.files import write_json

# VideoDataArguments fields that are not about data or prompts (rewards are verl's compute_score options)
_NOT_FLAGS = {"use_format_reward", "judge"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.training.data_args import VideoDataArguments

    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR/<split>.parquet)")
    add_config_options(
        parser,
        VideoDataArguments,
        skip=_NOT_FLAGS,
        config_help="a training config: its data, frame and prompt fields are used",
    )


def run(args: argparse.Namespace) -> int:
    from videorft.cli.main import CommandError, errors_exit
    from videorft.data.errors import DataError
    from videorft.data.loaders import load_spec
    from videorft.dataclass_cli import build, given, read_config
    from videorft.integrations.verl import ExportError, export_verl
    from videorft.training.data_args import VideoDataArguments
    from videorft.video import FrameBudget

    with errors_exit(OSError, ValueError, TypeError):
        values = read_config(args.config) if args.config else {}  # a training config: other keys are ignored
        data_args = build(VideoDataArguments, {**values, **given(args, VideoDataArguments)})
    if not data_args.data:
        raise CommandError("--data SPEC is required (or `data:` in --config)")
    if data_args.timing_in_prompt:
        raise CommandError(
            "timing_in_prompt: verl samples the frames at training time, so the timestamps cannot be "
            "written into the exported prompt; export without it"
        )
    with errors_exit(DataError, ValueError, FileNotFoundError):
        loaded = load_spec(
            data_args.data,
            split=data_args.split,
            video_root=data_args.video_root,
            skip_invalid=data_args.skip_invalid,
        )
    if loaded.skipped:
        print(loaded.summary(), file=sys.stderr)
    records = loaded.records
    if data_args.tasks:
        records = [r for r in records if r.task in set(data_args.tasks)]
    if data_args.limit is not None:
        records = records[: data_args.limit]
    out = Path(args.out) / f"{data_args.split}.parquet"
    with errors_exit(ExportError, DataError):
        result = export_verl(
            records,
            out,
            budget=FrameBudget.from_settings(data_args),
            split=data_args.split,
            prompt=data_args.prompt_spec(),
            skip_invalid=data_args.skip_invalid,
        )
    info = {
        "data": data_args.data,
        "split": data_args.split,
        "rows": result.rows,
        "rows_per_task": result.per_task,
        "frame_budget": dataclasses.asdict(FrameBudget.from_settings(data_args)),
        "template": data_args.template,
        "prompt_style": data_args.prompt_style,
        "system_prompt": data_args.system_prompt,
        "skipped_at_load": len(loaded.skipped),
        "skipped_at_export": result.skipped,
    }
    write_json(out.with_suffix(".export.json"), info)
    print(result.summary())
    return 0

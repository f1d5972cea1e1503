"""`videorft train sft|grpo CONFIG.yaml [--key value ...] [--resume | --overwrite]`.

Every field of the config dataclasses (``videorft.training.config`` plus TRL's ``ModelConfig``) is a flag;
YAML gives the values, flags override them. `videorft train grpo --help` lists all fields with their help.
"""

from __future__ import annotations

import argparse
import errno
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="CONFIG.yaml then --field value overrides")


def parse(kind: str, argv: list[str]) -> tuple:
    """(data_args, trainer_args, model_args, resume, overwrite) from
    ``[CONFIG.yaml] [--field value ...] [--resume] [--overwrite]``."""
    from trl import ModelConfig, TrlParser

    from videorft.training.config import VideoDataArguments, VideoGRPOConfig, VideoSFTConfig

    argv = list(argv)
    resume = "--resume" in argv
    overwrite = "--overwrite" in argv
    argv = [a for a in argv if a not in ("--resume", "--overwrite")]
    if argv and not argv[0].startswith("-"):
        argv = ["--config", argv[0], *argv[1:]]
    trainer_cls = VideoSFTConfig if kind == "sft" else VideoGRPOConfig
    parser = TrlParser((VideoDataArguments, trainer_cls, ModelConfig), prog=f"videorft train {kind}")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in output_dir"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in a non-empty output_dir (its checkpoints, logs and weights are removed)",
    )
    data_args, trainer_args, model_args = parser.parse_args_and_config(argv)[:3]
    return data_args, trainer_args, model_args, resume, overwrite


def _resume_hint(kind: str, argv: list[str], output_dir: str) -> str:
    from videorft.training.output_dir import complete_checkpoints

    checkpoints = complete_checkpoints(output_dir)
    if not checkpoints:
        return f"{output_dir} holds no complete checkpoint yet (start again with --overwrite)"
    config = argv[0] if argv and not argv[0].startswith("-") else "CONFIG.yaml"
    return f"{checkpoints[0]} is complete; continue with: videorft train {kind} {config} --resume"


def run(args: argparse.Namespace) -> int:
    from videorft.training.precheck import ConfigError, precheck

    kind = args._command.split()[1]
    if not {"-h", "--help"} & set(args.argv):
        try:  # before torch / TRL are imported: a wrong value is one line in well under 2 s
            precheck(kind, args.argv)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        data_args, trainer_args, model_args, resume, overwrite = parse(kind, args.argv)
    except (ValueError, TypeError) as exc:  # what only the dataclasses themselves can tell
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2

    from videorft.run_folder import RunFolderError
    from videorft.training.run import train_grpo, train_sft

    train = train_sft if kind == "sft" else train_grpo
    try:
        train(data_args, trainer_args, model_args, resume=resume, overwrite=overwrite)
    except RunFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # One line, no traceback: the folder keeps every complete checkpoint (an unfinished one is skipped).
        hint = _resume_hint(kind, args.argv, trainer_args.output_dir)
        print(f"interrupted: {hint}", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        hint = _resume_hint(kind, args.argv, trainer_args.output_dir)
        print(
            f"error: disk full while writing {exc.filename or trainer_args.output_dir}; free space, then: {hint}",
            file=sys.stderr,
        )
        return 1
    if trainer_args.process_index == 0:
        print(f"model saved to {trainer_args.output_dir}")
    return 0

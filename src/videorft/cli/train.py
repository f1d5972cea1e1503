"""`videorft train sft|grpo CONFIG.yaml [--key value ...]`.

Every field of the config dataclasses (``videorft.training.config`` plus TRL's ``ModelConfig``) is a flag;
YAML gives the values, flags override them. `videorft train grpo --help` lists all fields with their help.
"""

from __future__ import annotations

import argparse

PASSTHROUGH = True  # this command parses its own arguments (TrlParser), including --help


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="CONFIG.yaml then --field value overrides")


def parse(kind: str, argv: list[str]) -> tuple:
    """(data_args, trainer_args, model_args, resume) from ``[CONFIG.yaml] [--field value ...] [--resume]``."""
    from trl import ModelConfig, TrlParser

    from videorft.training.config import VideoDataArguments, VideoGRPOConfig, VideoSFTConfig

    argv = list(argv)
    resume = "--resume" in argv
    argv = [a for a in argv if a != "--resume"]
    if argv and not argv[0].startswith("-"):
        argv = ["--config", argv[0], *argv[1:]]
    trainer_cls = VideoSFTConfig if kind == "sft" else VideoGRPOConfig
    parser = TrlParser((VideoDataArguments, trainer_cls, ModelConfig), prog=f"videorft train {kind}")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in output_dir"
    )
    data_args, trainer_args, model_args = parser.parse_args_and_config(argv)[:3]
    return data_args, trainer_args, model_args, resume


def run(args: argparse.Namespace) -> int:
    from videorft.training.run import train_grpo, train_sft

    kind = args._command.split()[1]
    data_args, trainer_args, model_args, resume = parse(kind, args.argv)
    if kind == "sft":
        train_sft(data_args, trainer_args, model_args, resume=resume)
    else:
        train_grpo(data_args, trainer_args, model_args, resume=resume)
    if trainer_args.process_index == 0:
        print(f"model saved to {trainer_args.output_dir}")
    return 0

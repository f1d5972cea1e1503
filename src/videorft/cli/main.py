"""`videorft` console entry point.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``videorft --help`` stays fast
(importing torch/transformers takes seconds).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# command path -> (module, one-line help). Nested commands use a space ("model init").
COMMANDS: dict[str, tuple[str, str]] = {
    "model init": ("videorft.cli.model_init", "write a random-weight Qwen2.5-VL checkpoint folder (offline)"),
    "data synth": ("videorft.cli.data_synth", "render the synthetic spatio-temporal video suite"),
    "data stats": ("videorft.cli.data_stats", "counts per task, durations and frame statistics of a dataset"),
    "data cot": (
        "videorft.cli.data_cot",
        "generate CoT SFT data with a teacher behind an OpenAI-compatible API",
    ),
    "score": ("videorft.cli.score", "score completions with the task rewards (JSONL in, JSONL out)"),
    "train sft": ("videorft.cli.train", "supervised (CoT cold-start) fine-tuning"),
    "train grpo": ("videorft.cli.train", "GRPO / T-GRPO reinforcement fine-tuning"),
    "eval": ("videorft.cli.eval", "run a model on a dataset with a recorded protocol"),
    "metrics": ("videorft.cli.metrics", "benchmark metrics of a predictions file"),
    "probe": ("videorft.cli.probe", "temporal-sensitivity probe (ordered / shuffled / reversed frames)"),
    "report": ("videorft.cli.report", "self-contained HTML report of one or more runs"),
    "demo": ("videorft.cli.demo", "synthesise -> SFT -> GRPO/T-GRPO -> evaluate -> report, on CPU"),
    "bench": ("videorft.cli.bench", "speed and memory benchmarks (ratios against in-run baselines)"),
    "export verl": (
        "videorft.cli.export_verl",
        "verl's RL parquet of a dataset (multi-node training on verl)",
    ),
}


class CommandError(Exception):
    """A command's failure on bad input: ``main`` prints ``error: MESSAGE`` on stderr and returns ``code``."""

    def __init__(self, message: object, code: int = 2) -> None:
        super().__init__(str(message))
        self.code = code


@contextmanager
def errors_exit(*errors: type[Exception], code: int = 2) -> Iterator[None]:
    """``errors`` raised in the block end the command with one error line (their message) and ``code``."""
    try:
        yield
    except errors as exc:
        raise CommandError(exc, code) from None


#: Commands whose module parses its own argv (config dataclasses through TrlParser).
PASSTHROUGH = {"train sft", "train grpo"}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole CLI; given ``argv``, only the command it names gets its options (imports stay lazy)."""
    parser = argparse.ArgumentParser(
        prog="videorft",
        description="Reinforcement fine-tuning (SFT -> GRPO / T-GRPO) of video multimodal LLMs.",
    )
    from videorft import __version__

    parser.add_argument("--version", action="version", version=f"videorft {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (module, help_text) in COMMANDS.items():
        words = path.split()
        # Commands that parse their own arguments (TrlParser) also answer --help themselves.
        own_help = {"add_help": path not in PASSTHROUGH}
        if len(words) == 1:
            sub = top.add_parser(words[0], help=help_text, description=help_text, **own_help)
        else:
            group, name = words
            if group not in groups:
                gp = top.add_parser(group, help=f"{group} commands", description=f"{group} commands")
                groups[group] = gp.add_subparsers(
                    dest=f"{group}_command", metavar="SUBCOMMAND", required=True
                )
            sub = groups[group].add_parser(name, help=help_text, description=help_text, **own_help)
        sub.set_defaults(_module=module, _command=path)
        if argv is None or argv[: len(words)] == words:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for path in PASSTHROUGH:  # hand everything after the command words over, `--help` included
        words = path.split()
        if argv[: len(words)] == words:
            mod = importlib.import_module(COMMANDS[path][0])
            return int(mod.run(argparse.Namespace(_command=path, argv=argv[len(words) :])) or 0)
    argv = dashed_options(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


def dashed_options(argv: list[str]) -> list[str]:
    """``--max_new_tokens`` -> ``--max-new-tokens``: every command takes both spellings, as `train`
    (TrlParser) does. Only option names change; values and anything after ``--`` are left alone."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        if arg.startswith("--") and "_" in arg.split("=", 1)[0]:
            name, sep, value = arg.partition("=")
            arg = name.replace("_", "-") + sep + value
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())

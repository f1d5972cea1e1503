"""`videorft eval --model M --data SPEC --out RUN_DIR [--config YAML]`: predictions under a recorded protocol."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from videorft.cli.main import CommandError, errors_exit
from videorft.files import write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.evaluation.config import EvalConfig

    add_config_options(parser, EvalConfig)


def run(args: argparse.Namespace) -> int:
    from videorft.evaluation.config import EvalConfig

    return run_locked(EvalConfig, args, _run)


def run_locked(cls: type, args: argparse.Namespace, body: Callable[..., int]) -> int:
    """``body(config, generator, processor, records, runner_options)`` under the run folder's lock (eval and
    probe); a bad setting, dataset or model is one error line."""
    from videorft.data.errors import DataError
    from videorft.evaluation import session
    from videorft.models.loading import ModelLoadError
    from videorft.run_folder import run_lock
    from videorft.video import FrameBudget

    with errors_exit(ValueError, TypeError, FileNotFoundError):
        cfg = session.cli_config(cls, args)
    # held until the command ends, taken before the model loads: a second writer of --out is refused
    with errors_exit(DataError, ModelLoadError, FileNotFoundError, ValueError), run_lock(cfg.out):
        FrameBudget.from_settings(
            cfg
        )  # a bad frame budget (e.g. --fps 0) is reported before data or model load
        data = session.load_data(cfg)
        generator, processor = session.open_generator(cfg)
        return body(cfg, generator, processor, data.records, session.runner_options(cfg, data))


def report_skipped(skipped: list[dict[str, Any]], what: str) -> None:
    """The first ten skipped samples on stderr, under a count of ``what``."""
    if skipped:
        print(f"skipped {len(skipped)} {what}:", file=sys.stderr)
        for item in skipped[:10]:
            print(f"  {item['id']}: {item['reason']}", file=sys.stderr)


def _run(cfg: Any, generator: Any, processor: Any, records: list, options: dict[str, Any]) -> int:
    from pathlib import Path

    from videorft.evaluation.metrics import format_table, metrics_of_file
    from videorft.evaluation.runner import PREDICTIONS_FILE, run_eval

    result = run_eval(generator, processor, records, frame_order=cfg.frame_order, **options)
    out = Path(cfg.out)
    print(f"{len(result.rows)} predictions in {out / PREDICTIONS_FILE}", file=sys.stderr)
    report_skipped(result.skipped, "unreadable video(s) (listed in protocol.json)")
    if not result.rows:
        raise CommandError(f"{cfg.data}: no usable samples, nothing was predicted", code=1)
    metrics, bad = metrics_of_file(out / PREDICTIONS_FILE, skip_invalid=True)
    write_json(out / "metrics.json", metrics)
    if bad:
        print(f"metrics: {len(bad)} row(s) could not be scored, e.g. {bad[0]}", file=sys.stderr)
    print(format_table(metrics))
    return 0

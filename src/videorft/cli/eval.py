"""`videorft eval --model M --data SPEC --out RUN_DIR [--config YAML]`: predictions under a recorded protocol."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from videorft.files import write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.evaluation.config import EvalConfig

    add_config_options(parser, EvalConfig)


def run(args: argparse.Namespace) -> int:
    from videorft.evaluation.config import EvalConfig

    return run_locked(EvalConfig, args, _run)


def run_locked(cls: type, args: argparse.Namespace, body: Callable[[Any], int]) -> int:
    """``body(config)`` under the run folder's lock; a bad setting, dataset or model is one error line."""
    from videorft.data.errors import DataError
    from videorft.evaluation import session
    from videorft.models.loading import ModelLoadError
    from videorft.run_folder import run_lock

    try:
        cfg = session.cli_config(cls, args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # held until the command ends, taken before the model loads: a second writer of --out is refused
        with run_lock(cfg.out):
            return body(cfg)
    except (DataError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(cfg: Any) -> int:
    from pathlib import Path

    from videorft.evaluation import session
    from videorft.evaluation.metrics import format_table, metrics_of_file
    from videorft.evaluation.runner import PREDICTIONS_FILE, run_eval
    from videorft.video import FrameBudget

    FrameBudget.from_settings(cfg)  # a bad frame budget (e.g. --fps 0) is reported before data or model load
    data = session.load_data(cfg)
    generator, processor = session.open_generator(cfg)
    options = session.runner_options(cfg, data)
    result = run_eval(generator, processor, data.records, frame_order=cfg.frame_order, **options)

    out = Path(cfg.out)
    print(f"{len(result.rows)} predictions in {out / PREDICTIONS_FILE}", file=sys.stderr)
    if result.skipped:
        print(
            f"skipped {len(result.skipped)} unreadable video(s) (listed in protocol.json):", file=sys.stderr
        )
        for item in result.skipped[:10]:
            print(f"  {item['id']}: {item['reason']}", file=sys.stderr)
    if not result.rows:
        print(f"error: {cfg.data}: no usable samples, nothing was predicted", file=sys.stderr)
        return 1
    metrics, bad = metrics_of_file(out / PREDICTIONS_FILE, skip_invalid=True)
    write_json(out / "metrics.json", metrics)
    if bad:
        print(f"metrics: {len(bad)} row(s) could not be scored, e.g. {bad[0]}", file=sys.stderr)
    print(format_table(metrics))
    return 0

"""`videorft probe --model M --data SPEC --out DIR`: accuracy under ordered / shuffled / reversed / middle frames."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # config.py is standard-library only, so building --help stays light.
    from videorft.evaluation.config import ProbeConfig, add_config_arguments

    add_config_arguments(parser, ProbeConfig)


def run(args: argparse.Namespace) -> int:
    from videorft.data.errors import DataError
    from videorft.evaluation import session
    from videorft.evaluation.config import ProbeConfig
    from videorft.run_folder import run_lock

    try:
        cfg = session.cli_config(ProbeConfig, args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.frame_order != "ordered":
        print("error: --frame-order does not apply to the probe; choose --variants", file=sys.stderr)
        return 2

    from videorft.models.loading import ModelLoadError

    try:
        # held until the command ends, taken before the model loads: a second writer of --out is refused
        with run_lock(cfg.out):
            return _run(cfg)
    except (DataError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(cfg: Any) -> int:
    from videorft.evaluation import session
    from videorft.evaluation.probe import PROBE_FILE, format_probe, probe
    from videorft.video import FrameBudget

    FrameBudget.from_settings(cfg)  # a bad frame budget (e.g. --fps 0) is reported before data or model load
    data = session.load_data(cfg)
    generator, processor = session.open_generator(cfg)
    options = session.runner_options(cfg, data)
    report = probe(generator, processor, data.records, variants=cfg.variants, n_boot=cfg.n_boot, **options)
    skipped = report.get("skipped", [])
    if skipped:
        print(f"skipped {len(skipped)} video(s) that failed to decode:", file=sys.stderr)
        for item in skipped[:10]:
            print(f"  {item['id']}: {item['reason']}", file=sys.stderr)
    if not report["variants"]["ordered"]["n"]:
        print(
            f"error: {cfg.data}: no usable samples (every video failed to decode or none has a video)",
            file=sys.stderr,
        )
        return 1
    print(format_probe(report))
    print(f"wrote {cfg.out}/{PROBE_FILE}", file=sys.stderr)
    return 0

"""`videorft probe --model M --data SPEC --out DIR`: accuracy under ordered / shuffled / reversed / middle frames."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.evaluation.config import ProbeConfig

    add_config_options(parser, ProbeConfig)


def run(args: argparse.Namespace) -> int:
    from videorft.cli.eval import run_locked
    from videorft.evaluation.config import ProbeConfig

    return run_locked(ProbeConfig, args, _run)


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

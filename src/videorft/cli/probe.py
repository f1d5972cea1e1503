"""`videorft probe --model M --data SPEC --out DIR`: accuracy under ordered / shuffled / reversed / middle frames."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from videorft.cli.eval import report_skipped, run_locked
from videorft.cli.main import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.dataclass_cli import add_config_options
    from videorft.evaluation.config import ProbeConfig

    add_config_options(parser, ProbeConfig)


def run(args: argparse.Namespace) -> int:
    from videorft.evaluation.config import ProbeConfig

    return run_locked(ProbeConfig, args, _run)


def _run(cfg: Any, generator: Any, processor: Any, records: list, options: dict[str, Any]) -> int:
    from videorft.evaluation.probe import PROBE_FILE, format_probe, probe

    report = probe(generator, processor, records, variants=cfg.variants, n_boot=cfg.n_boot, **options)
    report_skipped(report.get("skipped", []), "video(s) that failed to decode")
    if not report["variants"]["ordered"]["n"]:
        raise CommandError(
            f"{cfg.data}: no usable samples (every video failed to decode or none has a video)", code=1
        )
    print(format_probe(report))
    print(f"wrote {cfg.out}/{PROBE_FILE}", file=sys.stderr)
    return 0

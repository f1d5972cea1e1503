"""`videorft data cot`: CoT SFT data from a teacher behind an OpenAI-compatible API (see docs/cot.md).

Video-R1's recipe: ask a large teacher for ``<think>``/``<answer>`` completions, score them with the task
reward, keep the best sample whose reward is above ``--min-reward`` and write the Video-R1 COT schema
(``process`` + ``solution``), which ``videor1:OUT.json`` loads for `videorft train sft`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, fields
from typing import Literal

from videorft.dataclass_cli import option


@dataclass
class CotCommand:
    """What `data cot` reads and writes; the teacher's settings are ``CotConfig``'s fields."""

    data: str = option(help="dataset spec (FORMAT:PATH or manifest)")
    out: str = option(help="Video-R1 COT JSON to write")
    split: str | None = option(None, "manifest split (default: every split)")
    video_root: str | None = option(None, "video folder for FORMAT:PATH specs")
    skip_invalid: bool = option(False, "skip and count bad input records")
    limit: int | None = option(None, "only the first N records")
    extra_body: str | None = option(None, "extra request fields as JSON, e.g. '{\"top_k\": 50}'")
    timing: Literal["auto", "on", "off"] = option("auto", "timestamps in the prompt (auto: frames)")
    # the teacher's frames (CotConfig.budget)
    fps: float = option(2.0, "frame sampling rate")
    nframes: int | None = option(None, "sample exactly this many frames (overrides fps)")
    min_frames: int = option(4, "fewest sampled frames")
    max_frames: int = option(16, "most sampled frames")
    max_pixels: int = option(256 * 28 * 28, "per-frame pixel cap")
    min_pixels: int = option(128 * 28 * 28, "per-frame pixel floor")
    cache: str | None = option(None, "completion cache (default: OUT.cache.sqlite)")
    report: str | None = option(None, "JSON report (default: OUT.report.json)")
    progress: bool = option(True, "progress bar on stderr")
    judge: Literal["offline", "openai"] = option("offline", "caption judge (caption records only)")
    judge_base_url: str | None = option(None, "--judge openai: the server's URL")
    judge_model: str | None = option(None, "--judge openai: the model name")


_BUDGET = ("fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.data.cot.pipeline import CotConfig
    from videorft.dataclass_cli import add_config_options

    add_config_options(parser, CotCommand, CotConfig, skip={"budget"})


def _fail(message: str) -> int:
    print(f"videorft data cot: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:

    from videorft.data.cot import CotConfig, CotError, generate_cot
    from videorft.data.errors import DataError
    from videorft.data.loaders import load_spec
    from videorft.dataclass_cli import build, given, read_config
    from videorft.files import write_json
    from videorft.video import FrameBudget

    names = {f.name for cls in (CotCommand, CotConfig) for f in fields(cls)} - {"budget"}
    try:
        values = read_config(args.config, names) if args.config else {}
        values.update(given(args))
        args = build(CotCommand, values)
        extra = json.loads(args.extra_body) if args.extra_body else {}
    except json.JSONDecodeError as exc:
        return _fail(f"--extra-body is not valid JSON: {exc}")
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if not isinstance(extra, dict):
        return _fail("--extra-body must be a JSON object")
    if args.limit is not None and args.limit < 1:
        return _fail("--limit must be >= 1")
    try:
        teacher = {k: v for k, v in values.items() if k not in vars(args)}
        budget = FrameBudget(**{k: getattr(args, k) for k in _BUDGET})
        timing = None if args.timing == "auto" else args.timing == "on"
        config = build(CotConfig, {**teacher, "budget": budget, "timing": timing, "extra_body": extra})
        loaded = load_spec(
            args.data, split=args.split, video_root=args.video_root, skip_invalid=args.skip_invalid
        )
    except (ValueError, TypeError, DataError, FileNotFoundError) as exc:
        return _fail(str(exc))
    records = loaded.records[: args.limit] if args.limit else loaded.records
    if not records:
        return _fail(f"{args.data}: no records to process\n{loaded.summary()}")
    judge = None
    if args.judge == "openai" and any(r.task == "caption" for r in records):
        if not args.judge_base_url or not args.judge_model:
            return _fail("--judge openai needs --judge-base-url and --judge-model")
        from videorft.rewards.judges import get_judge

        judge = get_judge("openai", base_url=args.judge_base_url, model=args.judge_model)
    from videorft.run_folder import file_lock

    try:
        # a second process writing the same --out is refused (the lock sits next to it: OUT.lock)
        with file_lock(os.fspath(args.out) + ".lock", args.out):
            report = generate_cot(
                records, config, args.out, cache_path=args.cache, judge=judge, progress=args.progress
            )
    except (CotError, ValueError) as exc:
        return _fail(str(exc))
    report.load_skipped = list(loaded.skipped)
    report_path = args.report or os.fspath(args.out) + ".report.json"
    write_json(report_path, report.to_dict(), indent=1, ensure_ascii=False)
    print(report.summary())
    if not report.kept:
        return _fail(
            f"no CoT record kept out of {len(report.outcomes)} (every request failed or was rejected; "
            f"reasons above and in {report_path})"
        )
    print(f"wrote {report.kept} CoT records to {args.out} (report: {report_path})")
    others = sorted({o.task for o in report.outcomes if o.kept} - set(_VIDEO_R1_TASKS))
    if others:
        print(
            f"note: {', '.join(others)} rows carry videorft extension fields (task, solution_value, meta); "
            "see docs/cot.md for loading them",
            file=sys.stderr,
        )
    return 0


_VIDEO_R1_TASKS = ("multiple_choice", "numerical", "ocr", "free_form", "regression")

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
from dataclasses import dataclass, field, fields
from typing import Literal


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class CotCommand:
    """What `data cot` reads and writes; the teacher's settings are ``CotConfig``'s fields."""

    data: str = field(metadata=_help("dataset spec (FORMAT:PATH or manifest)"))
    out: str = field(metadata=_help("Video-R1 COT JSON to write"))
    split: str | None = field(default=None, metadata=_help("manifest split (default: every split)"))
    video_root: str | None = field(default=None, metadata=_help("video folder for FORMAT:PATH specs"))
    skip_invalid: bool = field(default=False, metadata=_help("skip and count bad input records"))
    limit: int | None = field(default=None, metadata=_help("only the first N records"))
    extra_body: str | None = field(
        default=None, metadata=_help("extra request fields as JSON, e.g. '{\"top_k\": 50}'")
    )
    timing: Literal["auto", "on", "off"] = field(
        default="auto", metadata=_help("timestamps in the prompt (auto: frames)")
    )
    # the teacher's frames (CotConfig.budget)
    fps: float = field(default=2.0, metadata=_help("frame sampling rate"))
    nframes: int | None = field(
        default=None, metadata=_help("sample exactly this many frames (overrides fps)")
    )
    min_frames: int = field(default=4, metadata=_help("fewest sampled frames"))
    max_frames: int = field(default=16, metadata=_help("most sampled frames"))
    max_pixels: int = field(default=256 * 28 * 28, metadata=_help("per-frame pixel cap"))
    min_pixels: int = field(default=128 * 28 * 28, metadata=_help("per-frame pixel floor"))
    cache: str | None = field(default=None, metadata=_help("completion cache (default: OUT.cache.sqlite)"))
    report: str | None = field(default=None, metadata=_help("JSON report (default: OUT.report.json)"))
    progress: bool = field(default=True, metadata=_help("progress bar on stderr"))
    judge: Literal["offline", "openai"] = field(
        default="offline", metadata=_help("caption judge (caption records only)")
    )
    judge_base_url: str | None = field(default=None, metadata=_help("--judge openai: the server's URL"))
    judge_model: str | None = field(default=None, metadata=_help("--judge openai: the model name"))


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

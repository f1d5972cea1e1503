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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, metavar="SPEC", help="dataset spec (FORMAT:PATH or manifest)"
    )
    parser.add_argument("--split", default=None, help="manifest split (default: every split)")
    parser.add_argument("--video-root", default=None, help="video folder for FORMAT:PATH specs")
    parser.add_argument("--skip-invalid", action="store_true", help="skip and count bad input records")
    parser.add_argument("--limit", type=int, default=None, help="only the first N records")
    parser.add_argument(
        "--teacher-url", required=True, help="OpenAI-compatible base URL, e.g. http://host:8000/v1"
    )
    parser.add_argument("--teacher-model", required=True, help="model name at the endpoint")
    parser.add_argument("--out", required=True, metavar="OUT.json", help="Video-R1 COT JSON to write")
    parser.add_argument(
        "--samples", type=int, default=1, metavar="K", help="completions per record (best kept)"
    )
    parser.add_argument(
        "--min-reward", type=float, default=0.6, help="keep when the best reward is above this"
    )
    g = parser.add_argument_group("generation")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument(
        "--max-new-tokens",
        "--max-tokens",  # the OpenAI request field's name, kept as an alias
        dest="max_tokens",
        type=int,
        default=512,
        help="completion length cap per request",
    )
    g.add_argument("--seed", type=int, default=0, help="sample k is requested with seed + k")
    g.add_argument(
        "--extra-body", default=None, metavar="JSON", help="extra request fields, e.g. '{\"top_k\": 50}'"
    )
    g.add_argument("--system", default=None, help="system prompt (default: none, as the papers)")
    g.add_argument("--template", default=None, help="prompt template name or .jinja path")
    m = parser.add_argument_group("video input")
    m.add_argument(
        "--video-format",
        choices=["frames", "video_url"],
        default="frames",
        help="frames: one image_url part per sampled frame; video_url: the frames as one mp4 (vLLM)",
    )
    m.add_argument(
        "--timing",
        choices=["auto", "on", "off"],
        default="auto",
        help="timestamps in the prompt (auto: frames)",
    )
    m.add_argument("--fps", type=float, default=2.0, help="frame sampling rate")
    m.add_argument(
        "--nframes", type=int, default=None, help="sample exactly this many frames (overrides fps)"
    )
    m.add_argument("--min-frames", type=int, default=4)
    m.add_argument("--max-frames", type=int, default=16)
    m.add_argument("--max-pixels", type=int, default=256 * 28 * 28, help="per-frame pixel cap")
    m.add_argument("--min-pixels", type=int, default=128 * 28 * 28, help="per-frame pixel floor")
    c = parser.add_argument_group("requests")
    c.add_argument("--concurrency", type=int, default=4, help="records in flight at once")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    c.add_argument("--max-retries", type=int, default=3, help="retries per request")
    c.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds (doubles)")
    c.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    c.add_argument("--cache", default=None, help="completion cache (default: OUT.cache.sqlite)")
    c.add_argument("--report", default=None, help="JSON report (default: OUT.report.json)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    j = parser.add_argument_group("caption judge (caption records only)")
    j.add_argument("--judge", choices=["offline", "openai"], default="offline")
    j.add_argument("--judge-base-url", default=None)
    j.add_argument("--judge-model", default=None)


def _fail(message: str) -> int:
    print(f"videorft data cot: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:

    from videorft.data.cot import CotConfig, CotError, generate_cot
    from videorft.data.errors import DataError
    from videorft.data.loaders import load_spec
    from videorft.files import write_json
    from videorft.video import FrameBudget

    try:
        extra = json.loads(args.extra_body) if args.extra_body else {}
    except ValueError as exc:
        return _fail(f"--extra-body is not valid JSON: {exc}")
    if not isinstance(extra, dict):
        return _fail("--extra-body must be a JSON object")
    if args.limit is not None and args.limit < 1:
        return _fail("--limit must be >= 1")
    try:
        config = CotConfig(
            teacher_url=args.teacher_url,
            teacher_model=args.teacher_model,
            samples=args.samples,
            min_reward=args.min_reward,
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            seed=args.seed,
            video_format=args.video_format,
            timing=None if args.timing == "auto" else args.timing == "on",
            template=args.template,
            system=args.system,
            budget=FrameBudget(
                fps=args.fps,
                nframes=args.nframes,
                min_frames=args.min_frames,
                max_frames=args.max_frames,
                min_pixels=args.min_pixels,
                max_pixels=args.max_pixels,
            ),
            extra_body=extra,
            concurrency=args.concurrency,
            timeout=args.timeout,
            max_retries=args.max_retries,
            backoff_base=args.backoff,
            api_key_env=args.api_key_env,
        )
        loaded = load_spec(
            args.data, split=args.split, video_root=args.video_root, skip_invalid=args.skip_invalid
        )
    except (ValueError, DataError, FileNotFoundError) as exc:
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
                records, config, args.out, cache_path=args.cache, judge=judge, progress=not args.no_progress
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

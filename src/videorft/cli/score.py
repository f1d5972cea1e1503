"""`videorft score`: score completions with the task rewards (JSONL in, JSONL out).

Each input line is ``{"id": ..., "task": NAME, "completion": str, "solution": ..., ...}``; each output
line is the same object plus ``"rewards": {"format": f, "<component>": v, ..., "total": t}``.
A summary (mean per component per task) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from videorft.files import write_atomic

_MAX_LISTED_ERRORS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT.jsonl", help="completions to score, one JSON object per line")
    parser.add_argument(
        "-o", "--output", metavar="OUTPUT.jsonl", help="write scored lines here (default: stdout)"
    )
    parser.add_argument(
        "--judge",
        choices=["offline", "openai"],
        default="offline",
        help="caption-recall judge (default: offline)",
    )
    parser.add_argument(
        "--no-format", action="store_true", help="leave the format component out of the rewards"
    )
    parser.add_argument("--no-think", action="store_true", help="format rewards without a <think> block")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="skip and count bad lines instead of failing"
    )
    parser.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="COMPONENT=W",
        help="component weight, e.g. iou=2 (repeatable; applies to every task that has the component)",
    )
    r = parser.add_argument_group("reward switches (docs/deviations.md, Rewards)")
    r.add_argument(
        "--original-rule",
        action="store_true",
        help="the original reward code's rule where ours differs (tag regex, answer parsing, number and "
        "time-pair syntax, 8 tracking boxes)",
    )
    r.add_argument(
        "--answer-block",
        choices=["first", "last"],
        default=None,
        help="which <answer>/<glue> block counts when there are several (default: each reward's original)",
    )
    r.add_argument(
        "--no-clip-to-duration",
        action="store_true",
        help="temporal IoU without clipping to the video's duration, as VideoChat-R1",
    )
    g = parser.add_argument_group("openai judge")
    g.add_argument(
        "--judge-base-url", default=os.environ.get("VIDEORFT_JUDGE_BASE_URL"), help="e.g. http://host:8000/v1"
    )
    g.add_argument(
        "--judge-model", default=os.environ.get("VIDEORFT_JUDGE_MODEL"), help="model name at the endpoint"
    )
    g.add_argument(
        "--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    g.add_argument("--judge-concurrency", type=int, default=8)
    g.add_argument("--judge-timeout", type=float, default=60.0)
    g.add_argument("--judge-max-retries", type=int, default=4)
    g.add_argument("--judge-cache-dir", default=None, help="on-disk verdict cache folder")
    parser.add_argument("--judge-threshold", type=float, default=0.5, help="offline judge cosine threshold")


class _LineError(Exception):
    def __init__(self, where: str, field: str | None, reason: str) -> None:
        super().__init__(f"{where}: field {field!r}: {reason}" if field else f"{where}: {reason}")


def _read_lines(path: str) -> list[tuple[int, str]]:
    """The non-blank lines of ``path`` (``-``: stdin) with their 1-based numbers."""
    with nullcontext(sys.stdin) if path == "-" else open(path, encoding="utf-8") as stream:
        return [(number, line) for number, line in enumerate(stream, start=1) if line.strip()]


def _parse_weights(items: list[str]) -> dict[str, float]:
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise SystemExit(f"videorft score: --weight expects COMPONENT=NUMBER, got {item!r}")
    return weights


def _make_judge(args: argparse.Namespace) -> Any:
    from videorft.rewards.judges import get_judge

    if args.judge == "offline":
        return get_judge("offline", threshold=args.judge_threshold)
    if not args.judge_base_url or not args.judge_model:
        raise SystemExit("videorft score: --judge openai needs --judge-base-url and --judge-model")
    options = ("base_url", "model", "api_key_env", "concurrency", "timeout", "max_retries", "cache_dir")
    return get_judge("openai", **{name: getattr(args, f"judge_{name}") for name in options})


def reward_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reward switches the flags set (only those that differ from the defaults)."""
    from videorft.rewards.tasks import reward_switches

    return reward_switches(args.original_rule, args.answer_block, not args.no_clip_to_duration)


def run(args: argparse.Namespace) -> int:
    from videorft.rewards import SolutionError, get_task_reward
    from videorft.rewards.caption import prefetch_captions
    from videorft.rewards.judges import JudgeError
    from videorft.rewards.tasks import get_task, reward_meta, task_names

    weights = _parse_weights(args.weight)
    known = {c for t in task_names() for c in get_task(t).components}
    for comp in weights:
        if comp not in known:
            print(
                f"videorft score: --weight: unknown component {comp!r}; components: {', '.join(sorted(known))}",
                file=sys.stderr,
            )
            return 2
    think = not args.no_think
    options = reward_options(args)
    rewards: dict[str, Any] = {}
    name = args.input
    errors: list[str] = []  # every bad line, skipped with --skip-invalid

    def task_reward(task: str) -> Any:
        if task not in rewards:
            spec = get_task(task)
            own = {c: w for c, w in weights.items() if c in spec.components}
            rewards[task] = get_task_reward(spec.name, weights=own, think=think, reward_options=options)
        return rewards[task]

    # Pass 1: parse and validate every line, so errors surface before any judge call.
    rows: list[tuple[int, dict[str, Any], Any]] = []
    try:
        lines = _read_lines(args.input)
    except OSError as exc:
        print(f"videorft score: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"videorft score: {name}: not UTF-8 text ({exc.reason})", file=sys.stderr)
        return 2
    for number, line in lines:
        try:
            rows.append((number, *_parse_line(f"{name}: line {number}", line, task_reward)))
        except _LineError as exc:
            errors.append(str(exc))

    judge = None
    if any("recall" in r.functions for _, _, r in rows):
        judge = _make_judge(args)

    # Pass 2: score (captions first pre-fetched as one concurrent batch).
    results: list[dict[str, Any]] = []
    summary: dict[str, dict[str, list[float]]] = {}
    try:
        if judge is not None:
            prefetch_captions(
                judge, [(o["completion"], o["solution"]) for _, o, r in rows if "recall" in r.functions]
            )
        for number, obj, reward in rows:
            meta = reward_meta(obj)
            try:
                values = reward.score(
                    obj["completion"], obj["solution"], judge=judge, use_format=not args.no_format, **meta
                )
            except SolutionError as exc:
                errors.append(str(_LineError(f"{name}: line {number}", exc.field, exc.reason)))
                continue
            except TypeError as exc:  # an unexpected extra field clashing with a reward keyword
                errors.append(f"{name}: line {number}: {exc}")
                continue
            results.append({**obj, "rewards": values})
            per_task = summary.setdefault(reward.task, {})
            for comp, v in values.items():
                per_task.setdefault(comp, []).append(v)
    except JudgeError as exc:
        print(f"videorft score: judge failed: {exc}", file=sys.stderr)
        return 3
    finally:
        if judge is not None and hasattr(judge, "close"):
            judge.close()

    for message in errors[:_MAX_LISTED_ERRORS]:
        print(f"videorft score: {message}", file=sys.stderr)
    if len(errors) > _MAX_LISTED_ERRORS:
        print(f"videorft score: ... and {len(errors) - _MAX_LISTED_ERRORS} more bad lines", file=sys.stderr)
    if errors and not args.skip_invalid:
        print(
            f"videorft score: {len(errors)} bad line(s); nothing written (use --skip-invalid to skip them)",
            file=sys.stderr,
        )
        return 1

    _write(args.output, results)
    print(f"scored {len(results)} line(s), skipped {len(errors)}", file=sys.stderr)
    for task, comps in sorted(summary.items()):
        means = ", ".join(f"{c}={sum(v) / len(v):.4f}" for c, v in comps.items())
        print(f"  {task} (n={len(comps.get('total', []))}): {means}", file=sys.stderr)
    return 0


def _parse_line(where: str, line: str, task_reward: Callable[[str], Any]) -> tuple[dict[str, Any], Any]:
    """One input line (a JSON object with a known ``task``, a string ``completion`` and a valid ``solution``)
    and its task's reward."""
    from videorft.rewards import SolutionError, normalize_solution

    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise _LineError(where, None, f"invalid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise _LineError(where, None, f"expected a JSON object, got {type(obj).__name__}")
    for key in ("task", "completion", "solution"):
        if key not in obj:
            raise _LineError(where, key, "missing")
    if not isinstance(obj["task"], str):
        raise _LineError(where, "task", f"expected a string, got {obj['task']!r}")
    if not isinstance(obj["completion"], str):
        raise _LineError(where, "completion", f"expected a string, got {type(obj['completion']).__name__}")
    try:
        reward = task_reward(obj["task"])
    except ValueError as exc:
        raise _LineError(where, "task", str(exc)) from None
    try:
        normalize_solution(reward.task, obj["solution"])
    except SolutionError as exc:
        raise _LineError(where, exc.field, exc.reason) from None
    return obj, reward


def _write(path: str | None, results: list[dict[str, Any]]) -> None:
    if path is None:
        for obj in results:
            sys.stdout.write(_dumps(obj) + "\n")
        sys.stdout.flush()
        return
    write_atomic(path, "".join(_dumps(obj) + "\n" for obj in results))  # never a half-written output


def _dumps(obj: dict[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800"-style input escapes
        text = json.dumps(obj)
    return text

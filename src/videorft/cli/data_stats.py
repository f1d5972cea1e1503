"""`videorft data stats SPEC`: counts per split and task, skips, durations and (probed) frame statistics.

SPEC is FORMAT:PATH, a videorft_data.yaml manifest, or a folder holding one.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter, defaultdict
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="FORMAT:PATH, a videorft_data.yaml manifest, or a folder holding one")
    parser.add_argument("--split", default=None, help="only this split of a manifest")
    parser.add_argument(
        "--video-root", default=None, help="folder the annotation's video paths are relative to"
    )
    parser.add_argument(
        "--probe-videos",
        action="store_true",
        help="probe every video (frames, fps, resolution) and decode the frames training would sample "
        "(under --fps/--nframes/--min-frames/--max-frames); files that fail are listed as skipped",
    )
    # Defaults are VideoDataArguments' (training); kept literal so `data stats --help` does not import trl.
    parser.add_argument("--fps", type=float, default=2.0, help="frame sampling rate (default 2, as training)")
    parser.add_argument("--nframes", type=int, default=None, help="sample exactly this many frames")
    parser.add_argument("--min-frames", type=int, default=4, help="lower bound on frames (default 4)")
    parser.add_argument("--max-frames", type=int, default=16, help="upper bound on frames (default 16)")
    parser.add_argument(
        "--strict", action="store_true", help="fail on the first invalid record instead of skipping"
    )
    parser.add_argument(
        "--annotations-only", action="store_true", help="do not check that video files exist (no video stats)"
    )
    parser.add_argument(
        "--allow-outside-root",
        action="store_true",
        help="let relative media paths leave the dataset root through '..' (refused by default)",
    )
    parser.add_argument("--max-skips", type=int, default=20, help="skipped items listed in full (default 20)")


def _describe(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "min": min(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def compute_stats(result: Any) -> dict[str, Any]:
    """Plain-data statistics of a `LoadResult` (what the tables show)."""
    counts: Counter[tuple[str, str]] = Counter()
    durations: dict[str, list[float]] = defaultdict(list)
    videos: dict[str, set[str]] = defaultdict(set)
    for r in result.records:
        counts[(r.meta.get("split") or "-", r.task)] += 1
        media = r.video or r.image
        probed = result.media.get(media) if media else None
        d = r.meta.get("duration") or (probed.duration if probed else None)
        if d:
            durations[r.task].append(float(d))
        if media and probed is not None:
            videos[r.task].add(media)
    media_stats: dict[str, dict[str, Any]] = {}
    for task, paths in sorted(videos.items()):
        infos = [result.media[p] for p in paths]
        frames = [i.nframes for i in infos if i.nframes]
        fps = [i.fps for i in infos if i.fps]
        sizes = Counter(f"{i.width}x{i.height}" for i in infos if i.width and i.height)
        media_stats[task] = {
            "media": len(infos),
            "frames": _describe(frames) if frames else None,
            "fps": _describe(fps) if fps else None,
            "resolutions": dict(sizes.most_common(3)),
        }
    return {
        "counts": {f"{s}/{t}": n for (s, t), n in sorted(counts.items())},
        "total": len(result.records),
        "skipped": len(result.skipped),
        "skipped_by_field": dict(Counter(s.field or "-" for s in result.skipped)),
        "durations": {t: _describe(v) for t, v in sorted(durations.items())},
        "media": media_stats,
        "absolute_paths": len(getattr(result, "absolute_paths", [])),
    }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}".rstrip("0").rstrip(".")


def render(stats: dict[str, Any], result: Any, spec: str, max_skips: int = 20) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)

    def table(title: str, columns: list[str], rows: list[list[str]], left: int = 1) -> Table:
        """The first ``left`` columns are text, the others numbers (right-aligned)."""
        out = Table(title=title)
        for i, col in enumerate(columns):
            out.add_column(col, justify="left" if i < left else "right")
        for row in rows:
            out.add_row(*row)
        return out

    counts = [[*key.split("/", 1), str(n)] for key, n in stats["counts"].items()]
    first = table(f"{spec}: records per split and task", ["split", "task", "records"], counts, left=2)
    first.add_row("all", "all", str(stats["total"]), style="bold")
    console.print(first)
    if stats["durations"]:
        spans = ("min", "mean", "median", "max")
        rows = [[t, str(d["n"]), *(_fmt(d[k]) for k in spans)] for t, d in stats["durations"].items()]
        console.print(table("duration (s) per record", ["task", "n", *spans], rows))
    if stats["media"]:
        rows = []
        for task, m in stats["media"].items():
            spans = [
                "/".join(_fmt(s[k]) for k in ("min", "mean", "max")) if s else "-"
                for s in (m["frames"], m["fps"])
            ]
            res = ", ".join(f"{k} ({v})" for k, v in m["resolutions"].items()) or "-"
            rows.append([task, str(m["media"]), *spans, res])
        columns = ["task", "files", "frames min/mean/max", "fps min/mean/max", "top resolutions"]
        console.print(table("probed media (unique files)", columns, rows, left=len(columns)))

    if stats["absolute_paths"]:
        first = result.absolute_paths[0]
        console.print(
            f"absolute media paths: {stats['absolute_paths']} (allowed; e.g. {first})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"skipped: {stats['skipped']}")
    if result.skipped:
        rows = [[field, str(n)] for field, n in sorted(stats["skipped_by_field"].items())]
        console.print(table("skipped by field", ["field", "count"], rows))
        for s in result.skipped[:max_skips]:
            console.print(f"  {s}", markup=False, highlight=False, soft_wrap=True)
        if len(result.skipped) > max_skips:
            console.print(f"  ... and {len(result.skipped) - max_skips} more")


def decode_like_training(result: Any, budget: Any) -> int:
    """Decode every record's media as ``SampleEncoder`` does under ``budget`` (with the record's own frame
    count and time window); records whose media fail move to ``result.skipped``. Returns how many moved."""
    import dataclasses

    from videorft.data.errors import SkipReport
    from videorft.video import VideoDecodeError, load_image, load_video, record_budget

    failures: dict[tuple, str] = {}
    kept = []
    for record in result.records:
        reason = None
        try:
            if record.video is not None:
                clip_budget = record_budget(record, budget)
                key = (record.video, dataclasses.astuple(clip_budget))
                if key not in failures:
                    try:
                        load_video(record.video, clip_budget)
                        failures[key] = ""
                    except VideoDecodeError as exc:
                        failures[key] = f"does not decode as training samples it: {exc}"
                reason = failures[key] or None
            if reason is None and record.image is not None:
                load_image(record.image, min_pixels=budget.min_pixels, max_pixels=budget.max_pixels)
        except VideoDecodeError as exc:
            reason = f"does not decode: {exc}"
        if reason is None:
            kept.append(record)
            continue
        field = "video" if record.video is not None else "image"
        result.skipped.append(
            SkipReport(
                str(record.meta.get("source_file", "-")), record.meta.get("source_index"), field, reason
            )
        )
    moved = len(result.records) - len(kept)
    result.records = kept
    return moved


def run(args: argparse.Namespace) -> int:
    import logging

    from videorft.cli.main import CommandError, errors_exit
    from videorft.data.errors import DataError
    from videorft.data.loaders import load_spec

    # The tables below list every skip; the loader's own warning would repeat it.
    data_log = logging.getLogger("videorft.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)
    try:
        with errors_exit(DataError, ValueError, FileNotFoundError):
            result = load_spec(
                args.spec,
                split=args.split,
                video_root=args.video_root,
                skip_invalid=not args.strict,
                check_videos=args.probe_videos,
                require_videos=not args.annotations_only,
                allow_outside_root=args.allow_outside_root,
            )
    finally:
        data_log.setLevel(level)
    if args.probe_videos:
        from videorft.video import FrameBudget

        with errors_exit(ValueError):
            budget = FrameBudget(
                fps=args.fps, nframes=args.nframes, min_frames=args.min_frames, max_frames=args.max_frames
            )
        before = len(result.skipped)
        if decode_like_training(result, budget) and args.strict:
            raise CommandError(result.skipped[before])
    render(compute_stats(result), result, args.spec, args.max_skips)
    if not result.records:
        raise CommandError(f"{args.spec}: no usable records (every record was skipped)", code=1)
    return 0

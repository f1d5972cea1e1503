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
        "--probe-videos", action="store_true", help="decode-probe every video: frames, fps, resolution"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail on the first invalid record instead of skipping"
    )
    parser.add_argument(
        "--annotations-only", action="store_true", help="do not check that video files exist (no video stats)"
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
    }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}".rstrip("0").rstrip(".")


def render(stats: dict[str, Any], result: Any, spec: str, max_skips: int = 20) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    table = Table(title=f"{spec}: records per split and task")
    for col in ("split", "task", "records"):
        table.add_column(col, justify="right" if col == "records" else "left")
    for key, n in stats["counts"].items():
        split, task = key.split("/", 1)
        table.add_row(split, task, str(n))
    table.add_row("all", "all", str(stats["total"]), style="bold")
    console.print(table)

    if stats["durations"]:
        table = Table(title="duration (s) per record")
        for col in ("task", "n", "min", "mean", "median", "max"):
            table.add_column(col, justify="left" if col == "task" else "right")
        for task, d in stats["durations"].items():
            table.add_row(task, str(d["n"]), *(_fmt(d[k]) for k in ("min", "mean", "median", "max")))
        console.print(table)

    if stats["media"]:
        table = Table(title="probed media (unique files)")
        for col in ("task", "files", "frames min/mean/max", "fps min/mean/max", "top resolutions"):
            table.add_column(col)
        for task, m in stats["media"].items():
            spans = [
                "/".join(_fmt(s[k]) for k in ("min", "mean", "max")) if s else "-"
                for s in (m["frames"], m["fps"])
            ]
            res = ", ".join(f"{k} ({v})" for k, v in m["resolutions"].items()) or "-"
            table.add_row(task, str(m["media"]), *spans, res)
        console.print(table)

    console.print(f"skipped: {stats['skipped']}")
    if result.skipped:
        table = Table(title="skipped by field")
        table.add_column("field")
        table.add_column("count", justify="right")
        for field, n in sorted(stats["skipped_by_field"].items()):
            table.add_row(field, str(n))
        console.print(table)
        for s in result.skipped[:max_skips]:
            console.print(f"  {s}", markup=False, highlight=False, soft_wrap=True)
        if len(result.skipped) > max_skips:
            console.print(f"  ... and {len(result.skipped) - max_skips} more")


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from videorft.data.errors import DataError
    from videorft.data.loaders import load_spec

    # The tables below list every skip; the loader's own warning would repeat it.
    data_log = logging.getLogger("videorft.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)
    try:
        result = load_spec(
            args.spec,
            split=args.split,
            video_root=args.video_root,
            skip_invalid=not args.strict,
            check_videos=args.probe_videos,
            require_videos=not args.annotations_only,
        )
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        data_log.setLevel(level)
    render(compute_stats(result), result, args.spec, args.max_skips)
    return 0

"""Evaluation benchmarks over annotation files a user downloaded: expected file, source, tasks, metric
and the published numbers to put a result next to."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.loaders import LoadResult, get_format, load_file

_VIDEO_R1_EVAL = (
    "the Hugging Face dataset Video-R1/Video-R1-eval (the repo's README: put the JSONs in "
    "src/r1-v/Evaluation/); videos from each benchmark's official site, placed as the JSON's "
    "'./...' paths say, relative to the JSON's folder (the default video root)"
)


@dataclass(frozen=True)
class Published:
    """One published number: model, metric, value, and the setting it was measured in."""

    model: str
    metric: str
    value: float
    setting: str = ""
    source: str = ""


@dataclass(frozen=True)
class Benchmark:
    name: str
    format: str  # default loader format; ``formats`` lists every accepted one
    expected_file: str
    source: str  # where users get the file
    tasks: tuple[str, ...]
    metric: str
    published: tuple[Published, ...] = ()
    notes: str = ""
    formats: tuple[str, ...] = field(default=())

    def accepted_formats(self) -> tuple[str, ...]:
        return self.formats or (self.format,)

    def published_table(self) -> list[dict[str, Any]]:
        return [vars(p) for p in self.published]


def _video_r1(
    name: str,
    tasks: tuple[str, ...],
    f32: float,
    f64: float,
    notes: str,
    metric: str = "accuracy",
    published_metric: str = "accuracy",
) -> Benchmark:
    """Video-R1's ``eval_<name>.json``, with Video-R1-7B's reported 32- and 64-frame scores."""
    published = tuple(
        Published("Video-R1-7B", published_metric, v, f"{n} frames", "Video-R1 paper")
        for n, v in ((32, f32), (64, f64))
    )
    return Benchmark(name, "videor1", f"eval_{name}.json", _VIDEO_R1_EVAL, tasks, metric, published, notes)


_NO_QWEN = "methods.md carries no absolute Qwen2.5-VL-7B number for it."

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "charades_sta",
            "charades_json",
            "charades_test.json (VideoChat-R1) or charades_sta_test.txt (+ Charades_v1_test.csv for durations)",
            "VideoChat-R1 repo Annotations/Charades/charades_annotation/charades_test.json, or the original "
            "Charades-STA release; videos: Charades (480p) as <video_root>/<VIDEO_ID>.mp4",
            ("temporal_grounding",),
            "mIoU, R@0.3, R@0.5, R@0.7",
            (
                Published("VideoChat-R1-7B", "mIoU", 60.8, "2 fps", "VideoChat-R1 paper"),
                Published("VideoChat-R1-7B", "R@0.5", 71.7, "2 fps", "VideoChat-R1 paper"),
                Published("VideoChat-R1-7B", "R@0.7", 50.2, "2 fps", "VideoChat-R1 paper"),
                Published("Qwen2.5-VL-7B", "mIoU", 29.0, "VideoChat-R1's table", "VideoChat-R1 paper"),
                Published("Qwen2.5-VL-7B", "mIoU", 43.6, "Qwen's own report", "Qwen2.5-VL report"),
            ),
            "3,720 test queries. A user reproduced the released VideoChat-R1 at mIoU 58.2. The two "
            "Qwen2.5-VL baselines differ (29.0 vs 43.6): compare against both.",
            formats=("charades_json", "charades_txt"),
        ),
        Benchmark(
            "got10k_val",
            "got10k_json",
            "got_val.json (VideoChat-R1, 8 normalised boxes per sequence) or the GOT-10k val/ folder",
            "VideoChat-R1 repo Annotations/Got/got_val.json with the GOT-10k val frames "
            "(http://got-10k.aitestunion.com), or the val/ folder itself",
            ("tracking",),
            "mean per-sequence overlap (AO over the sampled frames); SR@0.5, SR@0.75",
            (),
            "VideoChat-R1 reports +31.2 over Qwen2.5-VL-7B (abstract), no absolute number in methods.md. "
            "Their inputs show 7 frames for 8 boxes; videorft samples one frame per box.",
            formats=("got10k_json", "got10k_dir"),
        ),
        Benchmark(
            "nextgqa",
            "nextgqa_json",
            "nextgqa_test.json (VideoChat-R1) or test.csv + gsub_test.json (+ map_vid_vidorID.json)",
            "VideoChat-R1 repo Annotations/NextGQA/nextgqa_test.json, or github.com/doc-doc/NExT-GQA "
            "datasets/nextgqa; videos: NExT-QA (VidOR) as <video_root>/<folder>/<video_id>.mp4",
            ("grounding_qa",),
            "Acc@QA, mIoU, mIoP, IoU@0.3/0.5, IoP@0.3/0.5, Acc@GQA",
            (),
            "methods.md carries no absolute NExT-GQA numbers for the three models.",
            formats=("nextgqa_json", "nextgqa_csv"),
        ),
        _video_r1(
            "mvbench",
            ("multiple_choice",),
            63.9,
            64.8,
            "VideoChat-R1 reports +1.0 over Qwen2.5-VL-7B (abstract). " + _NO_QWEN,
        ),
        _video_r1("tempcompass", ("multiple_choice",), 73.2, 73.2, _NO_QWEN),
        _video_r1(
            "videomme",
            ("multiple_choice",),
            59.3,
            61.4,
            "2,700 questions (short, medium, long videos). VideoChat-R1 reports +0.9 over Qwen2.5-VL-7B "
            "(abstract). " + _NO_QWEN,
        ),
        _video_r1(
            "videommmu",
            ("multiple_choice", "numerical"),
            52.3,
            52.4,
            "The eval JSON points at question-only clips (VideoMMMU/question_only/...), not whole "
            "lectures (Video-R1 issue #69). " + _NO_QWEN,
        ),
        _video_r1(
            "vsibench",
            ("multiple_choice", "regression"),
            35.8,
            37.1,
            "Users' reproductions land around 30-31. " + _NO_QWEN,
            "accuracy (multiple choice) and MRA (regression), averaged",
            "mean of accuracy and MRA",
        ),
        _video_r1("mmvu", ("multiple_choice",), 63.8, 63.8, "MMVU multiple-choice subset. " + _NO_QWEN),
    )
}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}") from None


def _guess_format(bench: Benchmark, path: Path) -> str:
    """Pick the accepted format that matches the file's shape (json vs txt/csv vs folder)."""
    kind = "_dir" if path.is_dir() else {".txt": "_txt", ".csv": "_csv"}.get(path.suffix)
    return next((f for f in bench.accepted_formats() if kind and f.endswith(kind)), bench.format)


def load_benchmark(
    name: str,
    path: str | os.PathLike[str],
    video_root: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    **kw: Any,
) -> LoadResult:
    """Load a benchmark's file (``format``: else guessed; ``kw``: `load_file`'s); records carry
    ``meta['benchmark']``."""
    bench = get_benchmark(name)
    p = Path(path)
    fmt = format or _guess_format(bench, p)
    if fmt not in bench.accepted_formats():
        get_format(fmt)  # unknown names get the registry's error first
        raise ValueError(f"benchmark {name!r} reads {', '.join(bench.accepted_formats())}, not {fmt!r}")
    result = load_file(fmt, p, video_root=video_root, **kw)
    unexpected = sorted({r.task for r in result.records} - set(bench.tasks))
    if unexpected:
        # Not fatal (files get extended), but a sign of the wrong file for this benchmark.
        logging.getLogger("videorft.data").warning(
            "%s: benchmark %s expects tasks %s, file also has %s", p, name, bench.tasks, unexpected
        )
    for r in result.records:
        r.meta["benchmark"] = name
    return result

"""`videorft bench`: the one-object JSON contract, the report writer, and benchmark loading errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from videorft.cli.bench import BENCHMARKS, load_benchmark, render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_every_registered_benchmark_file_exists_and_has_run() -> None:
    for name in BENCHMARKS:
        assert callable(load_benchmark(REPO / "benchmarks", name).run), name


def test_unknown_or_missing_benchmark_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(ValueError, match="valid: frames, tgrpo"):
        load_benchmark(REPO / "benchmarks", "nope")
    with pytest.raises(FileNotFoundError, match="bench_tgrpo.py"):
        load_benchmark(tmp_path, "tgrpo")


def test_report_marks_missed_targets() -> None:
    report = {
        "command": "videorft bench --quick",
        "date": "2026-01-01 00:00 UTC",
        "machine": {"cpu": "x", "cores": 2},
        "results": {
            "rewards": {"rule_rewards_per_s": 9_000.0, "seconds": 1.0},
            "gpu": {"skipped": "no CUDA device", "seconds": 0.0},
        },
    }
    text = render_markdown(report)
    assert "`videorft bench --quick`" in text and "2026-01-01" in text
    row = next(line for line in text.splitlines() if line.startswith("| 3. rule rewards"))
    assert "9,000" in row and row.endswith("| **no** |")
    assert "no CUDA device" in text


@pytest.mark.slow
def test_bench_quick_json_prints_one_object_with_positive_headlines(tmp_path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "videorft.cli.main", "bench", "--quick", "--json", "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)  # exactly one JSON document on stdout
    for key in ("frame_loading_speedup", "tgrpo_step_ratio", "naive_tgrpo_step_ratio", "rule_rewards_per_s"):
        assert isinstance(report[key], int | float) and report[key] > 0, key
    assert report["results"]["frames"]["all_frames_identical"]
    assert report["results"]["memory"]["errors"] == 0
    text = out.read_text()
    assert "## Summary" in text and report["machine"]["cpu"] in text
    assert (tmp_path / "memory_scaling.png").stat().st_size > 0


def test_frames_bench_reports_a_torchcodec_that_cannot_load(tmp_path, monkeypatch) -> None:
    """An installed torchcodec whose FFmpeg libraries fail to load is a column note, not a crashed bench."""
    fake = tmp_path / "site" / "torchcodec"
    (fake / "decoders").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "decoders" / "__init__.py").write_text(
        'raise OSError("Could not load libtorchcodec. FFmpeg libraries (libavutil.so.59) not found")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("torchcodec", "torchcodec.decoders"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    frames = load_benchmark(REPO / "benchmarks", "frames")
    out = frames._other_loaders(tmp_path / "unused.mp4", [0, 1], repeats=1)
    assert out["torchcodec_s"].startswith("cannot load: Could not load libtorchcodec. FFmpeg")

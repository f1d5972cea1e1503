"""The frame-loading benchmark runs and compares identical frames (slow: renders 60-s videos)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_frames.py"


@pytest.mark.slow
def test_quick_benchmark_reports_identical_frames():
    spec = importlib.util.spec_from_file_location("bench_frames", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(quick=True)
    assert result["all_frames_identical"]
    assert result["frame_loading_speedup"] > 0
    cases = {(r["video"], r["budget"]) for r in result["rows"]}
    assert len(cases) == len(bench.QUICK_VIDEOS) * len(bench.BUDGETS)

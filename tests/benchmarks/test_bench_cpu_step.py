"""benchmarks/bench_cpu_step.py: each CPU shortcut against what it replaces gives bit-identical results."""

from __future__ import annotations

from pathlib import Path

import pytest

from videorft.cli.bench import BENCHMARKS, load_benchmark

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cpu_step_shortcuts_are_identical_to_what_they_replace() -> None:
    result = load_benchmark(REPO / "benchmarks", "cpu_step").run(quick=True)
    assert "cpu_step" in BENCHMARKS
    for name in ("logps", "processors", "head_cast"):
        assert result[name]["identical"], name
        assert result[name]["shipped_s"] > 0 and result[name]["replaced_s"] > 0
    assert result["all_identical"]

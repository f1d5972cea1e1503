"""The reward benchmark runs and reports the keys `videorft bench` reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_rewards_quick() -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_rewards.py"
    spec = importlib.util.spec_from_file_location("bench_rewards", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.run(quick=True)
    for key in (
        "rule_rewards_per_s",
        "openai_judge_events_per_s_c8",
        "offline_judge_events_per_s",
        "judge_cache_hit_rate",
    ):
        assert out[key] > 0
    # The second pass over the same questions is answered entirely from the cache.
    assert out["judge_cache_hit_rate"] == 0.5

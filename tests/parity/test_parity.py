"""Worked cases whose expected values were obtained by running the original code outside this repository.

Each fixture in ``fixtures/`` names the repository, file, function and commit that produced its
``original`` values (drivers ran those functions on these inputs; none of their code is copied here).
A case where videorft deliberately differs also holds ``ours`` (our default), ``why`` (the section of
docs/deviations.md or docs/rewards.md that explains it) and ``option``: the reward keyword or
``MetricOptions`` setting that reproduces the original (null where no switch exists; deviations.md
lists those). ``{"error": field}`` as ``ours`` means we reject the input as a malformed solution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from videorft.evaluation.metrics import MetricOptions, compute_metrics
from videorft.rewards import SolutionError, get_reward

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))
CASES = [
    pytest.param(fx, case, id=f"{fx.stem}-{i}")
    for fx in FIXTURES
    for i, case in enumerate(json.loads(fx.read_text())["cases"])
]


def _value(case: dict[str, Any], option: dict[str, Any] | None) -> Any:
    option = option or {}
    if "reward" in case:
        try:
            return get_reward(case["reward"])(case["completion"], case["solution"], **case["meta"], **option)
        except SolutionError as exc:
            return {"error": exc.field}
    metrics = compute_metrics(case["rows"], options=MetricOptions(**option))
    return metrics[case["task"]][case["metric"]]


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, dict) or isinstance(got, dict):
        return got == want
    return got == pytest.approx(want, rel=0, abs=1e-9)


def test_every_fixture_names_its_source() -> None:
    assert len(FIXTURES) >= 7
    for fx in FIXTURES:
        source = json.loads(fx.read_text())["source"]
        assert {"repository", "file", "function", "commit"} <= set(source), fx.name
        assert len(source["commit"]) == 40, fx.name


@pytest.mark.parametrize(("fixture", "case"), CASES)
def test_default_reproduces_the_original_or_the_documented_difference(fixture: Path, case: dict) -> None:
    expected = case.get("ours", case["original"])
    assert _same(_value(case, None), expected)
    if "ours" in case:
        assert case["why"], "a deliberate difference names where it is documented"


@pytest.mark.parametrize(("fixture", "case"), [c for c in CASES if c.values[1].get("option")])
def test_the_option_reproduces_the_original(fixture: Path, case: dict) -> None:
    assert _same(_value(case, case["option"]), case["original"])

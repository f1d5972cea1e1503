"""Worked cases whose expected values were obtained by running the original code outside this repository.

Each fixture in ``fixtures/`` names the repository, file, function and commit that produced its
``original`` values (drivers ran those functions on these inputs; none of their code is copied here).
A case where videorft deliberately differs also holds ``ours`` (our default), ``why`` (the section of
docs/deviations.md or docs/rewards.md that explains it) and ``option``: the reward keyword or
``MetricOptions`` setting that reproduces the original (every difference has one).
``{"error": field}`` as ``ours`` means we reject the input as a malformed solution. A case where the
default is the original but a documented option departs from it holds ``alternative``:
``{"option": ..., "value": ..., "why": ...}``.
Drivers that produced the ``original`` values extracted the named functions from the pinned commit
at run time (no copy of them is kept here) and called them as the training scripts do.
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


def test_every_difference_names_the_option_that_removes_it() -> None:
    differing = [c.values[1] for c in CASES if "ours" in c.values[1]]
    assert len(differing) >= 15
    for case in differing:
        assert case.get("option"), case["completion"] if "completion" in case else case


@pytest.mark.parametrize(("fixture", "case"), [c for c in CASES if "ours" in c.values[1]])
def test_the_option_reproduces_the_original(fixture: Path, case: dict) -> None:
    assert _same(_value(case, case["option"]), case["original"])


@pytest.mark.parametrize(("fixture", "case"), [c for c in CASES if "alternative" in c.values[1]])
def test_the_alternative_option_gives_its_documented_value(fixture: Path, case: dict) -> None:
    alternative = case["alternative"]
    assert alternative["why"]
    assert not _same(alternative["value"], case["original"])
    assert _same(_value(case, alternative["option"]), alternative["value"])

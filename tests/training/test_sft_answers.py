"""The format-only cold start: random answers of the right form, no information about the gold one."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from videorft.data.record import Record
from videorft.rewards import score
from videorft.training.sft import random_answer, sft_target


def _mc(solution: str = "B") -> Record:
    return Record(
        id="q", task="multiple_choice", problem="Which?", solution=solution, options=["A. red", "B. blue"]
    )


def test_random_answers_are_uniform_over_options_and_independent_of_the_gold() -> None:
    rng = random.Random(0)
    for gold in ("A", "B"):
        letters = Counter(random_answer(_mc(gold), rng).solution for _ in range(2000))
        assert set(letters) == {"A", "B"}
        assert abs(letters["A"] / 2000 - 0.5) < 0.05  # ~4.5 standard errors


def test_random_targets_keep_the_format_reward() -> None:
    rng = random.Random(1)
    record = _mc()
    for _ in range(20):
        target = sft_target(random_answer(record, rng), style="no_think")
        assert score("multiple_choice", target, "B", think=False)["format"] == 1.0


def test_a_cot_arguing_for_the_real_answer_is_dropped() -> None:
    record = _mc()
    record.meta["process"] = "<think>Red comes first, so B.</think>"
    target = sft_target(random_answer(record, random.Random(0)))
    assert "Red comes first" not in target and target.startswith("<think>")
    assert record.meta["process"]  # the record itself is left as it was


def test_random_intervals_lie_inside_the_video() -> None:
    rng = random.Random(2)
    record = Record(
        id="g", task="temporal_grounding", problem="red square", solution=[1.0, 2.0], meta={"duration": 6.0}
    )
    for _ in range(50):
        a, b = random_answer(record, rng).solution
        assert 0.0 <= a <= b <= 6.0
    target = sft_target(random_answer(record, rng), style="no_think")
    assert score("temporal_grounding", target, [1.0, 2.0], think=False, duration=6.0)["format"] == 1.0


def test_other_tasks_are_refused_by_name() -> None:
    record = Record(id="n7", task="numerical", problem="How many?", solution="3")
    with pytest.raises(ValueError, match="n7.*numerical"):
        random_answer(record, random.Random(0))

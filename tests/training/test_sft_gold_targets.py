"""Every task's gold SFT target earns full accuracy (and full format) under that task's own training reward.

A target the reward cannot read back (a number format, a box precision, a caption join) would teach the cold start
an answer RL then scores as wrong. Times are written with 2 decimals and boxes with 3 (``rewards.solutions.answer_text``), so a
solution with more digits loses exactly what that rounding costs, and no more: the bound below.
"""

from __future__ import annotations

from collections import Counter

import pytest

from videorft.data.loaders import load_spec
from videorft.data.record import TASKS, Record
from videorft.rewards.tasks import get_task_reward
from videorft.rewards.trl import TaskRewardFunction
from videorft.training.sft import sft_target

#: Video-R1 problem types the synthetic suite does not render, with gold solutions as its loader makes them.
EXTRA = [
    Record(id="ocr", task="ocr", problem="What does the sign say?", solution="STOP here", video="v.mp4"),
    Record(id="free", task="free_form", problem="What happens?", solution="a ball rolls left", video="v.mp4"),
    Record(id="reg", task="regression", problem="How far?", solution="3.75", video="v.mp4"),
    Record(id="num", task="numerical", problem="How many?", solution="12", video="v.mp4"),
]


@pytest.fixture(scope="module")
def gold_records(synth_suite_dir) -> list[Record]:
    records = load_spec(str(synth_suite_dir), split="train").records + EXTRA + EXACT
    assert set(Counter(r.task for r in records)) == set(TASKS)  # every task is checked
    return records


def rounding_bound(record: Record) -> float:
    """The lowest accuracy the written precision allows: 1.0 unless the solution has more digits than written."""
    if record.task == "temporal_grounding":
        start, end = (float(v) for v in record.solution)
        d = 0.005 if any(abs(v - round(v, 2)) > 1e-12 for v in (start, end)) else 0.0
        return (end - start - 2 * d) / (end - start + 2 * d)
    if record.task == "tracking":
        worst = 1.0
        for box in record.solution:
            x0, y0, x1, y1 = (float(v) for v in box)
            d = 0.0005 if any(abs(v - round(v, 3)) > 1e-12 for v in box) else 0.0
            w, h = x1 - x0, y1 - y0
            worst = min(worst, (w - 2 * d) * (h - 2 * d) / ((w + 2 * d) * (h + 2 * d)))
        return worst
    return 1.0


#: Solutions exact at the written precision: the bound is 1.0 and the score must be exactly full.
EXACT = [
    Record(
        id="tg-exact", task="temporal_grounding", problem="When?", solution=[1.25, 3.5], video="v.mp4",
        meta={"duration": 8.0},
    ),
    Record(
        id="track-exact", task="tracking", problem="Track it.", solution=[[0.1, 0.2, 0.5, 0.625]] * 4,
        video="v.mp4", meta={"first_box": [0.1, 0.2, 0.5, 0.625], "nframes": 4},
    ),
]  # fmt: skip


@pytest.mark.parametrize("style", ["think", "no_think"])
def test_gold_target_scores_full_accuracy_under_its_own_reward(gold_records, style):
    reward = TaskRewardFunction(think=style == "think")
    failures = []
    for record in gold_records:
        target = sft_target(record, style=style)
        scores = reward.score(record.task, target, record.solution, record.meta)
        accuracy = scores[get_task_reward(record.task, think=style == "think").accuracy_component]
        if accuracy < rounding_bound(record) - 1e-9 or scores.get("format", 1.0) < 1.0:
            failures.append(f"{record.id} ({record.task}): {scores} for {target!r}")
    assert failures == []

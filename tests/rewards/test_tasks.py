"""Task compositions (R_st, R_qa, R_gqa, R_cap), aliases, weights."""

from __future__ import annotations

import pytest

from videorft.data.record import TASKS
from videorft.rewards import (
    canonical_task,
    get_task_reward,
    normalize_solution,
    score,
    task_names,
)

T = "<think>t</think>"


def test_every_record_task_has_a_reward() -> None:
    assert sorted(task_names()) == sorted(TASKS)


@pytest.mark.parametrize(
    ("task", "components", "accuracy"),
    [
        ("temporal_grounding", ["format", "iou"], "iou"),
        ("tracking", ["format", "iou"], "iou"),
        ("multiple_choice", ["format", "accuracy"], "accuracy"),
        ("numerical", ["format", "accuracy"], "accuracy"),
        ("ocr", ["format", "accuracy"], "accuracy"),
        ("free_form", ["format", "accuracy"], "accuracy"),
        ("regression", ["format", "accuracy"], "accuracy"),
        ("quality", ["format", "accuracy"], "accuracy"),
        ("grounding_qa", ["format", "iou", "accuracy"], "accuracy"),
        ("caption", ["format", "recall"], "recall"),
    ],
)
def test_compositions(task: str, components: list[str], accuracy: str) -> None:
    reward = get_task_reward(task)
    assert list(reward.components) == components
    assert all(w == 1.0 for w in reward.components.values())
    assert reward.accuracy_component == accuracy


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("multiple choice", "multiple_choice"),
        ("OCR", "ocr"),
        ("free-form", "free_form"),
        ("numerical", "numerical"),
        ("regression", "regression"),
        ("Temporal Grounding", "temporal_grounding"),
        ("gqa", "grounding_qa"),
    ],
)
def test_canonical_task_aliases(alias: str, canonical: str) -> None:
    assert canonical_task(alias) == canonical


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid tasks: temporal_grounding, tracking"):
        canonical_task("segmentation")


def test_r_st_total_is_format_plus_iou() -> None:
    out = score("temporal_grounding", f"{T}<answer>10 to 20</answer>", [15, 25])
    assert out == pytest.approx({"format": 1.0, "iou": 1 / 3, "total": 4 / 3})


def test_r_gqa_total_is_format_plus_iou_plus_accuracy() -> None:
    sol = {"answer": "B", "intervals": [[0, 10]]}
    out = score("grounding_qa", f"{T}<answer>B</answer><glue>[(0, 5)]</glue>", sol)
    assert out == pytest.approx({"format": 1.0, "iou": 0.5, "accuracy": 1.0, "total": 2.5})


def test_r_qa_video_r1_record() -> None:
    # A Video-R1 record: problem_type spelling, <answer>-wrapped solution, extra fields as meta.
    out = score(
        "multiple choice",
        f"{T}<answer>B</answer>",
        "<answer>B</answer>",
        problem_id=7,
        data_type="video",
        options=["A. x", "B. y"],
    )
    assert out == {"format": 1.0, "accuracy": 1.0, "total": 2.0}


def test_weights_and_no_format() -> None:
    c = f"{T}<answer>10 to 20</answer>"
    weighted = get_task_reward("temporal_grounding", weights={"format": 0.5, "iou": 2.0}).score(c, [15, 25])
    assert weighted["total"] == pytest.approx(0.5 + 2 / 3)
    no_format = score("temporal_grounding", c, [15, 25], use_format=False)
    assert no_format == pytest.approx({"iou": 1 / 3, "total": 1 / 3})
    with pytest.raises(ValueError, match="components: format, iou"):
        get_task_reward("temporal_grounding", weights={"accuracy": 1.0})


def test_no_think_variant() -> None:
    assert score("multiple_choice", "<answer>B</answer>", "B", think=False)["format"] == 1.0
    assert score("multiple_choice", "<answer>B</answer>", "B")["format"] == 0.0
    gqa = score(
        "grounding_qa",
        "<answer>B</answer><glue>[(0, 5)]</glue>",
        {"answer": "B", "intervals": [[0, 5]]},
        think=False,
    )
    assert gqa["format"] == 1.0


class _FixedJudge:
    def __init__(self, verdicts: list[bool]) -> None:
        self.verdicts = verdicts
        self.calls: list[tuple[list[str], str]] = []

    def entails(self, events: list[str], prediction: str) -> list[bool]:
        self.calls.append((events, prediction))
        return self.verdicts[: len(events)]


def test_r_cap_recall_share_with_given_judge() -> None:
    judge = _FixedJudge([True, False, True, False])
    out = score(
        "caption",
        f"{T}<answer>A man opens a door.</answer>",
        {"events": ["e1", "e2", "e3", "e4"]},
        judge=judge,
    )
    assert out == {"format": 1.0, "recall": 0.5, "total": 1.5}
    # The judge sees only the answer, never the think block.
    assert judge.calls == [(["e1", "e2", "e3", "e4"], "A man opens a door.")]


def test_r_cap_reference_string_split_into_sentences_and_no_answer_skips_judge() -> None:
    judge = _FixedJudge([True, True, True])
    out = score("caption", f"{T}<answer>x</answer>", "He sits. She stands up!  They leave?", judge=judge)
    assert judge.calls[0][0] == ["He sits.", "She stands up!", "They leave?"]
    assert out["recall"] == 1.0
    judge.calls.clear()
    assert score("caption", "no answer here", {"events": ["e"]}, judge=judge)["recall"] == 0.0
    assert judge.calls == []


@pytest.mark.parametrize(
    ("task", "solution", "canonical"),
    [
        ("temporal_grounding", "<answer>1.5 to 3</answer>", (1.5, 3.0)),
        ("multiple_choice", "(C)", "C"),
        ("numerical", "<answer>1,024</answer>", 1024.0),
        ("caption", {"events": [" a ", "", "b"]}, ("a", "b")),
        ("grounding_qa", {"answer": "<answer>A</answer>", "glue": "[(1, 2)]"}, ("A", ((1.0, 2.0),))),
    ],
)
def test_normalize_solution(task: str, solution: object, canonical: object) -> None:
    assert normalize_solution(task, solution) == canonical


def test_register_task_is_the_one_place_a_task_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new task, registered once, is known to records, prompts, solutions, task rewards and the TRL adapter."""
    from videorft.data.prompts import task_templates
    from videorft.data.record import Record
    from videorft.rewards import register_task, tasks
    from videorft.rewards.solutions import SolutionError, as_number
    from videorft.rewards.trl import TaskRewardFunction

    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))
    monkeypatch.setattr(tasks, "_ALIASES", dict(tasks._ALIASES))
    register_task(
        "counting",
        components={"format": "format", "accuracy": "numerical_accuracy"},
        accuracy="accuracy",
        solution=as_number,
        aliases=("how many",),
    )
    assert "counting" in task_names() and canonical_task("How Many") == "counting"
    Record(id="c1", task="counting", problem="How many dots?", solution=3)  # accepted
    assert task_templates()["counting"] == "reasoning.jinja"
    assert normalize_solution("counting", "1,000") == 1000.0
    with pytest.raises(SolutionError):
        normalize_solution("counting", "many")
    assert score("how many", f"{T}<answer>3</answer>", 3) == {"format": 1.0, "accuracy": 1.0, "total": 2.0}
    f = TaskRewardFunction()
    assert f(prompts=["q"], completions=[f"{T}<answer>4</answer>"], task=["counting"], solution=[3]) == [1.0]
    with pytest.raises(ValueError, match="already registered: gqa"):
        register_task("other", components={"a": "format"}, accuracy="a", solution=str, aliases=("gqa",))
    with pytest.raises(KeyError, match="unknown reward 'nope'"):
        register_task("other", components={"a": "nope"}, accuracy="a", solution=str)
    with pytest.raises(ValueError, match="unknown task 'nope'; valid tasks: temporal_grounding"):
        Record(id="x", task="nope", problem="?", solution=1)

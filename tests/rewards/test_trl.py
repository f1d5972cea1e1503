"""TRL adapter: reward functions with GRPOTrainer's calling convention."""

from __future__ import annotations

import inspect
import json
import math

import pytest

from videorft.rewards import SolutionError
from videorft.rewards.trl import TaskRewardFunction, completion_text

GOOD_TG = "<think>t</think><answer>10 to 20</answer>"


def _trl_kwargs(n: int, logged: dict[str, list[float]]) -> dict[str, object]:
    """The extra keyword arguments GRPOTrainer 1.16 passes to every reward function."""
    return {
        "completion_ids": [[1, 2, 3]] * n,
        "trainer_state": object(),
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: logged.setdefault(name, []).append(value),
    }


def test_plain_text_completions_fixed_task() -> None:
    f = TaskRewardFunction("temporal_grounding")
    logged: dict[str, list[float]] = {}
    out = f(
        prompts=["p", "p"],
        completions=[GOOD_TG, "<answer>10 to 20</answer>"],
        solution=[[15, 25], [10, 20]],
        duration=[100.0, 100.0],
        **_trl_kwargs(2, logged),
    )
    assert out == pytest.approx([1 + 1 / 3, 1.0])
    assert f.__name__ == "task_reward_temporal_grounding"
    # one value per sample: TRL averages them over the logging step (across processes, too)
    assert logged["rewards/temporal_grounding/iou"] == [pytest.approx(1 / 3), 1.0]
    assert logged["rewards/temporal_grounding/format"] == [1.0, 0.0]
    assert f.last_accuracy == [pytest.approx(1 / 3), 1.0]


def test_conversational_completions_and_component() -> None:
    f = TaskRewardFunction("multiple_choice", component="accuracy")
    conv = [
        [{"role": "assistant", "content": "<think>t</think><answer>B</answer>"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "<think>t</think><answer>C</answer>"}]}],
    ]
    out = f(
        prompts=[[{"role": "user", "content": "q"}]] * 2,
        completions=conv,
        solution=["B", "<answer>B</answer>"],
    )
    assert out == [1.0, 0.0]
    assert f.__name__ == "task_reward_multiple_choice_accuracy"


def test_task_from_column_and_video_r1_problem_type() -> None:
    f = TaskRewardFunction()
    out = f(
        prompts=["a", "b"],
        completions=["<think>t</think><answer>B</answer>", "<think>t</think><answer>3.0</answer>"],
        solution=["B", "<answer>3</answer>"],
        problem_type=["multiple choice", "numerical"],
    )
    assert out == [2.0, 2.0]
    with pytest.raises(KeyError, match="no 'task'"):
        f(prompts=["a"], completions=["x"], solution=["B"])


def test_fixed_task_returns_none_for_other_tasks() -> None:
    f = TaskRewardFunction("multiple_choice")
    out = f(
        prompts=["a", "b"],
        completions=["<think>t</think><answer>B</answer>", GOOD_TG],
        solution=["B", [10, 20]],
        task=["multiple_choice", "temporal_grounding"],
    )
    assert out == [2.0, None]
    assert f.last_accuracy[0] == 1.0 and math.isnan(f.last_accuracy[1])  # aligned with the batch


def test_bad_solution_names_the_sample() -> None:
    f = TaskRewardFunction("temporal_grounding")
    with pytest.raises(SolutionError, match="sample 1"):
        f(prompts=["a", "b"], completions=[GOOD_TG, GOOD_TG], solution=[[1, 2], [3, 1]])


def test_unknown_component_fails_at_construction() -> None:
    with pytest.raises(KeyError, match="components: format, iou"):
        TaskRewardFunction("temporal_grounding", component="accuracy")


def test_matches_trl_reward_function_protocol() -> None:
    # GRPOTrainer calls reward_func(prompts=..., completions=..., completion_ids=..., **columns).
    params = inspect.signature(TaskRewardFunction("caption")).parameters
    assert {"prompts", "completions"} <= set(params)
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_caption_batch_prefetches_through_the_judge() -> None:
    class CountingJudge:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def entails_many(self, items: list) -> list[list[bool]]:
            self.batches.append(len(items))
            return [[True] * len(e) for e, _ in items]

        def entails(self, events: list[str], prediction: str) -> list[bool]:
            return [True] * len(events)

    judge = CountingJudge()
    f = TaskRewardFunction("caption", judge=judge)
    comps = [f"<think>t</think><answer>caption {i}</answer>" for i in range(4)]
    out = f(prompts=["p"] * 4, completions=comps, solution=[{"events": ["e1", "e2"]}] * 4)
    assert out == [2.0] * 4
    assert judge.batches == [4]


def test_completion_text() -> None:
    assert completion_text("x") == "x"
    assert completion_text({"role": "assistant", "content": "y"}) == "y"
    with pytest.raises(TypeError):
        completion_text(3)


def test_nested_meta_column_reaches_rewards() -> None:
    f = TaskRewardFunction("temporal_grounding", component="iou")
    out = f(
        prompts=["p"],
        completions=["<think>t</think><answer>20 to 40</answer>"],
        solution=[[25, 30]],
        meta=[{"duration": 30.0}],
    )
    assert out == [pytest.approx(0.5)]


def test_videochat_r1_dataset_rows_as_its_grpo_tasks_script_builds_them() -> None:
    """VideoChat-R1 (src/open_r1/grpo_tasks.py) builds rows {problem, solution, video_path,
    durations, data_type}: tracking solution {"answer": boxes}, tg a (start, end) tuple, gqa
    {"answer", "glue"}. Each scores as our canonical solution does."""
    import datasets

    boxes = [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6]]
    rows = {
        "tracking": {"problem": {"object": "cat", "start": boxes[0]}, "solution": {"answer": boxes},
                     "video_path": ["a.jpg", "b.jpg"], "durations": 0, "data_type": "tracking"},
        "tg": {"problem": "a person sits", "solution": (10.0, 20.0), "video_path": "v.mp4",
               "durations": 100.0, "data_type": "tg"},
        "gqa": {"problem": {"question": "q", "options": ["A. x", "B. y"]},
                "solution": {"answer": "B", "glue": [[1.0, 4.0]]}, "video_path": "v.mp4",
                "durations": 30.0, "data_type": "gqa"},
    }  # fmt: skip
    completions = {
        "tracking": "<think>t</think><answer>[[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.5, 0.5]]</answer>",
        "tg": "<think>t</think><answer>15 to 125</answer>",  # past the 100 s video: clipped
        "gqa": "<think>t</think><answer>B</answer><glue>[2.0, 4.0]</glue>",
    }
    canonical = {
        "tracking": ("tracking", boxes, {}),
        "tg": ("temporal_grounding", [10.0, 20.0], {"duration": 100.0}),
        "gqa": ("grounding_qa", {"answer": "B", "intervals": [[1.0, 4.0]]}, {"duration": 30.0}),
    }
    f = TaskRewardFunction()
    for name, row in rows.items():
        # one dataset per task, as the script makes them; TRL hands the reward columns as lists
        batch = datasets.Dataset.from_list([row, row])[:]
        batch.pop("problem")
        got = f(prompts=["p", "p"], completions=[completions[name]] * 2, **batch)
        task, solution, meta = canonical[name]
        want = TaskRewardFunction(task)(
            prompts=["p"], completions=[completions[name]], solution=[solution],
            **{k: [v] for k, v in meta.items()},
        )  # fmt: skip
        assert got == pytest.approx(want * 2), name
        assert 0 < want[0] < 3, name  # a real, partial score: the fields arrived


def test_reward_options_reach_every_component() -> None:
    completions = [
        "<think>t</think><answer>1_000 to 1_200</answer>",
        "<think>t</think><answer>[[0, 0, 1, 1]]</answer>",
    ]
    columns = {"solution": [[1000, 1200], [[0, 0, 1, 1]]], "task": ["temporal_grounding", "tracking"]}
    assert TaskRewardFunction()(prompts=["q"] * 2, completions=completions, **columns) == [2.0, 2.0]
    original = TaskRewardFunction(reward_options={"original_rule": True})
    # VideoChat-R1: its time-pair regex rejects 1_000; tracking needs exactly 8 boxes (format and IoU)
    assert original(prompts=["q"] * 2, completions=completions, **columns) == [1.0, 0.0]
    iou = TaskRewardFunction("temporal_grounding", "iou", reward_options={"original_rule": True})
    assert iou(prompts=["q"], completions=completions[:1], solution=[[1000, 1200]]) == [0.0]
    with pytest.raises(ValueError, match="answer_block"):
        TaskRewardFunction(reward_options={"answer_block": "middle"})


def test_videorft_dataset_rows_json_solution_and_meta() -> None:
    """The trainer's rows (``to_hf_dataset``): solution and meta as JSON text, other columns ignored."""
    f = TaskRewardFunction(json_solutions=True)
    out = f(
        prompts=["p"],
        completions=["<think>t</think><answer>20 to 40</answer>"],
        task=["temporal_grounding"],
        solution=[json.dumps([25, 30])],
        meta=[json.dumps({"duration": 30.0})],
        problem=["when?"],
        video=["v.mp4"],
    )
    assert out == [pytest.approx(1.5)]  # clipped to the 30 s duration from meta: IoU 0.5


def test_top_level_fields_win_over_nested_meta_and_options_win_over_both() -> None:
    from videorft.rewards.tasks import reward_meta

    row = {"id": 1, "task": "tg", "duration": 30.0, "meta": json.dumps({"duration": 99.0, "first_box": [0]})}
    assert reward_meta(row) == {"duration": 30.0, "first_box": [0]}
    assert reward_meta({"durations": 12.0}) == {"duration": 12.0}
    f = TaskRewardFunction("multiple_choice", "accuracy", reward_options={"answer_block": "last"})
    two_blocks = "<think>t</think><answer>B</answer><answer>C</answer>"
    assert f(prompts=["q"], completions=[two_blocks], solution=["C"], answer_block=["first"]) == [1.0]


def test_judge_by_name_is_built_only_when_a_caption_shows_up() -> None:
    f = TaskRewardFunction(judge="no-such-judge")
    mc = f(prompts=["q"], completions=["<think>t</think><answer>B</answer>"], task=["mc"], solution=["B"])
    assert mc == [2.0]  # no caption: the judge was never needed
    with pytest.raises(KeyError, match="unknown judge 'no-such-judge'"):
        f(prompts=["q"], completions=["<answer>a cat</answer>"], task=["caption"], solution=[["a cat"]])

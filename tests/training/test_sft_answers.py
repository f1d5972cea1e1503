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


def test_a_mixed_cold_start_draws_random_answers_for_the_named_task_only(
    tiny_model_dir, synth_suite_dir
) -> None:
    from videorft.inputs import SampleEncoder, row_record
    from videorft.models.loading import load_processor
    from videorft.training.config import VideoDataArguments
    from videorft.training.run import build_dataset
    from videorft.training.sft import VideoSFTCollator

    data_args = VideoDataArguments(
        data=str(synth_suite_dir), tasks=["temporal_grounding", "multiple_choice"], nframes=4,
        min_pixels=56 * 56, max_pixels=56 * 56,
    )  # fmt: skip
    dataset, _ = build_dataset(data_args)
    rows = [dataset[i] for i in range(len(dataset))]
    tasks = [row_record(row).task for row in rows]
    processor = load_processor(str(tiny_model_dir))
    encoder = SampleEncoder.from_data_args(processor, data_args)

    def targets(answers: str, task: str) -> list[str]:
        labels = VideoSFTCollator(encoder, answers=answers, seed=0)(rows)["labels"]
        return [processor.tokenizer.decode(lab[lab != -100]) for lab, t in zip(labels, tasks) if t == task]

    mixed = "temporal_grounding=gold,multiple_choice=random"
    assert targets(mixed, "temporal_grounding") == targets("gold", "temporal_grounding")
    assert targets("random", "temporal_grounding") != targets("gold", "temporal_grounding")
    assert targets(mixed, "multiple_choice") != targets("gold", "multiple_choice")


@pytest.mark.parametrize(
    "spec",
    [
        "temporal_grounding",
        "temporal_grounding=gld",
        "grounding=gold",
        "caption=random",
        "temporal_grounding=gold,temporal_grounding=random",
    ],
)
def test_a_bad_sft_answers_spec_is_refused_before_training(spec: str, tmp_path) -> None:
    from videorft.demo import DemoConfig, demo_config
    from videorft.training.config import VideoSFTConfig

    with pytest.raises(ValueError, match=f"sft_answers={spec!r}"):
        VideoSFTConfig(output_dir=str(tmp_path), sft_answers=spec, use_cpu=True, report_to="none")
    with pytest.raises(ValueError, match=f"sft_answers={spec!r}"):
        demo_config("grounding", sft_answers=spec)
    with pytest.raises(ValueError, match=f"sft_answers={spec!r}"):
        DemoConfig(sft_answers=spec)  # as the study makes its arms

"""Rule rewards on worked examples from methods.md (VideoChat-R1 §2, Video-R1 §3) and their edge cases."""

from __future__ import annotations

import pytest

from videorft.rewards import SolutionError, get_reward
from videorft.rewards.rules import box_iou, interval_iou, merge_intervals, multi_interval_iou

T = "<think>reasoning with timestamps 1.0 to 2.0</think>"


def r(name: str, completion: str, solution: object = None, **meta: object) -> float:
    return get_reward(name)(completion, solution, **meta)


# -------------------------------------------------------------------------------------------- format


def test_format_gives_one_when_matched_not_zero() -> None:
    # The review's "0 if matched" is a typo: a matching completion gets 1.
    assert r("format", f"{T}\n<answer>12.54 to 17.83</answer>") == 1.0
    assert r("format", "<answer>12.54 to 17.83</answer>") == 0.0
    assert r("format", "12.54 to 17.83") == 0.0


def test_format_nothink_variant() -> None:
    assert r("format_nothink", "<answer>C</answer>") == 1.0
    assert r("format_nothink", f"{T}<answer>C</answer>") == 0.0


def test_format_glue_requires_valid_intervals() -> None:
    ok = f"{T}<answer>C</answer>\n<glue>[(3.1, 7.4), (9, 12)]</glue>"
    assert r("format_glue", ok) == 1.0
    assert r("format_glue", f"{T}<answer>C</answer><glue>[(7.4, 3.1)]</glue>") == 0.0  # s > e
    assert r("format_glue", f"{T}<answer>C</answer><glue>[]</glue>") == 0.0
    assert r("format_glue", f"{T}<answer>C</answer><glue>3 to 7</glue>") == 0.0
    assert r("format_glue", f"{T}<answer>C</answer>") == 0.0
    assert r("format_glue", f"<glue>[(1, 2)]</glue>{T}<answer>C</answer>") == 0.0
    assert r("format_glue_nothink", "<answer>C</answer><glue>[(1, 2)]</glue>") == 1.0
    # The plain format rejects a glue block (stray tag).
    assert r("format", ok) == 0.0


# --------------------------------------------------------------------------------------- temporal IoU


def test_temporal_iou_worked_example() -> None:
    # Pred [12.54, 17.83] vs truth [14, 20]: intersection 3.83, union 7.46.
    assert r("temporal_iou", f"{T}<answer>12.54 to 17.83</answer>", [14, 20]) == pytest.approx(3.83 / 7.46)


def test_temporal_iou_reads_last_answer_and_last_pair_not_think() -> None:
    completion = (
        "<think>maybe 0 to 30</think><answer>0 to 1</answer><answer>first 2 to 3, finally 10 and 20</answer>"
    )
    assert r("temporal_iou", completion, [10, 20]) == 1.0


def test_temporal_iou_accepts_bracket_pairs_and_units() -> None:
    assert r("temporal_iou", f"{T}<answer>[10, 20]</answer>", [10, 20]) == 1.0
    assert r("temporal_iou", f"{T}<answer>10.0s to 20.0s</answer>", [10, 20]) == 1.0


@pytest.mark.parametrize("answer", ["20 to 10", "somewhere in the middle", "", "10"])
def test_temporal_iou_swapped_or_unparseable_is_zero(answer: str) -> None:
    assert r("temporal_iou", f"{T}<answer>{answer}</answer>", [10, 20]) == 0.0


def test_temporal_iou_no_answer_block_is_zero_even_if_think_has_times() -> None:
    assert r("temporal_iou", "<think>10 to 20</think>", [10, 20]) == 0.0


def test_temporal_iou_zero_union_does_not_divide_by_zero() -> None:
    assert r("temporal_iou", f"{T}<answer>5 to 5</answer>", [5, 5]) == 1.0
    assert r("temporal_iou", f"{T}<answer>6 to 6</answer>", [5, 5]) == 0.0


def test_temporal_iou_clips_to_duration() -> None:
    completion = f"{T}<answer>20 to 40</answer>"
    # Unclipped: [20, 40] vs [25, 30] → 5 / 20; clipped at 30: [20, 30] → 5 / 10.
    assert r("temporal_iou", completion, [25, 30]) == pytest.approx(0.25)
    assert r("temporal_iou", completion, [25, 30], duration=30) == pytest.approx(0.5)
    assert r("temporal_iou", completion, [25, 30], duration=30, clip_to_duration=False) == pytest.approx(0.25)
    with pytest.raises(SolutionError, match="duration"):
        r("temporal_iou", completion, [25, 30], duration="long")


def test_temporal_iou_ground_truth_after_video_end_is_a_solution_error() -> None:
    # Clipped, [35, 40] in a 30 s video became the point (30, 30) and "31 to 50" scored 1.0.
    with pytest.raises(SolutionError, match=r"field 'solution'.*video's end"):
        r("temporal_iou", f"{T}<answer>31 to 50</answer>", [35, 40], duration=30)
    with pytest.raises(SolutionError, match="video's end"):
        r("temporal_iou", f"{T}<answer>31 to 50</answer>", [30, 40], duration=30)
    # An end past the duration is fine (real Charades-STA annotations have them).
    assert r("temporal_iou", f"{T}<answer>20 to 30</answer>", [20, 35], duration=30) == 1.0


def test_temporal_iou_prediction_outside_the_video_scores_zero() -> None:
    assert r("temporal_iou", f"{T}<answer>30 to 45</answer>", [29, 30], duration=30) == 0.0
    assert r("temporal_iou", f"{T}<answer>31 to 45</answer>", [30, 30], duration=31) == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("[[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6]]", 1.0),
        ("[0.1, 0.1, 0.5, 0.5]", 1.0),  # one box
        ("[]", 0.0),  # no box: the format reward must not be free
        ("[[0.1, 0.1, 0.5]]", 0.0),
        ("[[0.1, 0.1, 0.5, 0.5], [0.2, 0.2]]", 0.0),
        ("the box moves right", 0.0),
    ],
)
def test_format_tracking_checks_the_box_list(answer: str, expected: float) -> None:
    assert r("format_tracking", f"<think>t</think><answer>{answer}</answer>") == expected
    assert r("format_tracking_nothink", f"<answer>{answer}</answer>") == expected
    assert r("format", f"<think>t</think><answer>{answer}</answer>") == 1.0  # the generic one does not


def test_tracking_task_uses_the_box_format() -> None:
    from videorft.rewards import score

    gt = [[0.1, 0.1, 0.5, 0.5]]
    assert score("tracking", "<think>t</think><answer>[]</answer>", gt)["format"] == 0.0
    assert score("tracking", "<answer>[]</answer>", gt, think=False)["format"] == 0.0
    assert score("tracking", "<think>t</think><answer>[[0.1, 0.1, 0.5, 0.5]]</answer>", gt)["total"] == 2.0


@pytest.mark.parametrize("bad", [[20, 10], [1], "soon", [-1, 3], [0, float("nan")], None])
def test_temporal_iou_bad_solution_raises_solution_error(bad: object) -> None:
    with pytest.raises(SolutionError, match="solution"):
        r("temporal_iou", "<answer>1 to 2</answer>", bad)


def test_temporal_iou_solution_forms() -> None:
    c = f"{T}<answer>10 to 20</answer>"
    assert r("temporal_iou", c, (10, 20)) == r("temporal_iou", c, "<answer>10 to 20</answer>") == 1.0


def test_interval_iou_helper() -> None:
    assert interval_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert interval_iou((0, 1), (2, 3)) == 0.0


# --------------------------------------------------------------------------------------- tracking IoU


def _boxes(n: int, shift: float = 0.0) -> list[list[float]]:
    return [[0.1 + shift, 0.1, 0.5 + shift, 0.5] for _ in range(n)]


def test_tracking_iou_eight_boxes_worked_example() -> None:
    gt = _boxes(8)
    perfect = f"{T}<answer>{_boxes(8)}</answer>"
    assert r("tracking_iou", perfect, gt) == pytest.approx(1.0)
    # Each predicted box shifted right by 0.2: overlap 0.2 x 0.4 = 0.08, union 0.16 + 0.16 - 0.08.
    shifted = f"{T}<answer>{_boxes(8, 0.2)}</answer>"
    assert r("tracking_iou", shifted, gt) == pytest.approx(0.08 / 0.24)


def test_tracking_iou_count_from_ground_truth_and_missing_boxes_zero() -> None:
    gt = _boxes(7)  # VideoChat-R1 shows 7 frames: the count comes from the truth, not a constant 8
    four = f"{T}<answer>{_boxes(4)}</answer>"
    assert r("tracking_iou", four, gt) == pytest.approx(4 / 7)
    nine = f"{T}<answer>{_boxes(9)}</answer>"  # extra boxes are ignored
    assert r("tracking_iou", nine, gt) == pytest.approx(1.0)


def test_tracking_iou_accepts_tuples_and_trailing_commas_rejects_text() -> None:
    gt = _boxes(2)
    assert r("tracking_iou", f"{T}<answer>[(0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.5),]</answer>", gt) == 1.0
    assert r("tracking_iou", f"{T}<answer>The boxes are [[0.1, 0.1, 0.5, 0.5]]</answer>", gt) == 0.0
    assert r("tracking_iou", f"{T}<answer>[[0.1, 0.1, 0.5]]</answer>", gt) == 0.0
    assert r("tracking_iou", f"{T}<answer>[[0.5, 0.5, 0.1, 0.1], [0.1, 0.1, 0.5, 0.5]]</answer>", gt) == 0.5


def test_box_iou_clips_to_unit_square() -> None:
    assert box_iou((-1, -1, 1, 1), (0, 0, 1, 1)) == 1.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


# ------------------------------------------------------------------------------------------ accuracies


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("C", "C", 1.0),
        ("The answer is (C).", "(C)", 1.0),
        ("C. the man opens the door", "<answer>C</answer>", 1.0),
        ("(B)", "C", 0.0),
        ("A dog", "A", 0.0),
        ("", "A", 0.0),
    ],
)
def test_mc_accuracy(answer: str, truth: str, expected: float) -> None:
    assert r("mc_accuracy", f"{T}<answer>{answer}</answer>", truth) == expected


def test_mc_accuracy_hedging_and_repeated_answers_do_not_farm() -> None:
    two = f"{T}<answer>A</answer><answer>B</answer>"
    # One block counts: the first by default (Video-R1's extract_answer), the last on request.
    assert (r("mc_accuracy", two, "A"), r("mc_accuracy", two, "B")) == (1.0, 0.0)
    assert (
        r("mc_accuracy", two, "A", answer_block="last"),
        r("mc_accuracy", two, "B", answer_block="last"),
    ) == (
        0.0,
        1.0,
    )
    assert r("mc_accuracy", f"{T}<answer>A or B</answer>", "B") == 0.0


@pytest.mark.parametrize(
    ("name", "first", "last", "truth"),
    [
        ("mc_accuracy", "A", "B", "A"),
        ("numerical_accuracy", "3", "4", "3"),
        ("regression_accuracy", "10", "5", "10"),
        ("ocr_accuracy", "red car", "blue car", "red car"),
        ("free_form_accuracy", "a red car", "the blue sky", "a red car"),
    ],
)
def test_video_r1_rewards_read_the_first_answer_block_by_default(
    name: str, first: str, last: str, truth: str
) -> None:
    completion = f"{T}<answer>{first}</answer> <answer>{last}</answer>"
    assert r(name, completion, truth) == 1.0
    assert r(name, completion, truth, answer_block="last") < 1.0
    with pytest.raises(ValueError, match="answer_block"):
        r(name, completion, truth, answer_block="middle")


def test_temporal_iou_reads_the_last_answer_block_by_default() -> None:
    completion = f"{T}<answer>0 to 5</answer><answer>10 to 20</answer>"
    assert r("temporal_iou", completion, [10, 20]) == 1.0  # VideoChat-R1's findall(...)[-1]
    assert r("temporal_iou", completion, [10, 20], answer_block="first") == 0.0


def test_quality_exact_match_after_strip_lower() -> None:
    assert r("quality_accuracy", f"{T}<answer>  High Quality </answer>", "high quality") == 1.0
    assert r("quality_accuracy", f"{T}<answer>high quality.</answer>", "high quality") == 0.0
    assert r("quality_accuracy", f"{T}<answer>low quality</answer>", "<answer>High quality</answer>") == 0.0


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("3", "3", 1.0),
        ("3.0", "3", 1.0),  # Video-R1 gives 0 (only one side has "."): we compare numbers
        ("1,000", 1000, 1.0),
        ("2.004", "2.001", 1.0),  # equal after rounding to 2 decimals
        ("2.01", "2.00", 0.0),
        ("3 apples", "3", 0.0),
        ("nan", "3", 0.0),
    ],
)
def test_numerical_accuracy(answer: str, truth: object, expected: float) -> None:
    assert r("numerical_accuracy", f"{T}<answer>{answer}</answer>", truth) == expected


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("9", 10, 0.9),
        ("11", 10, 0.9),
        ("30", 10, 0.0),  # clipped at 0
        ("-10", 10, 0.0),
        ("0", 0, 1.0),  # Video-R1's +1e-9 guard gives 0 here
        ("0.5", 0, 0.0),
        ("x", 10, 0.0),
    ],
)
def test_regression_accuracy(answer: str, truth: float, expected: float) -> None:
    assert r("regression_accuracy", f"{T}<answer>{answer}</answer>", truth) == pytest.approx(expected)


def test_ocr_accuracy_is_one_minus_wer_case_sensitive() -> None:
    # "HELLO world" vs "HELLO World": one substitution out of two reference words.
    assert r("ocr_accuracy", f"{T}<answer>HELLO world</answer>", "HELLO World") == pytest.approx(0.5)
    assert r("ocr_accuracy", f"{T}<answer>STOP</answer>", "STOP") == 1.0
    # Three insertions against one reference word: WER 3 → clipped to 0.
    assert r("ocr_accuracy", f"{T}<answer>STOP a b c</answer>", "STOP") == 0.0
    assert r("ocr_accuracy", f"{T}<answer></answer>", "STOP") == 0.0


def test_ocr_splits_words_on_any_whitespace() -> None:
    # Video-R1's WER splits with str.split(): newlines and tabs separate words too.
    assert r("ocr_accuracy", "<answer>red\nblue</answer>", "red blue") == 1.0
    assert r("ocr_accuracy", "<answer>red\tblue  green</answer>", "red blue\ngreen") == 1.0
    assert r("ocr_accuracy", "<answer>red\nblue</answer>", "red green") == pytest.approx(0.5)


def test_free_form_accuracy_mean_rouge() -> None:
    # ref "the cat sat", pred "the cat": R1 F=0.8, R2 F=2/3, RL F=0.8.
    assert r("free_form_accuracy", f"{T}<answer>the cat</answer>", "the cat sat") == pytest.approx(
        (0.8 + 2 / 3 + 0.8) / 3
    )
    # Stemming: "cats" matches "cat".
    assert r("free_form_accuracy", f"{T}<answer>the cats sat</answer>", "the cat sat") == pytest.approx(1.0)
    # One word has no bigram: ROUGE-2 is 0, so the mean is 2/3 even for an exact match.
    assert r("free_form_accuracy", f"{T}<answer>cat</answer>", "cat") == pytest.approx(2 / 3)
    assert r("free_form_accuracy", f"{T}<answer>dog</answer>", "cat") == 0.0


def test_long_answers_score_zero_on_text_metrics() -> None:
    spam = " ".join(["the cat sat"] * 3000)
    assert r("free_form_accuracy", f"{T}<answer>{spam}</answer>", "the cat sat") == 0.0
    assert r("ocr_accuracy", f"{T}<answer>{spam}</answer>", "the cat sat") == 0.0


# ------------------------------------------------------------------------------------------ grounding QA


def test_multi_interval_iou_worked_example() -> None:
    # VideoChat-R1's own example: a merges to [0,4],[22,25] (7 s), b to [1,5] (4 s); overlap [1,4].
    a = [(0, 3), (2, 4), (22, 25)]
    b = [(1, 5), (2, 2), (2, 4)]
    assert merge_intervals(a) == [(0, 4), (22, 25)]
    assert multi_interval_iou(a, b) == pytest.approx(3 / 8)
    assert multi_interval_iou([(5, 5)], [(3, 3)]) == 0.0  # VideoChat-R1 returns 1.0 for any empty union


def test_gqa_rewards() -> None:
    sol = {"answer": "(C)", "intervals": [[2, 8]]}
    good = f"{T}<answer>C</answer><glue>[(1, 5), (4, 8)]</glue>"
    assert r("gqa_iou", good, sol) == pytest.approx(6 / 7)
    assert r("gqa_accuracy", good, sol) == 1.0
    assert r("gqa_iou", f"{T}<answer>C</answer><glue>[(5, 1)]</glue>", sol) == 0.0
    assert r("gqa_iou", f"{T}<answer>C</answer>", sol) == 0.0
    assert r("gqa_accuracy", good, {"answer": "D", "glue": [[2, 8]]}) == 0.0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"intervals": [[1, 2]]}, "solution.answer"),
        ({"answer": "C"}, "solution.intervals"),
        ({"answer": "C", "intervals": [[3, 1]]}, "solution.intervals"),
        ({"answer": "maybe", "intervals": [[1, 2]]}, "solution.answer"),
        ("C", "solution"),
    ],
)
def test_gqa_bad_solution_names_field(bad: object, field: str) -> None:
    with pytest.raises(SolutionError) as info:
        r("gqa_iou", "<answer>C</answer>", bad)
    assert info.value.field == field


def test_get_reward_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="temporal_iou"):
        get_reward("iou")


def test_non_string_completion_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="completion must be a str"):
        r("format", None)

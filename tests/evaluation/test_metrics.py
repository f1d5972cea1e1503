"""Metrics on hand-computed worked examples and edge cases."""

from __future__ import annotations

import json

import pytest

from videorft.data.errors import DataError
from videorft.evaluation.geometry import mean_relative_accuracy, nextgqa_best_overlap, nextgqa_iou_iop
from videorft.evaluation.metrics import (
    MetricOptions,
    compute_metrics,
    format_table,
    get_task_metric,
    metrics_of_file,
)


def _rows(task, pairs, meta=None):
    return [{"task": task, "completion": c, "solution": s, "meta": dict(meta or {})} for c, s in pairs]


def test_temporal_grounding_worked_example():
    rows = _rows(
        "temporal_grounding",
        [
            ("<think>x</think><answer>2 to 6</answer>", [4, 8]),  # IoU 2/6
            ("<answer>10.0 to 20.0</answer>", [10, 20]),  # IoU 1
            ("<answer>I don't know</answer>", [0, 5]),  # unparsed -> 0
            ("<answer>5 to 9</answer>", [0, 10]),  # IoU 4/10
        ],
    )
    m = compute_metrics(rows)["temporal_grounding"]
    assert m["mIoU"] == pytest.approx((1 / 3 + 1 + 0 + 0.4) / 4)
    assert m["R@0.3"] == pytest.approx(0.75)
    assert m["R@0.5"] == pytest.approx(0.25)
    assert m["R@0.7"] == pytest.approx(0.25)
    assert (m["n"], m["n_unparsed"]) == (4, 1)


def test_temporal_grounding_zero_length_and_reversed():
    rows = _rows(
        "temporal_grounding",
        [
            ("<answer>3 to 3</answer>", [3, 3]),  # identical points
            ("<answer>3 to 3</answer>", [2, 4]),  # a point inside: no length, IoU 0
            ("<answer>6 to 2</answer>", [2, 6]),  # reversed: unparsed, 0
        ],
    )
    m = compute_metrics(rows)["temporal_grounding"]
    assert m["mIoU"] == pytest.approx(1 / 3)
    assert m["n_unparsed"] == 1


def test_tracking_is_frame_level_and_skips_the_given_first_frame():
    meta = {"first_box": [0, 0, 0.5, 0.5]}
    gt3 = [[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]]
    pred3 = "<answer>[[0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [0.5, 0.5, 1.2, 1.2]]</answer>"
    rows = _rows("tracking", [(pred3, gt3), ("<answer>lost it</answer>", gt3[:2])], meta)
    m = compute_metrics(rows)["tracking"]
    # scored frames: 1/7 (quarter overlap), 1.0 (box past the frame edge is clipped), 0 (unparsed)
    assert m["AO"] == pytest.approx((1 / 7 + 1 + 0) / 3)  # frame-level, not per sequence (0.2857)
    assert m["SR@0.5"] == pytest.approx(1 / 3)
    assert m["SR@0.75"] == pytest.approx(1 / 3)
    assert (m["n"], m["n_unparsed"]) == (2, 1)


def test_tracking_success_threshold_is_strict_and_missing_boxes_count_zero():
    gt = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    # IoU exactly 0.5, then a box entirely outside the frame, then no third box
    rows = _rows("tracking", [("<answer>[[0, 0, 1, 0.5], [1.2, 1.2, 1.5, 1.5]]</answer>", gt)])
    m = compute_metrics(rows)["tracking"]
    assert m["AO"] == pytest.approx(0.5 / 3)
    assert m["SR@0.5"] == 0.0
    assert m["n_unparsed"] == 0


def test_tracking_boxes_overflowing_left_or_top_follow_the_got10k_toolkit():
    # The toolkit clips left/top to the frame, then the width to what is left: [-0.2, 0.3] becomes
    # [0, 0.5] (shifted, width kept). Clipping both corners gives [0, 0.3] instead.
    gt = [[0, 0, 0.5, 0.5], [0.1, 0.1, 0.6, 0.6]]
    rows = _rows("tracking", [("<answer>[[-0.2, 0, 0.3, 0.5], [0.1, -0.1, 0.6, 0.4]]</answer>", gt)])
    m = compute_metrics(rows)["tracking"]
    # second box becomes [0.1, 0, 0.6, 0.5]: intersection 0.2, union 0.3
    assert m["AO"] == pytest.approx((1.0 + 0.2 / 0.3) / 2)
    m = compute_metrics(rows, options=MetricOptions(tracking_bound="clip"))["tracking"]
    assert m["AO"] == pytest.approx((0.15 / 0.25 + 0.15 / 0.3) / 2)


def test_got10k_loader_bounds_boxes_as_the_toolkit(tmp_path):
    from videorft.data.loaders.got10k import _normalise

    # x = -20 px, w = 100 px in a 200 px frame: the toolkit scores [0, 100] px, not [0, 80] px
    assert _normalise([-20, 10, 100, 50], 200, 100) == [0.0, 0.1, 0.5, 0.6]
    assert _normalise([150, -30, 100, 50], 200, 100) == [0.75, 0.0, 1.0, 0.5]


def test_grounding_qa_negative_start_and_reversed_spans_as_eval_ground():
    sol = {"answer": "B", "intervals": [[0, 10]]}
    rows = _rows(
        "grounding_qa",
        [
            # eval_ground measures a negative start as written: IoU 5/12, IoP 5/7
            ("<answer>B</answer><glue>[(-2, 5)]</glue>", sol),
            # a reversed span scores 0 on its own; beside a valid one it does not void the glue
            ("<answer>B</answer><glue>[(2, 4), (9, 1)]</glue>", sol),
            ("<answer>B</answer><glue>[(9, 1)]</glue>", sol),
        ],
    )
    m = compute_metrics(rows)["grounding_qa"]
    assert m["mIoU"] == pytest.approx((5 / 12 + 0.2 + 0) / 3)
    assert m["mIoP"] == pytest.approx((5 / 7 + 1 + 0) / 3)
    assert m["n_unparsed"] == 0


def test_grounding_qa_worked_example():
    sol = {"answer": "B", "intervals": [[2, 6], [10, 12]]}
    rows = _rows(
        "grounding_qa",
        [
            ("<think>t</think><answer>B</answer><glue>[(3, 5)]</glue>", sol),  # IoU .5, IoP 1
            ("<answer>C</answer><glue>[(0, 4), (10, 20)]</glue>", sol),  # hull [0,20]: .2, .2
            ("<answer>B</answer>", sol),  # no glue: 0, 0, unparsed
            ("<answer>B</answer><glue>[(11, 11)]</glue>", sol),  # zero-length inside: IoU 0, IoP 1
        ],
    )
    m = compute_metrics(rows)["grounding_qa"]
    expected = {
        "Acc": 0.75,
        "mIoU": 0.175,
        "mIoP": 0.55,
        "IoU@0.3": 0.25,
        "IoU@0.5": 0.25,
        "IoP@0.3": 0.5,
        "IoP@0.5": 0.5,
        "Acc@GQA": 0.5,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value), key
    assert (m["n"], m["n_unparsed"]) == (4, 1)


def test_nextgqa_overlap_matches_reference_semantics():
    assert nextgqa_iou_iop([2, 4], [3, 8]) == pytest.approx((1 / 6, 0.5))
    assert nextgqa_iou_iop([0, 1], [5, 8]) == (0.0, 0.0)  # disjoint: clamped at 0
    assert nextgqa_iou_iop([9, 9], [3, 8]) == (0.0, 0.0)  # zero-length outside
    assert nextgqa_iou_iop([5, 3], [3, 8]) == (0.0, 0.0)  # reversed prediction
    # max IoU and max IoP are taken independently over ground-truth spans
    assert nextgqa_best_overlap([0, 4], [[0, 8], [3, 4]]) == pytest.approx((0.5, 1.0))


def test_accuracy_tasks():
    mc = _rows(
        "multiple_choice",
        [
            ("<answer>A</answer>", "A"),
            ("<answer>(B)</answer>", "B"),
            ("<answer>The answer is C</answer>", "D"),
            ("", "A"),
        ],
    )
    num = _rows(
        "numerical",
        [("<answer>3.50</answer>", "3.5"), ("<answer>three</answer>", 3), ("<answer>4</answer>", 5)],
    )
    qual = _rows(
        "quality", [("<answer>High Quality</answer>", "high quality"), ("<answer></answer>", "low quality")]
    )
    m = compute_metrics(mc + num + qual)
    assert m["multiple_choice"] == {"accuracy": 0.5, "n": 4, "n_unparsed": 1}
    assert m["numerical"] == {"accuracy": pytest.approx(1 / 3), "n": 3, "n_unparsed": 1}
    assert m["quality"] == {"accuracy": 0.5, "n": 2, "n_unparsed": 1}
    assert list(m) == ["multiple_choice", "numerical", "quality"]  # canonical task order


@pytest.mark.parametrize(
    ("pred", "gt", "official", "paper"),
    [
        # VSI-Bench's code counts err <= 1 - θ with float thresholds; the paper writes err < 1 - θ.
        (110, 100, 0.9, 0.8),  # err 0.1; 1 - 0.8999999999999999 = 0.10000000000000009 in float64
        (100, 100, 1.0, 1.0),
        (150, 100, 0.1, 0.0),  # err 0.5 = 1 - 0.5 exactly: counted by <= only
        (105, 100, 1.0, 0.9),  # err 0.05 = 1 - 0.95 (0.050000000000000044 in float64)
        (96, 100, 1.0, 1.0),
        (93, 100, 0.9, 0.9),
        (0, 0, 1.0, 1.0),
        (1, 0, 0.0, 0.0),
    ],
)
def test_mean_relative_accuracy(pred, gt, official, paper):
    assert mean_relative_accuracy(pred, gt) == official
    assert mean_relative_accuracy(pred, gt, rule="vsibench") == official
    assert mean_relative_accuracy(pred, gt, rule="paper") == paper


def test_mean_relative_accuracy_unknown_rule():
    with pytest.raises(ValueError, match="vsibench, paper, video_r1"):
        mean_relative_accuracy(1, 1, rule="strict")


def test_regression_metric():
    rows = _rows(
        "regression", [("<answer>110</answer>", 100), ("<answer>93</answer>", "100"), ("no answer", 4)]
    )
    m = compute_metrics(rows)["regression"]
    assert m["MRA"] == pytest.approx((0.9 + 0.9 + 0) / 3)
    assert m["n_unparsed"] == 1
    m = compute_metrics(rows, options=MetricOptions(mra="paper"))["regression"]
    assert m["MRA"] == pytest.approx((0.8 + 0.9 + 0) / 3)


def test_text_tasks_mean_reward():
    ocr = _rows(
        "ocr",
        [("<answer>hello world</answer>", "hello world"), ("<answer>hello there</answer>", "hello world")],
    )
    m = compute_metrics(ocr)["ocr"]
    assert m["reward"] == pytest.approx(0.75)  # 1 and 1 − WER(1/2)
    ff = _rows("free_form", [("<answer>a red ball</answer>", "a red ball"), ("nothing", "a red ball")])
    m = compute_metrics(ff)["free_form"]
    assert m["reward"] == pytest.approx(0.5)
    assert m["n_unparsed"] == 1


class _CountingJudge:
    """Says an event is entailed when its first word appears in the prediction."""

    def entails(self, events, prediction):
        return [e.split()[0].lower() in prediction.lower() for e in events]


def test_caption_uses_the_given_judge():
    sol = {"events": ["dog runs", "cat sleeps", "bird sings"]}
    rows = _rows("caption", [("<answer>A dog and a cat.</answer>", sol), ("<think>hm</think>", sol)])
    m = compute_metrics(rows, judge=_CountingJudge())["caption"]
    assert m["reward"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["n_unparsed"] == 1


def test_empty_predictions(tmp_path):
    assert compute_metrics([]) == {}
    path = tmp_path / "p.jsonl"
    path.write_text("\n")
    assert metrics_of_file(path) == ({}, [])
    assert format_table({}) == "no predictions"


def test_bad_solution_names_file_line_and_field(tmp_path):
    path = tmp_path / "p.jsonl"
    good = {
        "id": "a",
        "task": "temporal_grounding",
        "completion": "<answer>1 to 2</answer>",
        "solution": [1, 2],
    }
    bad = {"id": "b", "task": "temporal_grounding", "completion": "x", "solution": [5, 1]}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError) as info:
        metrics_of_file(path)
    assert info.value.index == 3 and info.value.unit == "line" and info.value.field == "solution"
    assert str(path) in str(info.value)
    metrics, skipped = metrics_of_file(path, skip_invalid=True)
    assert metrics["temporal_grounding"]["n"] == 1
    assert len(skipped) == 1 and skipped[0].index == 3


def test_unknown_task_and_missing_fields_are_reported(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"task": "juggling", "completion": "", "solution": 1}\n{"task": "ocr", "solution": "x"}\nnot json\n'
    )
    with pytest.raises(DataError, match="line 1: field 'task'"):
        metrics_of_file(path)
    metrics, skipped = metrics_of_file(path, skip_invalid=True)
    assert metrics == {}
    assert [(s.index, s.field) for s in skipped] == [(1, "task"), (2, "completion"), (3, None)]


def test_registry_error_lists_valid_names():
    with pytest.raises(KeyError, match="valid tasks: caption"):
        get_task_metric("juggling")


def test_format_table_is_readable():
    rows = _rows("multiple_choice", [("<answer>A</answer>", "A"), ("<answer>B</answer>", "A")])
    text = format_table(compute_metrics(rows))
    assert "multiple_choice" in text and "accuracy 0.500" in text and "n=2" in text
    assert text.splitlines()[0].startswith("metrics as fractions (0-1)")


def test_file_rows_use_top_level_meta_and_task_aliases_like_score(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        # the reference arithmetic does not clip: [5, 20] vs [5, 10] is 1/3; the reward's
        # clipping to the duration (grounding_iou="reward") makes it 1
        {
            "id": "a",
            "task": "temporal_grounding",
            "completion": "<answer>5 to 20</answer>",
            "solution": [5, 10],
            "duration": 10,
        },
        {
            "id": "b",
            "task": "multiple choice",
            "completion": "<answer>A</answer>",
            "solution": "<answer>A</answer>",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics, _ = metrics_of_file(path)
    assert metrics["temporal_grounding"]["mIoU"] == pytest.approx(1 / 3)
    assert metrics["multiple_choice"]["accuracy"] == 1.0
    metrics, _ = metrics_of_file(path, options=MetricOptions(grounding_iou="reward"))
    assert metrics["temporal_grounding"]["mIoU"] == pytest.approx(1.0)


def test_duplicate_prediction_ids_are_refused_or_skipped_loudly(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": "q1", "task": "multiple_choice", "completion": "<answer>A</answer>", "solution": "A"},
        {"id": "q2", "task": "multiple_choice", "completion": "<answer>B</answer>", "solution": "A"},
        {"id": "q1", "task": "multiple_choice", "completion": "<answer>A</answer>", "solution": "A"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(
        DataError, match=r"p.jsonl: line 3: field 'id': duplicate id 'q1' \(first on line 1\)"
    ):
        metrics_of_file(path)
    metrics, skipped = metrics_of_file(path, skip_invalid=True)
    assert metrics["multiple_choice"]["accuracy"] == 0.5 and metrics["multiple_choice"]["n"] == 2
    assert [(s.index, s.field) for s in skipped] == [(3, "id")]


def test_charades_r_at_m_uses_the_reference_arithmetic_at_ties():
    # pred [4.5, 7.2] vs gt [4.4, 9.8]: the reference's (min(e) - max(s)) / (max(e) - min(s)) is
    # exactly 0.5 and counts for R@0.5; intersection / (sum of lengths - intersection) gives
    # 0.49999999999999994 and does not.
    rows = _rows("temporal_grounding", [("<answer>4.5 to 7.2</answer>", [4.4, 9.8])])
    m = compute_metrics(rows)["temporal_grounding"]
    assert m["R@0.5"] == 1.0 and m["mIoU"] == 0.5
    m = compute_metrics(rows, options=MetricOptions(grounding_iou="reward"))["temporal_grounding"]
    assert m["R@0.5"] == 0.0


def test_grounding_reference_mode_keeps_out_of_video_ground_truth_an_error():
    rows = _rows("temporal_grounding", [("<answer>1 to 2</answer>", [12, 14])], {"duration": 10})
    with pytest.raises(DataError, match="video's end"):
        compute_metrics(rows)

"""The temporal-order task depends on frame order: read from the sampled 56x56 frames, the answer is
always right on ordered frames, changes when the frames are reversed, and is at chance when shuffled."""

from __future__ import annotations

import numpy as np
import pytest

from videorft.data.loaders import load_spec
from videorft.data.synth import SPLITS, synthesize
from videorft.data.synth.oracle import answer_temporal_order, option_colour, read_frames


@pytest.fixture(scope="module")
def order_clips(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, np.ndarray]]:
    out = tmp_path_factory.mktemp("order") / "suite"
    synthesize(out, 40, seed=11, tasks=["multiple_choice"], workers=1)
    records = [r for s in SPLITS for r in load_spec(str(out), split=s).records]
    return [(r, read_frames(r.video, nframes=8, max_pixels=56 * 56)) for r in records]


def test_oracle_reads_the_answer_from_ordered_frames(order_clips) -> None:
    assert len(order_clips) == 40
    assert order_clips[0][1].shape == (8, 56, 56, 3)  # what the demo's model sees
    for record, frames in order_clips:
        assert answer_temporal_order(frames, record.problem, record.options) == record.solution, record.id


def test_answer_changes_when_frames_are_reversed(order_clips) -> None:
    for record, frames in order_clips:
        forward = answer_temporal_order(frames, record.problem, record.options)
        backward = answer_temporal_order(frames[::-1], record.problem, record.options)
        assert backward != forward, record.id
        # reversed, "first" picks the shape shown last in the real order (and vice versa)
        word, flipped = ("first", "last") if "first" in record.problem else ("last", "first")
        opposite = record.problem.replace(word, flipped)
        assert backward == answer_temporal_order(frames, opposite, record.options), record.id


def test_shuffled_frames_leave_the_answer_at_chance(order_clips) -> None:
    rng = np.random.default_rng(0)
    hits, chance, trials = 0, 0.0, 0
    for record, frames in order_clips:
        for _ in range(10):
            shuffled = frames[rng.permutation(len(frames))]
            hits += answer_temporal_order(shuffled, record.problem, record.options) == record.solution
            chance += 1 / len(record.options)
            trials += 1
    # 400 trials: the binomial standard error is ~0.024
    assert abs(hits / trials - chance / trials) < 0.08, (hits / trials, chance / trials)


def test_every_option_names_a_shape_of_the_video(order_clips) -> None:
    for record, frames in order_clips:
        colours = [option_colour(o) for o in record.options]
        assert len(set(colours)) == len(colours)
        assert answer_temporal_order(frames, record.problem, record.options[:1]) == "A"  # each one is seen


def test_non_order_questions_are_refused(order_clips) -> None:
    record, frames = order_clips[0]
    with pytest.raises(ValueError, match="not a temporal-order question"):
        answer_temporal_order(frames, "How many shapes?", record.options)


def test_demo_suite_leaves_only_the_order_to_tell_the_answer(tmp_path) -> None:
    """The demo's variant: two colours, "first" only, options in palette order. Every question reads the
    same text, both answers occur, and the oracle still needs the frames in order to answer."""
    from videorft.demo import DEMO_SUITE

    out = tmp_path / "suite"
    synthesize(out, 30, seed=5, tasks=["multiple_choice"], workers=1, **DEMO_SUITE)
    records = [r for s in SPLITS for r in load_spec(str(out), split=s).records]
    assert {tuple(r.options) for r in records} == {("A. red", "B. blue")}
    questions = {"Which colour appears first?", "Which of these colours is shown first in the video?"}
    assert {r.problem for r in records} <= questions
    assert {r.solution for r in records} == {"A", "B"}
    for r in records:
        frames = read_frames(r.video, nframes=8, max_pixels=56 * 56)
        assert answer_temporal_order(frames, r.problem, r.options) == r.solution, r.id
        assert answer_temporal_order(frames[::-1], r.problem, r.options) != r.solution, r.id

"""The inputs layer: frame permutation and frame orders, the clip cache, samples in a frame order."""

from __future__ import annotations

import numpy as np
import pytest

from videorft.inputs import permute_frames


def _frames(t: int) -> np.ndarray:
    return np.arange(t, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), dtype=np.uint8)


def test_temporal_patch_permutation_keeps_pairs_intact() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = permute_frames(_frames(8), rng, unit=2)
        ids = out[:, 0, 0, 0].tolist()
        assert sorted(ids) == list(range(8))
        assert ids != list(range(8))  # never the identity
        pairs = [tuple(ids[i : i + 2]) for i in range(0, 8, 2)]
        assert all(b == a + 1 and a % 2 == 0 for a, b in pairs)


def test_frame_permutation_moves_single_frames() -> None:
    rng = np.random.default_rng(1)
    seen_split_pair = False
    for _ in range(20):
        ids = permute_frames(_frames(8), rng, unit=1)[:, 0, 0, 0].tolist()
        assert sorted(ids) == list(range(8)) and ids != list(range(8))
        seen_split_pair |= any(ids[i] % 2 == 0 and ids[i + 1] != ids[i] + 1 for i in range(0, 8, 2))
    assert seen_split_pair


def test_clip_cache_keeps_apart_windows_of_one_video(tmp_path) -> None:
    """Two records on the same file with different time windows must not share cached frames."""
    from videorft.data.record import Record
    from videorft.inputs import SampleEncoder
    from videorft.video import FrameBudget
    from videorft.video.synth import render_test_video

    path = render_test_video(tmp_path / "v.mp4", n_frames=40, height=56, width=56, fps=10)
    encoder = SampleEncoder(None, FrameBudget(nframes=4, min_pixels=56 * 56, max_pixels=56 * 56))

    def record(**meta) -> Record:
        return Record(
            id="x", task="temporal_grounding", problem="q", solution=[0, 1], video=str(path), meta=meta
        )

    whole = encoder.clip(record())
    early = encoder.clip(record(video_start=0.0, video_end=1.0))
    late = encoder.clip(record(video_start=2.0, video_end=3.9))
    assert early.timestamps[-1] <= 1.0 < late.timestamps[0]
    assert whole.timestamps != early.timestamps
    assert encoder.clip(record(video_start=0.0, video_end=1.0)) is early  # cached


def test_evaluation_config_offers_the_inputs_layers_frame_orders_and_shuffle_units():
    """evaluation/config.py names them without importing torch (for --help); the tables live in videorft.inputs."""
    from videorft import inputs
    from videorft.evaluation import config

    assert config.FRAME_ORDERS == inputs.FRAME_ORDERS
    assert config.SHUFFLE_UNITS == tuple(inputs.SHUFFLE_UNITS)


def test_sample_puts_frames_in_the_order_asked_and_keeps_the_ordered_prompt(tmp_path) -> None:
    from videorft.data.prompts import PromptSpec
    from videorft.data.record import Record
    from videorft.inputs import SampleEncoder, record_rng
    from videorft.video import FrameBudget
    from videorft.video.synth import render_test_video

    path = render_test_video(tmp_path / "v.mp4", n_frames=40, height=56, width=56, fps=10)
    encoder = SampleEncoder(
        None, FrameBudget(nframes=8, min_pixels=56 * 56, max_pixels=56 * 56), PromptSpec(timing=True)
    )
    record = Record(id="x", task="temporal_grounding", problem="q", solution=[0, 1], video=str(path))
    ordered = encoder.sample(record)
    reversed_ = encoder.sample(record, "reversed", unit=1)
    shuffled = encoder.sample(record, "shuffled", record_rng(0, "x"), unit=2)
    frames = ordered.clip.frames
    assert np.array_equal(reversed_.clip.frames, frames[::-1])
    assert not np.array_equal(shuffled.clip.frames, frames)
    assert np.array_equal(np.sort(shuffled.clip.frames, axis=0), np.sort(frames, axis=0))
    # prompt text and timing are the ordered clip's, whatever order the frames are shown in
    assert "frame timestamps" in ordered.prompt
    assert ordered.prompt == reversed_.prompt == shuffled.prompt
    assert ordered.conversation == shuffled.conversation
    assert np.array_equal(encoder.sample(record, "middle").clip.frames, frames[[4, 4]])


def test_a_tracking_record_built_in_code_is_seen_on_one_frame_per_box(tmp_path) -> None:
    """Without ``meta['nframes']`` (a Record made in code, not by a loader), the frames the model sees and the
    box count the prompt asks for both come from the boxes, not the encoder's frame budget."""
    from videorft.data.prompts import PromptSpec
    from videorft.data.record import Record
    from videorft.inputs import SampleEncoder
    from videorft.video import FrameBudget
    from videorft.video.synth import render_test_video

    path = render_test_video(tmp_path / "v.mp4", n_frames=40, height=56, width=56, fps=10)
    encoder = SampleEncoder(
        None, FrameBudget(nframes=8, min_pixels=56 * 56, max_pixels=56 * 56), PromptSpec()
    )
    boxes = [[0.1, 0.1, 0.3, 0.3]] * 6
    sample = encoder.sample(Record(id="t", task="tracking", problem="car", solution=boxes, video=str(path)))
    assert len(sample.clip.frames) == 6 and "list of 6 boxes" in sample.prompt
    # a record's own meta['nframes'] still wins; other tasks keep the budget
    owned = Record(
        id="t2", task="tracking", problem="car", solution=boxes[:4], video=str(path), meta={"nframes": 4}
    )
    assert len(encoder.clip(owned).frames) == 4
    grounding = Record(id="g", task="temporal_grounding", problem="q", solution=[0, 1], video=str(path))
    assert len(encoder.clip(grounding).frames) == 8 and grounding.nframes is None
    # an odd box count cannot line up with frames sampled in pairs: refused when the record is made
    with pytest.raises(ValueError, match=r"field 'solution': record 't3': 5 boxes: .*even number"):
        Record(id="t3", task="tracking", problem="car", solution=boxes[:5], video=str(path))

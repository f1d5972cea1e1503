"""Frame permutation for T-GRPO and the M-RoPE modality ids."""

from __future__ import annotations

import numpy as np

from videorft.training.media import permute_frames


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
    from videorft.training.media import SampleEncoder
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

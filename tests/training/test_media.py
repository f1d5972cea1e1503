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

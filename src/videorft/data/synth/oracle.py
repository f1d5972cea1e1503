"""A frame-reading oracle: answers the suite's questions from the decoded frames a model sees (the tasks
are learnable); the temporal-order control's reference (reversed: other answer, shuffled: chance)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from videorft.data.synth.scene import PALETTE
from videorft.data.synth.tasks import LETTERS

_NAMES = list(PALETTE)
_RGB = np.asarray([PALETTE[c] for c in _NAMES], dtype=np.float32)  # (C, 3)
#: Backgrounds are unsaturated (max - min channel <= ~40); shapes are far above this.
MIN_SATURATION = 70.0
MAX_DISTANCE = 110.0
#: A colour counts as present when it covers this share of the frame (a shape covers >= ~3%).
MIN_SHARE = 0.01


def read_frames(path: str | Path, nframes: int = 8, max_pixels: int = 56 * 56) -> np.ndarray:
    """The (T, H, W, 3) uint8 frames a model would see (`videorft.video.load_video`)."""
    from videorft.video import FrameBudget, load_video

    budget = FrameBudget(nframes=nframes, min_pixels=min(28 * 28, max_pixels), max_pixels=max_pixels)
    return load_video(path, budget).frames


@functools.lru_cache(maxsize=1)
def _label_table() -> np.ndarray:
    """(32, 32, 32) lookup: quantised RGB (>> 3) -> palette index, or -1 for "no palette colour"."""
    q = (np.arange(32, dtype=np.float32) * 8 + 4)[:, None, None, None]
    rgb = np.concatenate(np.broadcast_arrays(q, q.transpose(1, 0, 2, 3), q.transpose(2, 1, 0, 3)), axis=3)
    dist = np.linalg.norm(rgb[..., None, :] - _RGB, axis=-1)  # (32, 32, 32, C)
    label = dist.argmin(axis=-1)
    ok = (rgb.max(axis=-1) - rgb.min(axis=-1) >= MIN_SATURATION) & (dist.min(axis=-1) <= MAX_DISTANCE)
    return np.where(ok, label, -1).astype(np.int8)


def colour_labels(frames: np.ndarray) -> np.ndarray:
    """Palette index of every pixel (-1: background or unsure). (..., 3) uint8 -> (...) int8."""
    q = frames >> 3
    return _label_table()[q[..., 0], q[..., 1], q[..., 2]]


def presence(frames: np.ndarray, min_share: float = MIN_SHARE) -> dict[str, list[bool]]:
    """Per colour, whether it is visible on each frame. ``frames``: (T, H, W, 3)."""
    labels = colour_labels(frames).reshape(len(frames), -1)
    shares = np.stack([(labels == i).mean(axis=1) for i in range(len(_NAMES))])  # (C, T)
    return {c: [bool(v) for v in shares[i] >= min_share] for i, c in enumerate(_NAMES)}


def visible_colours(frame: np.ndarray, min_share: float = MIN_SHARE) -> set[str]:
    """Palette colours covering at least ``min_share`` of ``frame`` ((H, W, 3) uint8)."""
    return {c for c, on in presence(frame[None], min_share).items() if on[0]}


def option_colour(option: str) -> str | None:
    """The palette colour named in an option such as ``"B. red square"``."""
    words = re.findall(r"[a-z]+", option.lower())
    return next((w for w in words if w in PALETTE), None)


def answer_temporal_order(frames: np.ndarray, problem: str, options: Sequence[str]) -> str | None:
    """Letter of the option seen first (or last, per ``problem``) on ``frames``; ties: the earlier
    option; None when no option's colour is seen."""
    q = problem.lower()
    sign = 1 if "first" in q else -1 if "last" in q else 0
    if not sign:
        raise ValueError(f"not a temporal-order question (no 'first'/'last'): {problem!r}")
    shown = presence(frames)
    colours = [option_colour(opt) for opt in options]
    seen = [
        (sign * shown[c].index(True), k) for k, c in enumerate(colours) if c is not None and any(shown[c])
    ]
    return LETTERS[min(seen)[1]] if seen else None


def count_appearances(frames: np.ndarray, colour: str) -> int:
    """Number of separate runs of frames on which ``colour`` is visible (the counting task)."""
    on = presence(frames)[colour]
    return sum(1 for i, v in enumerate(on) if v and (i == 0 or not on[i - 1]))


def colour_box(frame: np.ndarray, colour: str) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1), x1/y1 exclusive, of the pixels showing ``colour``; None if absent."""
    mask = colour_labels(frame) == _NAMES.index(colour)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

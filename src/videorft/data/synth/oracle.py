"""A frame-reading oracle: answers the suite's questions from decoded pixels alone.

It shows the tasks are learnable in principle from the frames a model sees (8 frames of 56x56 by
default), and it is the reference for the temporal-order control: ordered frames -> correct,
reversed frames -> a different answer, shuffled frames -> chance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from videorft.data.synth.scene import PALETTE

_NAMES = list(PALETTE)
_RGB = np.asarray([PALETTE[c] for c in _NAMES], dtype=np.float32)  # (C, 3)
#: Backgrounds are unsaturated (max - min channel <= ~40); shapes are far above this.
MIN_SATURATION = 70.0
MAX_DISTANCE = 110.0
#: A colour counts as present when it covers this share of the frame (a shape covers >= ~3%).
MIN_SHARE = 0.01


def read_frames(path: str | Path, nframes: int = 8, max_pixels: int = 56 * 56) -> np.ndarray:
    """The frames a model would see: ``nframes`` sampled evenly, resized under ``max_pixels``.

    (T, H, W, 3) uint8, through `videorft.video.load_video` (qwen-vl-utils sampling and resizing).
    """
    from videorft.video import FrameBudget, load_video

    budget = FrameBudget(nframes=nframes, min_pixels=min(28 * 28, max_pixels), max_pixels=max_pixels)
    return load_video(path, budget).frames


def colour_shares(frame: np.ndarray) -> dict[str, float]:
    """Share of the frame's pixels that show each palette colour. ``frame``: (H, W, 3) uint8."""
    px = frame.reshape(-1, 3).astype(np.float32)
    saturated = px.max(axis=1) - px.min(axis=1) >= MIN_SATURATION
    dist = np.linalg.norm(px[:, None, :] - _RGB[None], axis=2)  # (N, C)
    nearest = dist.argmin(axis=1)
    ok = saturated & (dist[np.arange(len(px)), nearest] <= MAX_DISTANCE)
    counts = np.bincount(nearest[ok], minlength=len(_NAMES))
    return {c: float(counts[i]) / len(px) for i, c in enumerate(_NAMES)}


def visible_colours(frame: np.ndarray, min_share: float = MIN_SHARE) -> set[str]:
    return {c for c, s in colour_shares(frame).items() if s >= min_share}


def presence(frames: np.ndarray, min_share: float = MIN_SHARE) -> dict[str, list[bool]]:
    """Per colour, whether it is visible on each frame. ``frames``: (T, H, W, 3)."""
    seen = [visible_colours(f, min_share) for f in frames]
    return {c: [c in s for s in seen] for c in _NAMES}


def option_colour(option: str) -> str | None:
    """The palette colour named in an option such as ``"B. red square"``."""
    words = re.findall(r"[a-z]+", option.lower())
    return next((w for w in words if w in PALETTE), None)


def answer_temporal_order(frames: np.ndarray, problem: str, options: Sequence[str]) -> str | None:
    """Letter of the option that appears first (or last, per ``problem``) on ``frames``, in frame order.

    Options whose colour is never seen are ignored; ties go to the earlier option; None if no
    option's colour is seen at all.
    """
    q = problem.lower()
    if "first" in q:
        sign = 1
    elif "last" in q:
        sign = -1
    else:
        raise ValueError(f"not a temporal-order question (no 'first'/'last'): {problem!r}")
    shown = presence(frames)
    best: tuple[int, str] | None = None
    for k, opt in enumerate(options):
        colour = option_colour(opt)
        if colour is None or not any(shown[colour]):
            continue
        first = shown[colour].index(True)
        key = sign * first
        if best is None or key < best[0]:
            best = (key, "ABCDEFG"[k])
    return None if best is None else best[1]


def count_appearances(frames: np.ndarray, colour: str) -> int:
    """Number of separate runs of frames on which ``colour`` is visible (the counting task)."""
    on = presence(frames)[colour]
    return sum(1 for i, v in enumerate(on) if v and (i == 0 or not on[i - 1]))


def colour_box(frame: np.ndarray, colour: str) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1), x1/y1 exclusive, of the pixels showing ``colour``; None if absent."""
    px = frame.astype(np.float32)
    sat = px.max(axis=2) - px.min(axis=2) >= MIN_SATURATION
    dist = np.linalg.norm(px[..., None, :] - _RGB, axis=3)
    mask = sat & (dist.argmin(axis=2) == _NAMES.index(colour)) & (dist.min(axis=2) <= MAX_DISTANCE)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

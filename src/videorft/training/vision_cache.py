"""Run Qwen2.5-VL's vision tower once per distinct video in a forward pass, and reuse the features.

A GRPO batch holds G identical prompts (one video); T-GRPO adds S copies whose frames are permuted in units of
one temporal patch (2 frames). The vision tower attends only within a temporal patch and its rotary positions are
spatial, so identical pixel rows give identical features, and a patch-permuted video has the same features
permuted in blocks of ``h * w / 4`` merged tokens. ``share_vision_features(model)`` patches the inner model's
``get_video_features`` / ``get_image_features`` within a ``with`` block. A cheap fingerprint per temporal patch
proposes a match and ``torch.equal`` confirms it, so a wrong reuse is impossible. A shared feature tensor used G
times accumulates its gradient G times, as the separate computations would.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

#: Inner model classes whose vision tower is local to one temporal patch of one video (checked by class name so
#: that this module does not import every model of transformers).
SUPPORTED_MODELS = ("Qwen2_5_VLModel", "Qwen2VLModel")
_METHODS = ("get_video_features", "get_image_features")
# Keyword arguments the shared path understands; anything else (precomputed cu_seqlens, ...) describes the whole
# batch, so such calls run unshared.
_PASSTHROUGH_KWARGS = {"return_dict"}


@dataclass
class SharingStats:
    """What the vision tower was spared: counts of videos (or images) seen and actually encoded."""

    inputs: int = 0  # videos/images passed to get_*_features
    computed: int = 0  # of them, run through the vision tower
    duplicates: int = 0  # reused as-is
    permuted: int = 0  # reused with temporal patches reordered
    unshared_calls: int = 0  # calls that fell back to the original method


@dataclass(frozen=True)
class SharingPlan:
    """For each input: the unique input whose features it reuses and the order of that input's temporal patches.

    ``features[i] = unique_features[source[i]]`` with its temporal blocks taken in ``order[i]`` (None = as is).
    """

    unique: tuple[int, ...]  # input indices that go through the vision tower
    source: tuple[int, ...]  # per input: position in ``unique``
    order: tuple[tuple[int, ...] | None, ...]


def _fingerprints(pixels: torch.Tensor, grid: list[tuple[int, int, int]]) -> list[list[float]]:
    """Per input, one float per temporal patch: a fixed random projection of its pixel rows, weighted by the
    row's position inside the patch (so that reordering rows within a patch changes it)."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    proj = torch.rand(pixels.size(1), generator=gen, dtype=torch.float64).to(pixels.device)
    row_scores = (pixels.to(torch.float64) @ proj).split([t * h * w for t, h, w in grid])  # (N,) per input
    out = []
    for scores, (t, h, w) in zip(row_scores, grid):
        weights = torch.linspace(1.0, 2.0, h * w, dtype=torch.float64, device=pixels.device)
        out.append((scores.view(t, h * w) @ weights).tolist())
    return out


def plan_sharing(pixels: torch.Tensor, grid_thw: torch.Tensor) -> SharingPlan:
    """Match every input (rows of ``pixels`` laid out as ``grid_thw`` says) to an earlier identical or
    temporally-permuted input; unmatched inputs are unique.

    Args:
        pixels: (sum_i t_i*h_i*w_i, C*tps*ps*ps) patch rows, input after input, temporal patch outermost.
        grid_thw: (n_inputs, 3) temporal patches, patch rows and patch columns of each input.
    """
    grid = [tuple(int(x) for x in g) for g in grid_thw.tolist()]
    rows = pixels.split([t * h * w for t, h, w in grid])
    fps = _fingerprints(pixels, grid)
    unique: list[int] = []
    source: list[int] = []
    order: list[tuple[int, ...] | None] = []
    for i, (t, h, w) in enumerate(grid):
        match = None
        for u_pos, u in enumerate(unique):
            perm = _match_blocks(fps[i], fps[u]) if grid[u] == grid[i] else None
            if perm is None:
                continue
            candidate = rows[u].view(t, h * w, -1)[list(perm)].reshape_as(rows[i])
            if torch.equal(candidate, rows[i]):  # exact confirmation: fingerprints only propose
                match = (u_pos, None if perm == tuple(range(t)) else perm)
                break
        if match is None:
            unique.append(i)
            match = (len(unique) - 1, None)
        source.append(match[0])
        order.append(match[1])
    return SharingPlan(tuple(unique), tuple(source), tuple(order))


def _match_blocks(fps: list[float], ref: list[float], rtol: float = 1e-9) -> tuple[int, ...] | None:
    """Block order ``p`` with ``fps[k] ~= ref[p[k]]`` (each ref block used once), or None.

    A tolerance, because identical rows at different offsets of one matmul may round differently; a wrong
    proposal is caught by the exact comparison that follows.
    """

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= rtol * max(1.0, abs(y))

    if all(close(x, y) for x, y in zip(fps, ref)):
        return tuple(range(len(ref)))
    mine = sorted(range(len(fps)), key=fps.__getitem__)
    theirs = sorted(range(len(ref)), key=ref.__getitem__)
    perm = [0] * len(fps)
    for i, j in zip(mine, theirs):
        if not close(fps[i], ref[j]):
            return None
        perm[i] = j
    return tuple(perm)


def shared_features(
    original: Any, pixels: torch.Tensor, grid_thw: Any, stats: SharingStats, **kwargs: Any
) -> Any:
    """Call ``original`` (a bound ``get_*_features``) on the unique inputs only and expand its per-input
    ``pooler_output`` back to every input. ``last_hidden_state`` covers the unique inputs only."""
    if set(kwargs) - _PASSTHROUGH_KWARGS or grid_thw is None:
        stats.unshared_calls += 1
        return original(pixels, grid_thw, **kwargs)
    plan = plan_sharing(pixels, grid_thw)
    stats.inputs += len(plan.source)
    stats.computed += len(plan.unique)
    if len(plan.unique) == len(plan.source):
        return original(pixels, grid_thw, **kwargs)
    rows = pixels.split(grid_thw.prod(-1).tolist())
    out = original(torch.cat([rows[u] for u in plan.unique]), grid_thw[list(plan.unique)], **kwargs)
    unique_feats = out.pooler_output if hasattr(out, "pooler_output") else out
    feats = []
    for i, (src, order) in enumerate(zip(plan.source, plan.order)):
        f = unique_feats[src]
        if plan.unique[src] != i:
            stats.duplicates += order is None
            stats.permuted += order is not None
        if order is not None:  # (t*h*w/4, H) in blocks of one temporal patch
            f = f.view(int(grid_thw[i, 0]), -1, f.size(-1))[list(order)].reshape(-1, f.size(-1))
        feats.append(f)
    if hasattr(out, "pooler_output"):
        out.pooler_output = tuple(feats)
        return out
    return tuple(feats)


def _patch(inner: torch.nn.Module, stats: SharingStats) -> None:
    """Shadow ``inner``'s feature methods with sharing versions that keep the original parameter names:
    ``generate`` inspects the signature to decide which inputs to encode before prefill."""
    video, image = inner.get_video_features, inner.get_image_features

    @functools.wraps(video)
    def get_video_features(pixel_values_videos, video_grid_thw=None, **kwargs):
        return shared_features(video, pixel_values_videos, video_grid_thw, stats, **kwargs)

    @functools.wraps(image)
    def get_image_features(pixel_values, image_grid_thw=None, **kwargs):
        return shared_features(image, pixel_values, image_grid_thw, stats, **kwargs)

    inner.get_video_features, inner.get_image_features = get_video_features, get_image_features


@contextlib.contextmanager
def share_vision_features(
    model: torch.nn.Module, stats: SharingStats | None = None, enabled: bool = True
) -> Iterator[SharingStats]:
    """Within the block, forwards of ``model`` encode each distinct video / image once (see module docstring).

    A model without a supported inner class, or ``enabled=False``, is left alone (``stats.inputs`` stays 0);
    nesting is a no-op.
    """
    stats = stats if stats is not None else SharingStats()
    inners = [m for m in model.modules() if type(m).__name__ in SUPPORTED_MODELS] if enabled else []
    patched = [inner for inner in inners if not any(name in inner.__dict__ for name in _METHODS)]
    try:
        for inner in patched:
            _patch(inner, stats)
        yield stats
    finally:
        for inner in patched:
            for name in _METHODS:
                inner.__dict__.pop(name, None)

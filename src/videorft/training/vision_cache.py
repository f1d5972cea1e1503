"""Run Qwen2.5-VL's vision tower once per distinct video in a forward pass, and reuse the features.

GRPO puts G identical prompts (one video) in a batch, and T-GRPO adds S copies whose frames are permuted in units
of one temporal patch (2 frames). Qwen2.5-VL's vision tower attends only within a temporal patch and its rotary
positions are spatial, so

* identical pixel rows give identical features (computed once, used G times), and
* a video whose temporal patches are a permutation of another's has the other's features, permuted in blocks
  of ``h * w / 4`` merged tokens (one block per temporal patch).

``share_vision_features(model)`` patches ``get_video_features`` / ``get_image_features`` of the model's inner
``Qwen2_5_VLModel`` for the duration of a ``with`` block. Videos are matched by content: a cheap fingerprint per
temporal patch proposes a match and ``torch.equal`` on the pixel rows confirms it, so a wrong reuse is impossible
(a fingerprint collision only costs a recomputation). Autograd is unaffected: a shared feature tensor used G times
accumulates its gradient G times, as the separate computations would.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

#: Inner model classes whose vision tower is local to one temporal patch of one video (checked by class name so
#: that this module does not import every model of transformers).
SUPPORTED_MODELS = ("Qwen2_5_VLModel", "Qwen2VLModel")
_PATCHED = "_videorft_vision_sharing"
_MERGE = 4  # 2x2 spatial merge: patches per output token
# Keyword arguments the shared path understands; anything else (precomputed cu_seqlens, ...) describes the whole
# batch, so such calls run unshared.
_PASSTHROUGH_KWARGS = {"return_dict"}


@dataclass
class SharingStats:
    """What the vision tower was spared: counts of videos (or images) seen and actually encoded."""

    calls: int = 0
    inputs: int = 0  # videos/images passed to get_*_features
    computed: int = 0  # of them, run through the vision tower
    duplicates: int = 0  # reused as-is
    permuted: int = 0  # reused with temporal patches reordered
    unshared_calls: int = 0  # calls that fell back to the original method
    per_call: list[tuple[int, int]] = field(default_factory=list)  # (inputs, computed) per call


@dataclass(frozen=True)
class SharingPlan:
    """For each input: the unique input whose features it reuses and the order of that input's temporal patches.

    ``features[i] = unique_features[source[i]]`` with its temporal blocks taken in ``order[i]`` (None = as is).
    """

    unique: tuple[int, ...]  # input indices that go through the vision tower
    source: tuple[int, ...]  # per input: position in ``unique``
    order: tuple[tuple[int, ...] | None, ...]


def _fingerprints(pixels: torch.Tensor, rows_per_block: list[int]) -> list[float]:
    """One float per temporal patch: a fixed random projection of its pixel rows (position-sensitive)."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    dim = pixels.size(1)
    proj = torch.rand(dim, generator=gen, dtype=torch.float64).to(pixels.device)
    row_scores = pixels.to(torch.float64) @ proj  # (N,)
    # Weight rows by their position inside the block, so that reordering patches within a block changes it.
    out, start = [], 0
    weights_cache: dict[int, torch.Tensor] = {}
    for n in rows_per_block:
        w = weights_cache.get(n)
        if w is None:
            w = weights_cache[n] = torch.linspace(1.0, 2.0, n, dtype=torch.float64, device=pixels.device)
        out.append(row_scores[start : start + n] @ w)
        start += n
    return torch.stack(out).tolist() if out else []


def plan_sharing(pixels: torch.Tensor, grid_thw: torch.Tensor) -> SharingPlan:
    """Match every input (rows of ``pixels`` laid out as ``grid_thw`` says) to an earlier identical or
    temporally-permuted input; unmatched inputs are unique.

    Args:
        pixels: (sum_i t_i*h_i*w_i, C*tps*ps*ps) patch rows, input after input, temporal patch outermost.
        grid_thw: (n_inputs, 3) temporal patches, patch rows and patch columns of each input.
    """
    grid = [tuple(int(x) for x in g) for g in grid_thw.tolist()]
    blocks = [h * w for t, h, w in grid for _ in range(t)]
    fps = _fingerprints(pixels, blocks)
    offsets, start, fp_start = [], 0, 0
    per_input_fps = []
    for t, h, w in grid:
        offsets.append(start)
        start += t * h * w
        per_input_fps.append(fps[fp_start : fp_start + t])
        fp_start += t

    def rows(i: int) -> torch.Tensor:
        t, h, w = grid[i]
        return pixels[offsets[i] : offsets[i] + t * h * w]

    unique: list[int] = []
    source: list[int] = []
    order: list[tuple[int, ...] | None] = []
    for i, (t, h, w) in enumerate(grid):
        match = None
        for u_pos, u in enumerate(unique):
            if grid[u][1:] != (h, w) or grid[u][0] != t:
                continue
            perm = _match_blocks(per_input_fps[i], per_input_fps[u])
            if perm is None:
                continue
            candidate = rows(u).view(t, h * w, -1)[list(perm)].reshape(t * h * w, -1)
            if torch.equal(candidate, rows(i)):  # exact confirmation: fingerprints only propose
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

    if len(fps) != len(ref):
        return None
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
    original: Callable[..., Any],
    pixels: torch.Tensor,
    grid_thw: torch.Tensor,
    stats: SharingStats,
    **kwargs: Any,
) -> Any:
    """Call ``original`` (a bound ``get_*_features``) on the unique inputs only and expand its per-input
    ``pooler_output`` back to every input. ``last_hidden_state`` covers the unique inputs only."""
    stats.calls += 1
    if set(kwargs) - _PASSTHROUGH_KWARGS or grid_thw is None:
        stats.unshared_calls += 1
        return original(pixels, grid_thw, **kwargs)
    plan = plan_sharing(pixels, grid_thw)
    n = len(plan.source)
    stats.inputs += n
    stats.computed += len(plan.unique)
    stats.per_call.append((n, len(plan.unique)))
    if len(plan.unique) == n:
        return original(pixels, grid_thw, **kwargs)
    sizes = grid_thw.prod(-1).tolist()
    starts = [0]
    for s in sizes:
        starts.append(starts[-1] + s)
    unique_pixels = torch.cat([pixels[starts[u] : starts[u + 1]] for u in plan.unique])
    out = original(unique_pixels, grid_thw[list(plan.unique)], **kwargs)
    unique_feats = out.pooler_output if hasattr(out, "pooler_output") else out
    feats = []
    for i, (src, order) in enumerate(zip(plan.source, plan.order)):
        f = unique_feats[src]
        if plan.unique[src] != i:
            if order is None:
                stats.duplicates += 1
            else:
                stats.permuted += 1
                t = int(grid_thw[i, 0])
                f = f.view(t, -1, f.size(-1))[list(order)].reshape(-1, f.size(-1))  # (t*h*w/4, H)
        feats.append(f)
    if hasattr(out, "pooler_output"):
        out.pooler_output = tuple(feats)
        return out
    return tuple(feats)


def find_vision_models(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The inner multimodal models (``Qwen2_5_VLModel``) inside ``model`` (also through PEFT / DDP wrappers)."""
    return [m for m in model.modules() if type(m).__name__ in SUPPORTED_MODELS]


def _wrappers(inner: torch.nn.Module, stats: SharingStats) -> dict[str, Callable[..., Any]]:
    """Sharing versions of ``inner``'s feature methods, with the original parameter names: ``generate``
    inspects the signature to decide which inputs to encode before prefill."""
    video, image = inner.get_video_features, inner.get_image_features

    @functools.wraps(video)
    def get_video_features(pixel_values_videos, video_grid_thw=None, **kwargs):
        return shared_features(video, pixel_values_videos, video_grid_thw, stats, **kwargs)

    @functools.wraps(image)
    def get_image_features(pixel_values, image_grid_thw=None, **kwargs):
        return shared_features(image, pixel_values, image_grid_thw, stats, **kwargs)

    return {"get_video_features": get_video_features, "get_image_features": get_image_features}


@contextlib.contextmanager
def share_vision_features(
    model: torch.nn.Module, stats: SharingStats | None = None
) -> Iterator[SharingStats]:
    """Within the block, forwards of ``model`` encode each distinct video / image once (see module docstring).

    A model without a supported inner class is left alone (``stats.inputs`` stays 0); nesting is a no-op.
    """
    stats = stats if stats is not None else SharingStats()
    patched: list[torch.nn.Module] = []
    try:
        for inner in find_vision_models(model):
            if getattr(inner, _PATCHED, False):
                continue
            for name, patched_method in _wrappers(inner, stats).items():
                setattr(inner, name, patched_method)  # instance attribute shadows the class method
            setattr(inner, _PATCHED, True)
            patched.append(inner)
        yield stats
    finally:
        for inner in patched:
            for name in ("get_video_features", "get_image_features"):
                inner.__dict__.pop(name, None)
            inner.__dict__.pop(_PATCHED, None)


def maybe_share_vision_features(model: torch.nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
    """``share_vision_features(model)`` when ``enabled``, else a no-op context."""
    return share_vision_features(model) if enabled else contextlib.nullcontext()

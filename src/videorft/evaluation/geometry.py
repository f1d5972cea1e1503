"""Benchmark-specific measures that the rewards do not define: NExT-GQA's IoU/IoP and VSI-Bench's MRA.

Pure functions on plain floats. Temporal IoU and box IoU come from ``videorft.rewards.rules``
so metrics and rewards can never disagree; parsing belongs to ``videorft.rewards.parsing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

Interval = Sequence[float]  # [start, end] in seconds


def nextgqa_iou_iop(pred: Interval, gt: Interval) -> tuple[float, float]:
    """(IoU, IoP) of one predicted span against one ground-truth span, as NExT-GQA's
    ``eval_ground.py`` computes them: IoP = intersection / prediction length; a zero-length
    prediction gets IoU 0 and IoP 1 when it lies inside the ground truth, else 0.

    >>> nextgqa_iou_iop([2.0, 4.0], [3.0, 8.0])
    (0.16666666666666666, 0.5)
    """
    ps, pe = float(pred[0]), float(pred[1])
    gs, ge = float(gt[0]), float(gt[1])
    if not all(map(math.isfinite, (ps, pe, gs, ge))) or ps > pe:
        return 0.0, 0.0
    if ps == pe:
        return 0.0, (1.0 if gs <= ps <= ge else 0.0)
    inter = min(pe, ge) - max(ps, gs)
    union = max(pe, ge) - min(ps, gs)
    # The reference does not clamp a negative intersection; its max over ground-truth spans
    # starting at 0 does, so clamping here gives the same numbers.
    iou = max(0.0, inter / union) if union > 0 else 0.0
    iop = max(0.0, inter / (pe - ps))
    return iou, iop


def nextgqa_best_overlap(pred: Interval, gts: Sequence[Interval]) -> tuple[float, float]:
    """Max IoU and max IoP (taken independently) over the ground-truth spans, as NExT-GQA does."""
    best_iou, best_iop = 0.0, 0.0
    for gt in gts:
        iou, iop = nextgqa_iou_iop(pred, gt)
        best_iou, best_iop = max(best_iou, iou), max(best_iop, iop)
    return best_iou, best_iop


def _got10k_bound(box: Sequence[float]) -> tuple[float, float, float, float]:
    """``(left, top, width, height)`` of ``[x0, y0, x1, y1]`` (unit frame), bounded as the toolkit does."""
    x, y = min(max(float(box[0]), 0.0), 1.0), min(max(float(box[1]), 0.0), 1.0)
    w = min(max(float(box[2]) - float(box[0]), 0.0), 1.0 - x)
    h = min(max(float(box[3]) - float(box[1]), 0.0), 1.0 - y)
    return x, y, w, h


def got10k_box_iou(pred: Sequence[float], gt: Sequence[float]) -> float:
    """IoU of two ``[x0, y0, x1, y1]`` boxes with the got10k toolkit's bound and arithmetic
    (``got10k/utils/metrics.py: rect_iou``), in frame units instead of pixels. The bound clips
    left/top to [0, 1], then width/height to what is left: a box overflowing the left or top edge
    is shifted into the frame, not cut; an inverted box gets width or height 0.

    >>> got10k_box_iou([-0.2, 0.0, 0.3, 0.5], [0.0, 0.0, 0.5, 0.5])  # shifted to [0, 0.5]: IoU 1
    1.0
    """
    ax, ay, aw, ah = _got10k_bound(pred)
    bx, by, bw, bh = _got10k_bound(gt)
    iw = max(min(ax + aw, bx + bw) - max(ax, bx), 0.0)
    ih = max(min(ay + ah, by + bh) - max(ay, by), 0.0)
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    # The toolkit divides by union + float64 eps in pixel² units, where the eps only guards
    # against 0; in frame units the same eps would shave ~1e-15 off a perfect match.
    return min(max(inter / union, 0.0), 1.0) if union > 0 else 0.0


def span_hull(intervals: Sequence[Interval]) -> tuple[float, float]:
    """Smallest single span covering all intervals (NExT-GQA scores one predicted span)."""
    if not intervals:
        raise ValueError("span_hull needs at least one interval")
    return min(float(i[0]) for i in intervals), max(float(i[1]) for i in intervals)


#: How MRA counts a threshold, by name (``MetricOptions.mra``):
#: ``vsibench`` — VSI-Bench's official lmms-eval code (thinking-in-space
#: ``lmms_eval/tasks/vsibench/utils.py``), which produced the published numbers:
#: ``|p - g| / g <= 1 - θ`` in float64 with θ from ``np.linspace(.5, .95, 10)``;
#: ``paper`` — the paper's formula, ``|p - g| / |g| < 1 - θ``, with exact rational arithmetic;
#: ``video_r1`` — Video-R1's ``src/eval_bench.py``: float32, ``|p - g| / (|g| + 1e-8) < 1 - θ``,
#: θ from ``torch.arange(.5, .975, .05)``.
MRA_RULES = ("vsibench", "paper", "video_r1")


# The official np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2)): int(8.999999999999998 + 2) = 10 points.
_VSIBENCH_THRESHOLDS = [float(t) for t in np.linspace(0.5, 0.95, 10)]


def mean_relative_accuracy(pred: float, gt: float, rule: str = "vsibench") -> float:
    """VSI-Bench MRA: share of θ in {0.50, 0.55, ..., 0.95} whose relative error passes 1 − θ.

    ``rule`` (see ``MRA_RULES``) picks the official code's ``<=`` with its float thresholds
    (default), the paper's strict ``<`` computed exactly, or Video-R1's float32 variant. A ground
    truth of 0 (which the official code cannot score: it divides by it) counts only an exact 0.

    >>> mean_relative_accuracy(110.0, 100.0)  # error 0.1 <= 1 − θ for θ ≤ 0.9: 9 of 10
    0.9
    >>> mean_relative_accuracy(110.0, 100.0, rule="paper")  # 0.1 < 1 − θ only for θ ≤ 0.85
    0.8
    """
    if rule not in MRA_RULES:
        raise ValueError(f"unknown MRA rule {rule!r}; valid: {', '.join(MRA_RULES)}")
    if not (math.isfinite(pred) and math.isfinite(gt)):
        return 0.0
    if gt == 0:
        return 1.0 if pred == 0 else 0.0
    if rule == "vsibench":
        err = abs(pred - gt) / gt  # the official code divides by the signed target
        return sum(1 for t in _VSIBENCH_THRESHOLDS if err <= 1 - t) / len(_VSIBENCH_THRESHOLDS)
    if rule == "paper":
        exact = abs(Fraction(pred) - Fraction(gt)) / abs(Fraction(gt))
        # 1 − θ_k = (10 − k) / 20 for k = 0..9, exactly
        return sum(1 for k in range(10) if exact < Fraction(10 - k, 20)) / 10
    import torch

    p = torch.tensor(pred, dtype=torch.float32)
    g = torch.tensor(gt, dtype=torch.float32)
    rel = torch.abs(p - g) / (torch.abs(g) + 1e-8)
    thresholds = torch.arange(0.5, 0.95 + 0.05 / 2, 0.05, dtype=torch.float32)
    return float((rel < (1 - thresholds)).float().mean().item())

"""Benchmark-specific measures that the rewards do not define: NExT-GQA's IoU/IoP and VSI-Bench's MRA.

Pure functions on plain floats. Temporal IoU and box IoU come from ``videorft.rewards.rules``
so metrics and rewards can never disagree; parsing belongs to ``videorft.rewards.parsing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def span_hull(intervals: Sequence[Interval]) -> tuple[float, float]:
    """Smallest single span covering all intervals (NExT-GQA scores one predicted span)."""
    if not intervals:
        raise ValueError("span_hull needs at least one interval")
    return min(float(i[0]) for i in intervals), max(float(i[1]) for i in intervals)


def relative_error(pred: float, gt: float) -> float:
    """|pred - gt| / |gt|; with gt == 0 it is 0 for an exact answer and infinite otherwise."""
    if gt == 0:
        return 0.0 if pred == 0 else math.inf
    return abs(pred - gt) / abs(gt)


def mean_relative_accuracy(pred: float, gt: float) -> float:
    """VSI-Bench MRA: share of θ in {0.50, 0.55, ..., 0.95} with relative error < 1 − θ.

    Thresholds are taken as exact twentieths so 0.05 steps carry no float drift.

    >>> mean_relative_accuracy(110.0, 100.0)  # error 0.10 < 1 − θ for θ ≤ 0.85: 8 of 10
    0.8
    """
    if not (math.isfinite(pred) and math.isfinite(gt)):
        return 0.0
    err = relative_error(pred, gt)
    # 1 − θ_k = (10 − k) / 20 for k = 0..9
    return sum(1 for k in range(10) if err * 20 < 10 - k) / 10

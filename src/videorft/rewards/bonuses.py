"""Group-level bonuses of Video-R1: the T-GRPO temporal bonus and the optional length bonus."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["temporal_bonus", "length_bonus"]


def _check(name: str, values: Sequence[float]) -> list[float]:
    out = [float(v) for v in values]
    if any(not math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be finite numbers, got {list(values)!r}")
    return out


def temporal_bonus(
    ordered_acc: Sequence[float],
    shuffled_acc: Sequence[float],
    alpha: float = 0.3,
    mu: float = 0.8,
    min_acc: float = 0.1,
) -> list[float]:
    """T-GRPO bonus for one prompt's group (Video-R1, Eq. 2).

    With p = mean(ordered_acc) and p̃ = mean(shuffled_acc): if p >= mu·p̃, every ordered completion
    whose accuracy > min_acc gets ``alpha``; otherwise all get 0. Returns one value per ordered
    completion. Computed per group (Video-R1's code averages over the batch, which equals this
    only at batch size 1).

    >>> temporal_bonus([1.0, 0.0, 0.5], [0.0, 1.0])
    [0.3, 0.0, 0.3]
    >>> temporal_bonus([0.2, 0.2], [1.0, 1.0])
    [0.0, 0.0]
    """
    ordered = _check("ordered_acc", ordered_acc)
    shuffled = _check("shuffled_acc", shuffled_acc)
    if not ordered:
        return []
    if not shuffled:
        raise ValueError("shuffled_acc is empty: T-GRPO needs at least one shuffled-frame rollout")
    p = sum(ordered) / len(ordered)
    p_shuffled = sum(shuffled) / len(shuffled)
    if p < mu * p_shuffled:
        return [0.0] * len(ordered)
    return [alpha if a > min_acc else 0.0 for a in ordered]


def length_bonus(
    accuracies: Sequence[float],
    lengths: Sequence[int],
    *,
    bonus: float = 0.2,
    min_len: int = 320,
    max_len: int = 512,
    min_acc: float = 0.1,
) -> list[float]:
    """Video-R1's optional length reward for one group.

    If more than one completion has accuracy > ``min_acc``, each of those whose length (in tokens)
    lies in [min_len, max_len] gets ``bonus``; everything else gets 0.

    >>> length_bonus([1.0, 1.0, 0.0], [400, 100, 400])
    [0.2, 0.0, 0.0]
    """
    acc = _check("accuracies", accuracies)
    if len(acc) != len(lengths):
        raise ValueError(f"accuracies and lengths differ in length ({len(acc)} vs {len(lengths)})")
    if min_len > max_len:
        raise ValueError(f"min_len ({min_len}) > max_len ({max_len})")
    correct = [a > min_acc for a in acc]
    if sum(correct) <= 1:
        return [0.0] * len(acc)
    return [bonus if ok and min_len <= n <= max_len else 0.0 for ok, n in zip(correct, lengths)]

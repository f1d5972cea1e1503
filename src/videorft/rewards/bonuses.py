"""Video-R1's optional length bonus for a group (the T-GRPO temporal bonus is ``training.algos.temporal_bonus``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["length_bonus"]


def _check(name: str, values: Sequence[float]) -> list[float]:
    out = [float(v) for v in values]
    if any(not math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be finite numbers, got {list(values)!r}")
    return out


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

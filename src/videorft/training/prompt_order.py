"""The order in which GRPO sees its prompts: optionally every answer of a multiple-choice task spread evenly.

Before a small model tells the options apart, a step's net push on "which letter" follows the batch's mix of
gold letters, which swings from step to step; the model can drift onto one constant letter and lose every
gradient (docs/deviations.md, "Demo and study"). ``AnswerBalancedSampler`` keeps TRL's ``RepeatSampler``
contract and changes only the epoch's order: each stratum (a task, and for multiple choice its gold answer)
is spread evenly over the epoch, so every step holds the strata in the dataset's proportions.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import torch
from trl.trainer.utils import RepeatSampler

from videorft.data.loaders.hf import decode_solution


def stratum_key(task: str, solution: Any, options: Sequence[str]) -> Hashable:
    """(task, gold answer) for a multiple-choice row, (task,) for any other."""
    return (task, str(solution)) if options else (task,)


def spread_order(keys: Sequence[Hashable], generator: torch.Generator) -> list[int]:
    """A random permutation of ``range(len(keys))`` with every stratum spread evenly.

    The i-th member (in random order) of a stratum of n sits at (i + u) / n of the epoch, u ~ U[0, 1) per
    stratum; sorting by that position interleaves the strata in proportion (two strata of equal size alternate).
    """
    strata: dict[Hashable, list[int]] = {}
    for index, key in enumerate(keys):
        strata.setdefault(key, []).append(index)
    placed: list[tuple[float, int]] = []
    for members in strata.values():
        offset = torch.rand(1, generator=generator).item()
        for rank, pick in enumerate(torch.randperm(len(members), generator=generator).tolist()):
            placed.append(((rank + offset) / len(members), members[pick]))
    return [index for _, index in sorted(placed)]


class AnswerBalancedSampler(RepeatSampler):
    """TRL's RepeatSampler whose shuffle spreads each (task, gold answer) stratum evenly (module docstring)."""

    def __init__(self, data_source: Any, keys: Sequence[Hashable], **kwargs: Any) -> None:
        if len(keys) != len(data_source):
            raise ValueError(f"{len(keys)} stratum keys for {len(data_source)} rows")
        kwargs["shuffle"] = True  # an even spread is a shuffle; without one there is nothing to spread
        super().__init__(data_source, **kwargs)
        self.keys = list(keys)

    def __iter__(self) -> Iterator[int]:
        order = spread_order(self.keys, self.generator)
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for chunk in chunks:
            if len(chunk) < self.batch_size:  # as RepeatSampler: no partial generation batch
                break
            for _ in range(self.repeat_count):
                for index in chunk:
                    yield from [index] * self.mini_repeat_count


def dataset_stratum_keys(dataset: Any) -> list[Hashable]:
    """The stratum key of every row of a trainer dataset (columns task / solution / options)."""
    columns = (
        dataset.select_columns(["task", "solution", "options"])
        if hasattr(dataset, "select_columns")
        else dataset
    )
    return [
        stratum_key(row["task"], decode_solution(row["solution"]), row["options"] or ()) for row in columns
    ]

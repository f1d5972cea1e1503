"""GRPO's generation batches prepared in data-loader workers, so the trainer never waits on PyAV.

With ``dataloader_num_workers > 0`` the workers resolve bad media (``MediaSkips``), decode frames and run the
processor for each row (``PreparedRow``) while the model trains on the previous batch; with 0 workers the
trainer runs the same collate inline. TRL's sampler yields each generation batch ``steps_per_generation *
num_iterations`` times and the trainer generates from the first only: ``MarkRepeats`` tags the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from videorft.data.record import Record
from videorft.inputs import RowVision, Sample, SampleEncoder, row_record
from videorft.training.media_skips import MediaSkips

#: Row key of a ``PreparedRow`` (rows are dicts; TRL hands their other keys to the reward functions).
PREPARED = "prepared"
_PREPARE = "_prepare"  # row key set by ``KeyedRows``: False for a repeat nobody generates from


@dataclass
class PreparedRow:
    """A row's record, its sample (frames, rendered prompt), prompt token ids and vision tensors."""

    record: Record
    sample: Sample
    prompt_ids: list[int]
    vision: RowVision


def prepare_row(row: dict[str, Any], encoder: SampleEncoder) -> PreparedRow:
    """Decode and encode one row (VideoDecodeError when its media fails)."""
    record = row_record(row)
    sample = encoder.sample(record)
    ids, vision = encoder.tokenize(sample)
    return PreparedRow(record, sample, ids, vision)


class RolloutCollator:
    """A generation batch's rows prepared (each distinct row once, bad media replaced), in the workers or by the
    trainer, which passes prepared rows through. Each clip is kept in ``encoder``: T-GRPO permutes it next."""

    def __init__(self, encoder: SampleEncoder, skips: MediaSkips) -> None:
        self.encoder = encoder
        self.skips = skips

    def __call__(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done: dict[Any, dict[str, Any]] = {}
        out = []
        for row in rows:
            if not row.pop(_PREPARE, True):  # a repeat the trainer does not generate from
                out.append(row)
                continue
            if PREPARED not in row:
                if row["id"] not in done:  # a group's G copies share one decode and one processor call
                    new_row, prep = self.skips.resolve(row, lambda r: prepare_row(r, self.encoder))
                    done[row["id"]] = {**new_row, PREPARED: prep}
                row = done[row["id"]]
            if row[PREPARED].sample.clip is not None:
                self.encoder.remember(row[PREPARED].record, row[PREPARED].sample.clip)
            out.append(row)
        return out


class KeyedRows(torch.utils.data.Dataset):
    """The training rows indexed by ``(index, prepare)`` as ``MarkRepeats`` yields them."""

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, bool]) -> dict[str, Any]:
        index, prepare = key
        return {**self.rows[index], _PREPARE: prepare}


class MarkRepeats(torch.utils.data.Sampler):
    """TRL's ``RepeatSampler`` (blocks of ``batch_size * mini_repeat_count`` rows, each ``repeat_count`` times in
    a row) with each index paired with whether its block is the first copy, the one the trainer generates from."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.block = sampler.batch_size * sampler.mini_repeat_count
        self.repeats = sampler.repeat_count

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        for k, index in enumerate(self.sampler):
            yield index, (k // self.block) % self.repeats == 0


def worker_train_dataloader(trainer: Any) -> Any:
    """``GRPOTrainer.get_train_dataloader`` with rows prepared by ``RolloutCollator`` in the workers."""
    trainer.data_collator = trainer.rollout_collator
    rows = trainer.train_dataset
    return trainer._get_dataloader(
        dataset=KeyedRows(rows),
        description="Training",
        batch_size=trainer._train_batch_size * trainer.args.steps_per_generation,  # TRL's generation batch
        sampler_fn=lambda _: MarkRepeats(trainer._get_train_sampler(rows)),
        is_training=True,
    )

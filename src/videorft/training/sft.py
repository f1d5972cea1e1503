"""SFT cold start on TRL's SFTTrainer with video inputs (target = CoT ``process`` + answer, as Video-R1).

TRL's own VLM collator takes images only; ``VideoSFTCollator`` samples frames with the same encoder as GRPO
(so SFT and RL see identical inputs) and puts the loss on the assistant turn only. ``VideoSFTTrainer`` is TRL's
SFTTrainer whose resume loads the checkpoint's weights (``output_dir.ResumesModelWeights``).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from trl import SFTTrainer

from videorft.data.record import Record
from videorft.inputs import RowVision, SampleEncoder, row_record
from videorft.models.processing import mm_token_type_ids
from videorft.rewards.tasks import get_task
from videorft.training.media_skips import MediaSkips, NoUsableMediaError
from videorft.training.output_dir import ResumesModelWeights
from videorft.training.sft_answers import RANDOM_ANSWER_TASKS, answer_modes

#: Think text for records without a CoT ``process`` (a format-only cold start): short on purpose, so that
#: RL, not imitation, has to find the reasoning. Configurable through ``VideoSFTCollator(default_think=...)``.
DEFAULT_THINK = "I look at the frames in order."


class VideoSFTTrainer(ResumesModelWeights, SFTTrainer):
    """TRL's SFTTrainer; a resumed run starts from the checkpoint's weights."""


def random_answer(record: Record, rng: random.Random) -> Record:
    """``record`` with its solution replaced by a random answer of the right form (a format-only cold start:
    the target teaches the output format and carries no information about the answer). A CoT ``process``
    is dropped too: it argues for the real answer."""
    meta = {k: v for k, v in record.meta.items() if k != "process"}
    record = dataclasses.replace(record, meta=meta)
    if record.task == "multiple_choice" and record.options:
        letter = "ABCDEFGHIJ"[rng.randrange(len(record.options))]
        return dataclasses.replace(record, solution=letter)
    if record.task == "temporal_grounding":
        end = float(record.meta.get("duration") or 2 * float(record.solution[1]))
        a, b = sorted(rng.uniform(0.0, end) for _ in range(2))
        return dataclasses.replace(record, solution=[a, b])
    raise ValueError(
        f"record {record.id!r}: sft_answers='random' supports {' and '.join(RANDOM_ANSWER_TASKS)}, "
        f"not {record.task!r}"
    )


def sft_target(record: Record, default_think: str = DEFAULT_THINK, style: str = "think") -> str:
    """``<think>process</think>`` + ``<answer>...</answer>`` (+ ``<glue>`` for grounding-QA).

    A Video-R1 COT record carries ``process`` ("<think>...</think>"); it is used verbatim, joined to the answer
    with a newline as in Video-R1's SFT data.
    """
    answer = f"<answer>{get_task(record.task).answer(record.solution)}</answer>"
    if record.task == "grounding_qa":
        glue = ", ".join(f"({float(s):.1f}, {float(e):.1f})" for s, e in record.solution["intervals"])
        answer += f" <glue>[{glue}]</glue>"
    if style == "no_think":
        return answer
    process = record.meta.get("process")
    if process:
        return f"{process.strip()}\n{answer}"
    return f"<think>{default_think}</think>{answer}"


class VideoSFTCollator:
    """Rows -> input_ids / labels (prompt masked with -100) / video tensors / M-RoPE inputs."""

    def __init__(
        self,
        encoder: SampleEncoder,
        *,
        default_think: str = DEFAULT_THINK,
        max_length: int | None = None,
        answers: str = "gold",
        seed: int = 0,
        skips: MediaSkips | None = None,
    ):
        self.answer_modes = answer_modes(answers)  # {task: 'gold' | 'random'}, '*': the others
        self.encoder = encoder
        # Undecodable media: the row is replaced from skips.pool (train_sft passes the dataset), else dropped.
        self.skips = skips if skips is not None else MediaSkips()
        self.rng = random.Random(seed)
        self.tokenizer = getattr(encoder.processor, "tokenizer", encoder.processor)
        self.default_think = default_think
        self.max_length = max_length
        self.end_ids = self.tokenizer.encode("<|im_end|>\n", add_special_tokens=False)

    def _encode(self, row: dict[str, Any]) -> tuple[Record, list[int], RowVision]:
        record = row_record(row)
        prompt_ids, vision = self.encoder.encode(record)
        return record, prompt_ids, vision

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        seqs, labels, vision = [], [], []
        for row in rows:
            try:
                _, (record, prompt_ids, row_vision) = self.skips.resolve(row, self._encode)
            except NoUsableMediaError:
                if self.skips.pool:
                    raise
                continue  # no pool to draw a replacement from: the batch is one row shorter
            if self.answer_modes.get(record.task, self.answer_modes["*"]) == "random":
                record = random_answer(record, self.rng)
            target = sft_target(record, self.default_think, self.encoder.prompt.style)
            target_ids = self.tokenizer.encode(target, add_special_tokens=False) + self.end_ids
            ids = prompt_ids + target_ids
            lab = [-100] * len(prompt_ids) + target_ids
            if self.max_length is not None and len(ids) > self.max_length:
                # Truncating would cut video tokens or the answer: refuse loudly instead of training on garbage.
                raise ValueError(
                    f"record {record.id!r}: {len(ids)} tokens exceed max_length={self.max_length}; "
                    "lower the frame/pixel budget or raise max_length"
                )
            seqs.append(ids)
            labels.append(lab)
            vision.append(row_vision)
        if not seqs:
            raise NoUsableMediaError("every sample of the batch failed to decode (see the warnings above)")

        # Left padding puts every target at the end of the row, so the loss needs only the last logits.
        def pad(rows: list[list[int]], value: int) -> torch.Tensor:  # (B, L)
            return pad_sequence([torch.tensor(r) for r in rows], True, value, "left")

        input_ids = pad(seqs, self.tokenizer.pad_token_id)
        return {
            "input_ids": input_ids,
            "attention_mask": pad([[1] * len(ids) for ids in seqs], 0),
            "labels": pad(labels, -100),
            "mm_token_type_ids": mm_token_type_ids(input_ids, self.tokenizer),
            **RowVision.collate(vision),
        }

"""The inputs layer: from a record to model inputs, one way for the trainers, evaluation, probe and vLLM.

``SampleEncoder.sample`` decodes a record's frames under a ``FrameBudget`` (before the processor, so the budget
holds whatever the processor's defaults are), puts them in the requested frame order and renders the prompt;
``SampleEncoder.encode`` runs the processor on it (prompt ids, per-row ``RowVision``). Trainer dataset rows
name the image ``image_path``, because TRL treats an ``image`` column as PIL images.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from videorft.data.loaders import record_from_row
from videorft.data.prompts import PromptSpec
from videorft.data.record import Record
from videorft.models.processing import encode
from videorft.video import FrameBudget, VideoClip, load_image, load_video, record_budget
from videorft.video.budget import FRAME_FACTOR

#: Qwen2.5-VL's temporal patch: the vision tower attends within blocks of this many frames (the frame
#: sampler's FRAME_FACTOR: frame counts are kept even for it).
TEMPORAL_PATCH = FRAME_FACTOR
#: Shuffle unit -> frames per permuted block: whole temporal patches keep every vision token intact and only
#: move them; single frames (Video-R1's shuffle) also mix frames within tokens.
SHUFFLE_UNITS: dict[str, int] = {"temporal_patch": TEMPORAL_PATCH, "frame": 1}
FRAME_ORDERS: tuple[str, ...] = ("ordered", "shuffled", "reversed", "middle")


def permute_frames(frames: np.ndarray, rng: np.random.Generator, unit: int = TEMPORAL_PATCH) -> np.ndarray:
    """Randomly permute frames in blocks of ``unit`` frames (T must be a multiple of ``unit``).

    Returns a new array; the identity permutation is avoided when more than one block exists.
    """
    n_blocks = frames.shape[0] // unit
    order = np.arange(n_blocks)
    if n_blocks > 1:
        while np.array_equal(order, np.arange(n_blocks)):
            order = rng.permutation(n_blocks)
    index = (order[:, None] * unit + np.arange(unit)[None, :]).reshape(-1)  # (T,)
    return frames[index]


def reorder_frames(
    frames: np.ndarray, order: str, rng: np.random.Generator | None = None, unit: int = TEMPORAL_PATCH
) -> np.ndarray:
    """Frames (T, H, W, 3) in a frame order: ``shuffled`` permutes blocks of ``unit`` frames (never the
    identity when T > unit), ``reversed`` reverses the block order, ``middle`` keeps only the middle frame,
    twice, because Qwen2.5-VL needs at least one temporal patch of 2 frames."""
    if order not in FRAME_ORDERS:
        raise ValueError(f"unknown frame order {order!r}; valid: {', '.join(FRAME_ORDERS)}")
    if order == "ordered":
        return frames
    if order == "middle":
        return np.repeat(frames[len(frames) // 2][None], 2, axis=0)  # (2, H, W, 3)
    if len(frames) % unit:
        raise ValueError(f"{len(frames)} frames cannot be split into blocks of {unit}")
    if order == "reversed":
        blocks = frames.reshape(len(frames) // unit, unit, *frames.shape[1:])  # (T/unit, unit, H, W, 3)
        return np.ascontiguousarray(blocks[::-1].reshape(frames.shape))
    if rng is None:
        raise ValueError("frame order 'shuffled' needs a random generator")
    return permute_frames(frames, rng, unit=unit)


def record_rng(seed: int, record_id: str) -> np.random.Generator:
    """A generator fixed by (seed, record id): a record's shuffle never depends on batching or resume."""
    return np.random.default_rng([seed, zlib.crc32(record_id.encode("utf-8"))])


@dataclass
class RowVision:
    """Vision tensors of one sample; ``None`` where the sample has no video or image."""

    pixel_values_videos: torch.Tensor | None = None  # (patches, C*tps*ps*ps)
    video_grid_thw: torch.Tensor | None = None  # (1, 3)
    second_per_grid_ts: torch.Tensor | None = None  # (1,)
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None

    @staticmethod
    def collate(rows: list[RowVision], device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Concatenate the tensors of several samples in row order (the layout Qwen2.5-VL's forward expects)."""
        out: dict[str, torch.Tensor] = {}
        for f in dataclasses.fields(RowVision):
            parts = [getattr(r, f.name) for r in rows if getattr(r, f.name) is not None]
            if parts:
                out[f.name] = (
                    torch.cat(parts, dim=0) if device is None else torch.cat(parts, dim=0).to(device)
                )
        return out


@dataclass
class Sample:
    """One record ready for a model: frames in the requested order, the prompt as text and as messages."""

    record: Record
    prompt: str  # the user prompt text (timing, if any, from the ordered clip)
    conversation: list[dict]
    clip: VideoClip | None  # frames in the requested order
    image: np.ndarray | None

    def vllm_prompt(self, ids: list[int], placeholder_ids: tuple[int, ...]) -> dict[str, Any]:
        """vLLM's input for this sample: its prompt ids with the frames / image they were tokenized with."""
        from videorft.models import vllm_engine

        clip = self.clip
        return vllm_engine.vllm_prompt(
            ids,
            placeholder_ids=placeholder_ids,
            frames=None if clip is None else clip.frames,
            fps=None if clip is None else clip.fps,
            duration=None if clip is None else clip.duration,
            image=self.image,
        )


class SampleEncoder:
    """Records -> samples -> (prompt token ids, vision tensors), caching decoded clips (a group shares one video)."""

    def __init__(
        self, processor: Any, budget: FrameBudget, prompt: PromptSpec | None = None, *, cache_size: int = 64
    ) -> None:
        self.processor = processor
        self.budget = budget
        self.prompt = prompt or PromptSpec()
        self._clips: OrderedDict[tuple, VideoClip] = OrderedDict()
        self.cache_size = cache_size

    @classmethod
    def from_data_args(cls, processor: Any, data_args: Any) -> SampleEncoder:
        """The encoder a ``VideoDataArguments`` describes (frame budget, prompt)."""
        return cls(processor, FrameBudget.from_settings(data_args), data_args.prompt_spec())

    def clip(self, record: Record) -> VideoClip | None:
        """The sampled frames of a record's video: the encoder's budget, with the record's own frame count
        (``record.nframes``, e.g. one per tracking box) and time window (``meta['video_start'/'video_end']``)
        applied."""
        if record.video is None:
            return None
        budget = record_budget(record, self.budget)
        key = (record.video, dataclasses.astuple(budget))  # every setting that changes the frames
        if key not in self._clips:
            self.remember(record, load_video(record.video, budget), key)
        self._clips.move_to_end(key)
        return self._clips[key]

    def remember(self, record: Record, clip: VideoClip, key: tuple | None = None) -> None:
        """Cache ``clip`` as the record's frames (decoded elsewhere: a data-loader worker)."""
        if key is None:
            key = (record.video, dataclasses.astuple(record_budget(record, self.budget)))
        self._clips[key] = clip
        if len(self._clips) > self.cache_size:
            self._clips.popitem(last=False)

    def image(self, record: Record) -> np.ndarray | None:
        if record.image is None:
            return None
        return load_image(record.image, min_pixels=self.budget.min_pixels, max_pixels=self.budget.max_pixels)

    def sample(
        self,
        record: Record,
        frame_order: str = "ordered",
        rng: np.random.Generator | None = None,
        unit: int = TEMPORAL_PATCH,
    ) -> Sample:
        """Decode, reorder (``reorder_frames``) and render; prompt text and timing are the ordered clip's."""
        clip = self.clip(record)
        prompt = self.prompt.text(record, clip)
        if clip is not None and frame_order != "ordered":
            clip = dataclasses.replace(clip, frames=reorder_frames(clip.frames, frame_order, rng, unit))
        return Sample(record, prompt, self.prompt.conversation(record, prompt), clip, self.image(record))

    def tokenize(self, sample: Sample) -> tuple[list[int], RowVision]:
        return tokenize(self.processor, sample)

    def encode(
        self,
        record: Record,
        frame_order: str = "ordered",
        rng: np.random.Generator | None = None,
        unit: int = TEMPORAL_PATCH,
    ) -> tuple[list[int], RowVision]:
        """``tokenize(sample(...))``: prompt ids and vision tensors of one record in a frame order."""
        return self.tokenize(self.sample(record, frame_order, rng, unit))


def tokenize(processor: Any, sample: Sample) -> tuple[list[int], RowVision]:
    """Prompt ids (unpadded) and vision tensors of one sample."""
    batch = encode(
        processor,
        [sample.conversation],
        videos=None if sample.clip is None else [sample.clip],
        images=None if sample.image is None else [sample.image],
        add_generation_prompt=True,
    )
    ids = batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist()
    return ids, RowVision(**{f.name: batch.get(f.name) for f in dataclasses.fields(RowVision)})


def row_record(row: dict[str, Any]) -> Record:
    """The record of a trainer dataset row (``image_path`` back to ``image``)."""
    if "image_path" in row:
        row = {**row, "image": row["image_path"]}
    return record_from_row(row)

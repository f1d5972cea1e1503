"""From a dataset row to model inputs: sample frames, render the prompt, run the processor.

Rows are the columns of ``videorft.data.loaders.to_hf_dataset`` (id, task, problem, solution, video, image,
options, meta); trainers rename ``image`` to ``image_path`` because TRL treats an ``image`` column as PIL images. Frames are sampled by ``videorft.video`` *before* the processor, so frame and pixel budgets
hold whatever the processor's own defaults are.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from videorft.data.loaders import record_from_row
from videorft.data.prompts import TimingInfo, build_conversation, render_prompt
from videorft.data.record import Record
from videorft.models.processing import encode
from videorft.video import FrameBudget, VideoClip, load_image, load_video, record_budget

#: Qwen2.5-VL's temporal patch: the vision tower attends within blocks of this many frames.
TEMPORAL_PATCH = 2


def permute_frames(frames: np.ndarray, rng: np.random.Generator, unit: int = TEMPORAL_PATCH) -> np.ndarray:
    """Randomly permute frames in blocks of ``unit`` frames (T must be a multiple of ``unit``).

    With ``unit = 2`` each block is one temporal patch of Qwen2.5-VL, so every vision token is unchanged and only
    their order moves; ``unit = 1`` shuffles whole frames as Video-R1 does (which also mixes frames within tokens).
    Returns a new array; the identity permutation is avoided when more than one block exists.
    """
    n_blocks = frames.shape[0] // unit
    order = np.arange(n_blocks)
    if n_blocks > 1:
        while np.array_equal(order, np.arange(n_blocks)):
            order = rng.permutation(n_blocks)
    index = (order[:, None] * unit + np.arange(unit)[None, :]).reshape(-1)  # (T,)
    return frames[index]


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
        for key in (
            "pixel_values_videos",
            "video_grid_thw",
            "second_per_grid_ts",
            "pixel_values",
            "image_grid_thw",
        ):
            parts = [getattr(r, key) for r in rows if getattr(r, key) is not None]
            if parts:
                out[key] = (
                    torch.cat(parts, dim=0).to(device) if device is not None else torch.cat(parts, dim=0)
                )
        return out


class SampleEncoder:
    """Turns rows into (prompt token ids, vision tensors), caching decoded clips (a group shares one video)."""

    def __init__(
        self,
        processor: Any,
        budget: FrameBudget,
        *,
        template: str | None = None,
        prompt_style: str = "think",
        timing_in_prompt: bool = False,
        system_prompt: str | None = None,
        cache_size: int = 64,
    ) -> None:
        self.processor = processor
        self.budget = budget
        self.template = template
        self.prompt_style = prompt_style
        self.timing_in_prompt = timing_in_prompt
        self.system_prompt = system_prompt
        self._clips: OrderedDict[tuple, VideoClip] = OrderedDict()
        self.cache_size = cache_size

    @classmethod
    def from_data_args(cls, processor: Any, data_args: Any) -> SampleEncoder:
        """The encoder a ``VideoDataArguments`` describes (frame budget, template, prompt style, timing)."""
        return cls(
            processor,
            data_args.frame_budget(),
            template=data_args.template,
            prompt_style=data_args.prompt_style,
            timing_in_prompt=data_args.timing_in_prompt,
            system_prompt=data_args.system_prompt,
        )

    def clip(self, record: Record) -> VideoClip | None:
        """The sampled frames of a record's video: the encoder's budget, with the record's own frame count
        (``meta['nframes']``, e.g. tracking) and time window (``meta['video_start'/'video_end']``) applied."""
        if record.video is None:
            return None
        budget = record_budget(record.video, self.budget, record.meta)
        key = (record.video, dataclasses.astuple(budget))  # every setting that changes the frames
        if key not in self._clips:
            self.remember(record, load_video(record.video, budget))
        self._clips.move_to_end(key)
        return self._clips[key]

    def remember(self, record: Record, clip: VideoClip) -> None:
        """Cache ``clip`` as the record's frames (decoded elsewhere: a data-loader worker)."""
        budget = record_budget(record.video, self.budget, record.meta)
        self._clips[(record.video, dataclasses.astuple(budget))] = clip
        if len(self._clips) > self.cache_size:
            self._clips.popitem(last=False)

    def prompt_text(self, record: Record, clip: VideoClip | None) -> str:
        timing = None
        if self.timing_in_prompt and clip is not None:
            timing = TimingInfo(duration=clip.duration, fps=clip.fps, timestamps=tuple(clip.timestamps))
        return render_prompt(record, template=self.template, timing=timing, style=self.prompt_style)

    def conversation(self, record: Record, clip: VideoClip | None) -> list[dict]:
        return build_conversation(record, self.prompt_text(record, clip), system=self.system_prompt)

    def encode(
        self, record: Record, frames: np.ndarray | None = None, clip: VideoClip | None = None
    ) -> tuple[list[int], RowVision]:
        """Prompt ids (unpadded) and vision tensors of one record; ``frames`` replaces the clip's frames
        (shuffled / reversed variants) while prompt text and timing stay those of the ordered clip."""
        clip = clip if clip is not None else self.clip(record)
        conv = self.conversation(record, clip)
        video = None
        if clip is not None:
            video = clip if frames is None else dataclasses.replace(clip, frames=frames)
        image = None
        if record.image is not None:
            image = load_image(
                record.image, min_pixels=self.budget.min_pixels, max_pixels=self.budget.max_pixels
            )
        batch = encode(
            self.processor,
            [conv],
            videos=[video] if video is not None else None,
            images=[image] if image is not None else None,
            add_generation_prompt=True,
        )
        ids = batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist()
        vision = RowVision(
            pixel_values_videos=batch.get("pixel_values_videos"),
            video_grid_thw=batch.get("video_grid_thw"),
            second_per_grid_ts=_as_tensor(batch.get("second_per_grid_ts")),
            pixel_values=batch.get("pixel_values"),
            image_grid_thw=batch.get("image_grid_thw"),
        )
        return ids, vision


def _as_tensor(x: Any) -> torch.Tensor | None:
    if x is None:
        return None
    return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float32)


def row_record(row: dict[str, Any]) -> Record:
    """The record of a trainer dataset row (``image_path`` back to ``image``)."""
    if "image_path" in row:
        row = {**row, "image": row["image_path"]}
    return record_from_row(row)

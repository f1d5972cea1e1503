"""From chat messages and decoded frames to Qwen2.5-VL inputs (training, evaluation, CoT all use this).

Frames arrive already sampled and resized by ``videorft.video`` (qwen-vl-utils' rules), so the
processor is told to neither resample nor resize them. Two inputs that transformers 5.24 needs for
3-D M-RoPE and silently does without are always built here: ``mm_token_type_ids`` (2 on video-pad,
1 on image-pad tokens) and ``second_per_grid_ts`` (seconds per temporal patch = temporal_patch_size
/ the clip's effective fps). Without them the model falls back to 1-D positions and the video has
no time axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from transformers import BatchFeature, SuppressTokensLogitsProcessor

#: Tokens that only the processor may place; sampling one breaks the next forward pass.
VISION_TOKENS: tuple[str, ...] = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
TEXT, IMAGE, VIDEO = 0, 1, 2  # mm_token_type_ids values (transformers' convention)


class ClipLike(Protocol):
    """What ``encode`` reads of a ``videorft.video.VideoClip``."""

    frames: np.ndarray  # (T, H, W, 3) uint8, H and W multiples of patch_size * merge_size
    fps: float  # effective sampling rate of ``frames``


# ----------------------------------------------------------------------------------------------- encode
def part_kind(part: Any) -> str:
    """'text', 'image' or 'video' of a message content part, read as the chat template reads it."""
    if isinstance(part, str):
        return "text"
    if not isinstance(part, dict):
        raise TypeError(f"a content part must be a dict or a string, got {type(part).__name__}")
    kind = part.get("type")
    if kind is None:  # no 'type': fall back to which payload key is set
        kind = next((k for k in ("video", "image", "image_url") if part.get(k) is not None), "text")
    return "image" if kind == "image_url" else str(kind)


def _template_messages(conversation: list[dict], index: int) -> tuple[list[dict], int, int]:
    """Messages with media parts reduced to ``{"type": kind}`` (no paths for the processor to load),
    plus the number of video and image parts."""
    if not isinstance(conversation, list) or not all(isinstance(m, dict) for m in conversation):
        raise TypeError(f"conversations[{index}]: expected a list of message dicts")
    kinds: list[str] = []
    messages = []
    for j, message in enumerate(conversation):
        if "role" not in message or "content" not in message:
            raise ValueError(f"conversations[{index}][{j}]: a message needs 'role' and 'content'")
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content:
            kind = part_kind(part)
            if kind not in ("video", "image", "text"):
                raise ValueError(f"conversations[{index}][{j}]: unknown content part type {kind!r}")
            kinds.append(kind)
            text = part if isinstance(part, str) else part.get("text")
            parts.append(
                {"type": "text", "text": "" if text is None else text} if kind == "text" else {"type": kind}
            )
        messages.append({"role": message["role"], "content": parts})
    return messages, kinds.count("video"), kinds.count("image")


def _check_pixels(array: Any, where: str, sub_processor: Any, video: bool) -> np.ndarray:
    """``array`` if it is uint8 RGB frames (T, H, W, 3) / an image (H, W, 3) sized for ``sub_processor``."""
    factor = int(sub_processor.patch_size) * int(sub_processor.merge_size)
    layout = "(T, H, W, 3) array with T >= 1" if video else "(H, W, 3) array"
    if (
        not isinstance(array, np.ndarray)
        or array.ndim != 3 + video
        or array.shape[-1] != 3
        or not array.shape[0]
    ):
        raise ValueError(f"{where}: expected a {layout}, got shape {getattr(array, 'shape', None)}")
    if array.dtype != np.uint8:
        raise ValueError(f"{where}: expected uint8 pixels, got {array.dtype}")
    h, w = array.shape[-3:-1]
    if h % factor or w % factor:
        loader = "load_video" if video else "load_image"
        raise ValueError(
            f"{where}: {h}x{w} is not a multiple of {factor}; load it with videorft.video.{loader}"
        )
    return array


def _media_list(items: Sequence[Any] | None, n: int, name: str) -> list[Any]:
    if items is None:
        return [None] * n
    if len(items) != n:
        raise ValueError(f"{name}: {len(items)} entries for {n} conversations (use None where there is none)")
    return list(items)


def encode(
    processor: Any,
    conversations: list[list[dict]],
    videos: list[ClipLike | None] | None = None,
    images: list[np.ndarray | None] | None = None,
    *,
    add_generation_prompt: bool = True,
    padding_side: str = "left",
) -> BatchFeature:
    """Batch of Qwen2.5-VL inputs for ``conversations`` (one optional clip and image each).

    Returns ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` and, when present,
    ``pixel_values_videos``, ``video_grid_thw``, ``second_per_grid_ts`` (one per video, in batch
    order), ``pixel_values``, ``image_grid_thw``. Left padding suits generation; use "right" for
    training batches if you prefer. Each conversation holds exactly as many video (image) parts as it
    has clips (images): 0 or 1.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not conversations:
        raise ValueError("conversations is empty")
    n = len(conversations)
    clips = _media_list(videos, n, "videos")
    imgs = _media_list(images, n, "images")
    texts: list[str] = []
    frames_list: list[np.ndarray] = []
    fps_list: list[float] = []
    image_list: list[np.ndarray] = []
    for i, conv in enumerate(conversations):
        messages, n_video, n_image = _template_messages(conv, i)
        if n_video != (clips[i] is not None):
            raise ValueError(
                f"conversations[{i}]: {n_video} video part(s) but videos[{i}] is {_desc(clips[i])}"
            )
        if n_image != (imgs[i] is not None):
            raise ValueError(
                f"conversations[{i}]: {n_image} image part(s) but images[{i}] is {_desc(imgs[i])}"
            )
        if clips[i] is not None:
            frames = getattr(clips[i], "frames", None)
            frames_list.append(_check_pixels(frames, f"videos[{i}].frames", processor.video_processor, True))
            fps = getattr(clips[i], "fps", None)
            if not isinstance(fps, int | float) or not math.isfinite(fps) or fps <= 0:
                raise ValueError(f"videos[{i}].fps: expected a positive effective fps, got {fps!r}")
            fps_list.append(float(fps))
        if imgs[i] is not None:
            image_list.append(_check_pixels(imgs[i], f"images[{i}]", processor.image_processor, False))
        texts.append(
            processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
        )

    kwargs: dict[str, Any] = {}
    if frames_list:
        kwargs["videos"] = frames_list
        # frames were sampled and resized by videorft.video; fps reaches the processor via metadata
        kwargs["video_metadata"] = [
            {"fps": f, "total_num_frames": len(fr)} for f, fr in zip(fps_list, frames_list)
        ]
        kwargs["videos_kwargs"] = {
            "do_sample_frames": False,
            "do_resize": False,
            "cap_pixels_per_frame": False,
        }
    if image_list:
        kwargs["images"] = image_list
        kwargs["images_kwargs"] = {"do_resize": False}
    batch = processor(text=texts, padding=True, padding_side=padding_side, return_tensors="pt", **kwargs)

    if frames_list:
        # Set explicitly: older processors ignore the metadata and assume 24 fps or 1 s per patch.
        tps = int(processor.video_processor.temporal_patch_size)
        batch["second_per_grid_ts"] = torch.tensor([tps / f for f in fps_list], dtype=torch.float32)
    if batch.get("mm_token_type_ids") is None:
        batch["mm_token_type_ids"] = mm_token_type_ids(batch["input_ids"], processor.tokenizer)
    return batch


def _desc(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def mm_token_type_ids(input_ids: torch.Tensor, tokenizer: Any) -> torch.Tensor:
    """Per-token modality: 1 on ``<|image_pad|>``, 2 on ``<|video_pad|>``, 0 elsewhere."""
    image_id, video_id = tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>"])
    return (input_ids == image_id).long() * IMAGE + (input_ids == video_id).long() * VIDEO


# ----------------------------------------------------------------------------------------------- sampling
def vision_token_ids(tokenizer: Any) -> list[int]:
    """Ids of ``VISION_TOKENS`` (accepts a tokenizer or a processor holding one)."""
    tok = getattr(tokenizer, "tokenizer", tokenizer)
    ids = tok.convert_tokens_to_ids(list(VISION_TOKENS))
    unknown = [t for t, i in zip(VISION_TOKENS, ids) if i is None or i == tok.unk_token_id]
    if unknown:
        raise ValueError(f"tokenizer has no {', '.join(unknown)}: not a Qwen2.5-VL tokenizer")
    return list(ids)


#: transformers' own: masks the ids it is given (ids beyond the vocabulary are ignored).
SuppressTokens = SuppressTokensLogitsProcessor


def vision_token_suppressor(tokenizer: Any) -> SuppressTokensLogitsProcessor:
    """A logits processor for ``model.generate(logits_processor=[...])`` that masks vision tokens.

    Equivalent alternative: ``model.generate(..., suppress_tokens=vision_token_ids(tokenizer))``.
    """
    return SuppressTokensLogitsProcessor(vision_token_ids(tokenizer))


# ----------------------------------------------------------------------------------------------- M-RoPE
def _rope_owner(model: Any) -> Any:
    for module in model.modules():  # works through wrappers (PEFT, DDP) too
        if hasattr(module, "get_rope_index"):
            return module
    raise TypeError(f"{type(model).__name__} has no get_rope_index: not a Qwen2-VL-family model")


def rope_position_ids(model: Any, batch: dict[str, Any]) -> torch.Tensor:
    """The (3, B, L) temporal/height/width positions the model's forward will use for ``batch``.

    Mirrors transformers 5.24: 3-D M-RoPE when ``mm_token_type_ids`` and a grid are present,
    otherwise the 1-D fallback (``arange(L)`` on all three axes, padding included).
    """
    input_ids = batch["input_ids"]
    grids = {k: batch.get(k) for k in ("image_grid_thw", "video_grid_thw")}
    if batch.get("mm_token_type_ids") is not None and any(g is not None for g in grids.values()):
        positions, _ = _rope_owner(model).get_rope_index(
            input_ids,
            mm_token_type_ids=batch["mm_token_type_ids"],
            second_per_grid_ts=_as_tensor(batch.get("second_per_grid_ts")),
            attention_mask=batch.get("attention_mask"),
            **grids,
        )
        return positions
    b, length = input_ids.shape
    return torch.arange(length, device=input_ids.device).view(1, 1, -1).expand(3, b, length)


def _as_tensor(value: Any) -> torch.Tensor | None:
    if value is None or isinstance(value, torch.Tensor):
        return value
    return torch.tensor(value, dtype=torch.float32)

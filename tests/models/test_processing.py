"""encode(): chat + decoded frames -> Qwen2.5-VL inputs; the tiny model on a real video; M-RoPE; sampling mask."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from videorft.models.processing import (
    SuppressTokens,
    encode,
    part_kind,
    rope_position_ids,
    vision_token_ids,
    vision_token_suppressor,
)

from .conftest import text_conversation, video_conversation

VIDEO_PAD, IMAGE_PAD, PAD = 151656, 151655, 151643
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def qwen_patches(frames: np.ndarray, patch: int = 14, tps: int = 2, merge: int = 2) -> np.ndarray:
    """Qwen2-VL's flattened patch layout, written out independently: rows ordered (t, h-block, w-block,
    h-in-block, w-in-block), each row (channel, frame-in-patch, y, x)."""
    x = (frames.astype(np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD  # (T, H, W, C)
    t, h, w, c = x.shape
    gt, gh, gw = t // tps, h // patch, w // patch
    x = x.reshape(gt, tps, gh // merge, merge, patch, gw // merge, merge, patch, c)
    # axes: 0 gt, 1 tps, 2 hb, 3 hm, 4 py, 5 wb, 6 wm, 7 px, 8 c
    x = x.transpose(0, 2, 5, 3, 6, 8, 1, 4, 7)
    return x.reshape(gt * gh * gw, c * tps * patch * patch)


# ----------------------------------------------------------------------------------------------- encode
def test_video_and_text_rows(tiny_processor, clip) -> None:
    batch = encode(tiny_processor, [video_conversation(), text_conversation()], videos=[clip, None])
    t, h, w = clip.frames.shape[:3]
    assert (t, h, w) == (8, 56, 56)
    assert batch["video_grid_thw"].tolist() == [[t // 2, h // 14, w // 14]]
    n_video_tokens = (t // 2) * (h // 14) * (w // 14) // 4
    ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["mm_token_type_ids"]
    assert (ids[0] == VIDEO_PAD).sum().item() == n_video_tokens == 16
    assert (ids[1] == VIDEO_PAD).sum().item() == 0
    assert torch.equal(types, (ids == VIDEO_PAD).long() * 2)
    # the effective fps of the sampled clip reaches the model: 2 frames per temporal patch
    assert clip.fps == pytest.approx(4.0)
    assert batch["second_per_grid_ts"].tolist() == pytest.approx([2 / clip.fps])
    # left padding: the shorter text row starts with pads that are masked out
    n_pad = int((mask[1] == 0).sum())
    assert n_pad > 0 and mask[1, :n_pad].sum() == 0 and (ids[1, :n_pad] == PAD).all()
    assert mask[0].all()
    prompt = tiny_processor.tokenizer.decode(ids[0])
    assert prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|video_pad|>" * 16
        + "<|vision_end|>Where does the square go?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_right_padding_and_no_generation_prompt(tiny_processor, clip) -> None:
    batch = encode(
        tiny_processor,
        [video_conversation(), text_conversation()],
        videos=[clip, None],
        add_generation_prompt=False,
        padding_side="right",
    )
    mask = batch["attention_mask"][1]
    n_real = int(mask.sum())
    assert mask[:n_real].all() and not mask[n_real:].any()
    assert tiny_processor.tokenizer.decode(batch["input_ids"][1, :n_real]).endswith(
        "Say something.<|im_end|>\n"
    )


def test_frames_reach_the_model_unresized(tiny_processor, clip) -> None:
    batch = encode(tiny_processor, [video_conversation()], videos=[clip])
    expected = qwen_patches(clip.frames)
    assert batch["pixel_values_videos"].shape == expected.shape == (64, 1176)
    np.testing.assert_allclose(batch["pixel_values_videos"].numpy(), expected, atol=1e-5)


def test_image_row(tiny_processor) -> None:
    image = np.random.default_rng(0).integers(0, 256, (56, 84, 3), dtype=np.uint8)
    conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
    batch = encode(tiny_processor, [conv, text_conversation()], images=[image, None])
    assert batch["image_grid_thw"].tolist() == [[1, 4, 6]]
    assert (batch["input_ids"] == IMAGE_PAD).sum().item() == 6
    assert torch.equal(batch["mm_token_type_ids"], (batch["input_ids"] == IMAGE_PAD).long())
    # a still image is repeated over one temporal patch, exactly as Qwen2-VL does
    np.testing.assert_allclose(
        batch["pixel_values"].numpy(), qwen_patches(np.stack([image, image])), atol=1e-5
    )
    assert "pixel_values_videos" not in batch and "second_per_grid_ts" not in batch


def test_datasets_style_rows_encode_like_clean_ones(tiny_processor, clip) -> None:
    filled = [
        {
            "role": "user",
            "content": [
                {"type": "video", "video": "square.mp4", "image": None, "text": None},
                {"type": "text", "text": "Where does the square go?", "video": None, "image": None},
            ],
        }
    ]
    a = encode(tiny_processor, [filled], videos=[clip])
    b = encode(tiny_processor, [video_conversation()], videos=[clip])
    assert torch.equal(a["input_ids"], b["input_ids"])


def test_part_kind() -> None:
    assert part_kind({"type": "text", "text": "x", "video": None}) == "text"
    assert part_kind({"video": "a.mp4"}) == "video"
    assert part_kind({"image_url": "http://x"}) == "image"
    assert part_kind({"type": "image_url", "image_url": "x"}) == "image"
    assert part_kind("plain") == "text"


def _bad(clip, **changes):
    return dataclasses.replace(clip, **changes)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda c: ([video_conversation()], None, None),
            r"conversations\[0\]: 1 video part\(s\) but videos\[0\] is None",
        ),
        (
            lambda c: ([text_conversation()], [c], None),
            r"conversations\[0\]: 0 video part\(s\) but videos\[0\] is a",
        ),
        (lambda c: ([video_conversation()], [c, None], None), r"videos: 2 entries for 1 conversations"),
        (
            lambda c: ([video_conversation()], [_bad(c, frames=np.zeros((8, 50, 56, 3), np.uint8))], None),
            r"videos\[0\]\.frames: 50x56 is not a multiple of 28",
        ),
        (
            lambda c: ([video_conversation()], [_bad(c, frames=c.frames.astype(np.float32))], None),
            r"videos\[0\]\.frames: expected uint8",
        ),
        (
            lambda c: ([video_conversation()], [_bad(c, frames=np.zeros((0, 56, 56, 3), np.uint8))], None),
            r"videos\[0\]\.frames: expected a \(T, H, W, 3\) array",
        ),
        (
            lambda c: ([video_conversation()], [_bad(c, fps=0.0)], None),
            r"videos\[0\]\.fps: expected a positive",
        ),
        (
            lambda c: (
                [[{"role": "user", "content": [{"type": "image"}]}]],
                None,
                [np.zeros((30, 56, 3), np.uint8)],
            ),
            r"images\[0\]: 30x56 is not a multiple of 28",
        ),
        (
            lambda c: ([[{"role": "user", "content": [{"type": "audio"}]}]], None, None),
            r"conversations\[0\]\[0\]: unknown content part type 'audio'",
        ),
        (lambda c: ([[{"content": "hi"}]], None, None), r"conversations\[0\]\[0\]: a message needs 'role'"),
    ],
)
def test_bad_inputs_name_the_item(tiny_processor, clip, make, match) -> None:
    conversations, videos, images = make(clip)
    with pytest.raises(ValueError, match=match):
        encode(tiny_processor, conversations, videos=videos, images=images)


# ----------------------------------------------------------------------------------------------- the tiny model
def test_forward_and_backward_on_a_decoded_video(tiny_model_dir, tiny_processor, clip) -> None:
    from videorft.models.loading import load_model

    model = load_model(tiny_model_dir, dtype="float32").train()
    batch = encode(tiny_processor, [video_conversation(), text_conversation()], videos=[clip, None])
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    out = model(**batch, labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, model.config.text_config.vocab_size)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    # the video reached the loss: the vision tower has a gradient
    vision_grad = sum(p.grad.abs().sum() for p in model.model.visual.parameters() if p.grad is not None)
    assert vision_grad > 0


class _PreferVisionTokens(LogitsProcessor):
    """Pushes vision tokens to the top, as an untrained or drifting policy may."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.ids] += 1000.0
        return scores


def _generate(model, batch, processors, **kwargs) -> torch.Tensor:
    torch.manual_seed(0)
    out = model.generate(
        **batch,
        max_new_tokens=4,
        do_sample=True,
        temperature=1.0,
        logits_processor=LogitsProcessorList(processors),
        **kwargs,
    )
    return out[:, batch["input_ids"].shape[1] :]


def test_generate_with_vision_tokens_masked(tiny_model, tiny_processor, clip) -> None:
    ids = vision_token_ids(tiny_processor)
    assert ids == [151652, 151653, 151654, 151655, 151656]
    batch = encode(tiny_processor, [video_conversation(), text_conversation()], videos=[clip, None])
    # control: without the mask, the biased sampler emits vision tokens
    unmasked = _generate(tiny_model, batch, [_PreferVisionTokens(ids)])
    assert torch.isin(unmasked, torch.tensor(ids)).all()
    masked = _generate(tiny_model, batch, [_PreferVisionTokens(ids), vision_token_suppressor(tiny_processor)])
    assert masked.shape == (2, 4) and not torch.isin(masked, torch.tensor(ids)).any()
    # the equivalent built-in route
    via_kwarg = _generate(tiny_model, batch, [_PreferVisionTokens(ids)], suppress_tokens=ids)
    assert not torch.isin(via_kwarg, torch.tensor(ids)).any()


def test_sampled_video_pad_breaks_the_next_forward(tiny_model, tiny_processor, clip) -> None:
    """Why the mask exists: a completion holding <|video_pad|> cannot be scored with the video."""
    batch = encode(tiny_processor, [video_conversation()], videos=[clip])
    extra = torch.tensor([[VIDEO_PAD]])
    batch["input_ids"] = torch.cat([batch["input_ids"], extra], dim=1)
    batch["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones_like(extra)], dim=1)
    batch["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.full_like(extra, 2)], dim=1)
    with pytest.raises(ValueError, match="Video features and video tokens do not match"):
        tiny_model(**batch)


def test_suppress_tokens_processor_ignores_out_of_range_ids() -> None:
    scores = torch.zeros(2, 10)
    out = SuppressTokens([3, 7, 50])(torch.zeros(2, 1, dtype=torch.long), scores)
    assert torch.isinf(out[:, [3, 7]]).all() and torch.isfinite(out[:, [0, 1, 2, 4, 5, 6, 8, 9]]).all()


# ----------------------------------------------------------------------------------------------- M-RoPE
def _video_span(ids: torch.Tensor) -> torch.Tensor:
    return (ids == VIDEO_PAD).nonzero().flatten()


def test_temporal_positions_follow_absolute_time(tiny_model, tiny_processor, clip) -> None:
    slow = dataclasses.replace(clip, fps=1.0)  # same frames, presented as 1 frame per second
    batch = encode(tiny_processor, [video_conversation(), video_conversation()], videos=[clip, slow])
    pos = rope_position_ids(tiny_model, batch)
    assert pos.shape == (3, *batch["input_ids"].shape)
    tokens_per_second = tiny_model.config.vision_config.tokens_per_second
    grid_t, grid_h, grid_w = batch["video_grid_thw"][0].tolist()
    per_patch = (grid_h // 2) * (grid_w // 2)
    for row, fps in ((0, clip.fps), (1, 1.0)):
        span = _video_span(batch["input_ids"][row])
        temporal = pos[0, row, span].view(grid_t, per_patch)
        start = pos[0, row, span[0] - 1] + 1  # right after <|vision_start|>
        # each temporal patch (2 frames) is 2/fps seconds; Qwen2.5-VL maps seconds to tokens_per_second ids
        expected = [start + int(k * tokens_per_second * 2 / fps) for k in range(grid_t)]
        assert temporal[:, 0].tolist() == expected
        assert (temporal == temporal[:, :1]).all()  # constant within a temporal patch
        assert temporal[1:, 0].gt(temporal[:-1, 0]).all()  # and it advances across patches
        # height/width ids walk the merged grid
        h_ids = pos[1, row, span].view(grid_t, grid_h // 2, grid_w // 2)
        assert (h_ids[:, 1, :] - h_ids[:, 0, :]).eq(1).all()
    # the 4x slower clip spreads the same 4 patches over 4x the temporal ids
    assert (
        pos[0, 1, _video_span(batch["input_ids"][1])].max()
        - pos[0, 1, _video_span(batch["input_ids"][1])].min()
    ) == 4 * (
        pos[0, 0, _video_span(batch["input_ids"][0])].max()
        - pos[0, 0, _video_span(batch["input_ids"][0])].min()
    )


def test_without_mm_token_type_ids_positions_are_1d(tiny_model, tiny_processor, clip) -> None:
    batch = encode(tiny_processor, [video_conversation()], videos=[clip])
    stripped = {k: v for k, v in batch.items() if k != "mm_token_type_ids"}
    pos = rope_position_ids(tiny_model, stripped)
    length = batch["input_ids"].shape[1]
    assert torch.equal(pos, torch.arange(length).view(1, 1, -1).expand(3, 1, length))
    assert not torch.equal(rope_position_ids(tiny_model, batch), pos)


def test_forward_uses_these_positions(tiny_model, tiny_processor, clip) -> None:
    batch = encode(tiny_processor, [video_conversation(), text_conversation()], videos=[clip, None])
    with torch.no_grad():
        default = tiny_model(**batch).logits
        explicit = tiny_model(**batch, position_ids=rope_position_ids(tiny_model, batch)).logits
        stripped = {k: v for k, v in batch.items() if k != "mm_token_type_ids"}
        one_d = tiny_model(**stripped).logits
    torch.testing.assert_close(default, explicit)
    # without mm_token_type_ids the model silently runs with 1-D positions: different outputs
    assert not torch.allclose(default[0], one_d[0], atol=1e-4)


@pytest.mark.slow
def test_report_tiny_forward_backward_time(tiny_model_dir, tiny_processor, clip) -> None:
    """Measured, not asserted: batch of 8 samples x 8 frames of 56x56 (run with -s to see it)."""
    import time

    from videorft.models.loading import load_model

    model = load_model(tiny_model_dir, dtype="float32").train()
    batch = encode(tiny_processor, [video_conversation()] * 8, videos=[clip] * 8)
    labels = batch["input_ids"].clone()
    times, cpu = [], []
    for _ in range(6):
        start, start_cpu = time.perf_counter(), time.process_time()
        model(**batch, labels=labels).loss.backward()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        model.zero_grad(set_to_none=True)
    median, median_cpu = (sorted(x[1:])[len(x[1:]) // 2] for x in (times, cpu))
    print(
        f"\ntiny forward+backward, batch 8 x {batch['input_ids'].shape[1]} tokens (8 frames 56x56): "
        f"median {median * 1000:.0f} ms wall, {median_cpu * 1000:.0f} ms CPU over {len(times) - 1} runs, "
        f"threads={torch.get_num_threads()}"
    )
    assert all(t > 0 for t in times)

"""Vision-feature sharing (videorft.training.vision_cache): the permutation property of Qwen2.5-VL's vision
tower, exact reuse, unchanged gradients, and unchanged trainer outputs with sharing on vs off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videorft.inputs import permute_frames
from videorft.models.loading import load_model, load_processor
from videorft.models.processing import encode
from videorft.rewards.trl import TaskRewardFunction, completion_text
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.grpo_trainer import VideoGRPOTrainer
from videorft.training.run import build_dataset
from videorft.training.vision_cache import SharingStats, plan_sharing, share_vision_features
from videorft.video import VideoClip

G, S = 4, 2
CONV = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]}]


def _clip(frames: np.ndarray) -> VideoClip:
    t = frames.shape[0]
    return VideoClip(
        frames=frames,
        timestamps=[i * 0.5 for i in range(t)],
        fps=2.0,
        indices=list(range(t)),
        duration=t * 0.5,
        source_fps=2.0,
        path="synthetic",
    )


def _encode(processor, videos: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    batch = encode(processor, [CONV] * len(videos), videos=[_clip(v) for v in videos])
    return batch["pixel_values_videos"], batch["video_grid_thw"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    model = load_model(str(tiny_model_dir))
    model.eval()
    return model, load_processor(str(tiny_model_dir))


def _frames(seed: int, t: int = 8, h: int = 112, w: int = 84) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def _assert_grads_close(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor], rtol: float) -> None:
    """Equal up to summation order: norm of the difference relative to the gradient's norm, per parameter."""
    assert got.keys() == want.keys()
    for name, g in want.items():
        err = ((got[name] - g).norm() / g.norm()).item()
        assert err <= rtol, f"{name}: relative error {err}"
    assert all(g.abs().sum() > 0 for g in got.values())


def _features(model, pixels, grid) -> list[torch.Tensor]:
    return list(model.model.get_video_features(pixels, grid, return_dict=True).pooler_output)


def test_temporal_patch_permutation_permutes_features_exactly(tiny) -> None:
    model, processor = tiny
    frames = _frames(0)
    rng = np.random.default_rng(1)
    shuffled = permute_frames(frames, rng, unit=2)
    order = [int(np.flatnonzero((frames == shuffled[2 * k]).all(axis=(1, 2, 3)))[0]) // 2 for k in range(4)]
    assert order != [0, 1, 2, 3]
    with torch.no_grad():
        (ordered,) = _features(model, *_encode(processor, [frames]))
        (permuted,) = _features(model, *_encode(processor, [shuffled]))
        (frame_shuffled,) = _features(
            model, *_encode(processor, [frames[[1, 0, 3, 2, 5, 4, 7, 6]]])
        )  # splits every temporal patch
    block = ordered.size(0) // 4  # merged tokens per temporal patch: (112/14)*(84/14)/4 = 12
    assert block == 12
    expected = ordered.view(4, block, -1)[order].reshape_as(ordered)
    torch.testing.assert_close(permuted, expected, rtol=1e-5, atol=1e-6)
    # control: shuffling frames inside a temporal patch changes the tokens themselves
    assert not torch.allclose(frame_shuffled.view(4, block, -1), ordered.view(4, block, -1), atol=1e-3)


def test_plan_finds_duplicates_and_patch_permutations_only(tiny) -> None:
    _, processor = tiny
    a, b = _frames(0), _frames(1)
    a_perm = a[[4, 5, 0, 1, 6, 7, 2, 3]]  # temporal patches (2, 0, 3, 1)
    a_frame = a[[1, 0, 2, 3, 4, 5, 6, 7]]  # same frames, one patch split: not a reuse
    small = _frames(0, h=56, w=56)
    pixels, grid = _encode(processor, [a, a, a_perm, b, a_frame, small, b])
    plan = plan_sharing(pixels, grid)
    assert plan.unique == (0, 3, 4, 5)
    assert plan.source == (0, 0, 0, 1, 2, 3, 1)
    assert plan.order == (None, None, (2, 0, 3, 1), None, None, None, None)


def test_plan_on_a_static_video_reuses_identical_patches() -> None:
    block = torch.rand(6, 10)
    pixels = torch.cat([block, block, block, block])  # two videos of two identical temporal patches
    grid = torch.tensor([[2, 3, 2], [2, 3, 2]])
    plan = plan_sharing(pixels, grid)
    assert plan.unique == (0,) and plan.source == (0, 0) and plan.order == (None, None)


def test_shared_forward_equals_unshared_and_counts(tiny) -> None:
    model, processor = tiny
    a, b = _frames(2), _frames(3)
    videos = [a] * G + [b] * G + [permute_frames(a, np.random.default_rng(0))] * S
    pixels, grid = _encode(processor, videos)
    with torch.no_grad():
        plain = _features(model, pixels, grid)
        with share_vision_features(model) as stats:
            shared = _features(model, pixels, grid)
    assert len(shared) == len(plain) == len(videos)
    for x, y in zip(plain, shared):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
    assert (stats.inputs, stats.computed, stats.duplicates, stats.permuted) == (2 * G + S, 2, 2 * G - 2, S)
    # the patch is gone after the block
    assert "get_video_features" not in model.model.__dict__


def test_gradients_equal_the_unshared_computation(tiny_model_dir, tiny) -> None:
    _, processor = tiny
    a = _frames(4)
    videos = [a, a, permute_frames(a, np.random.default_rng(2)), _frames(5)]
    pixels, grid = _encode(processor, videos)
    weights = [torch.randn(12 * 4, 128, generator=torch.Generator().manual_seed(i)) for i in range(4)]

    def grads(share: bool) -> dict[str, torch.Tensor]:
        model = load_model(str(tiny_model_dir))
        with share_vision_features(model) if share else torch.enable_grad():
            feats = _features(model, pixels, grid)
        loss = sum((f * w).sum() for f, w in zip(feats, weights))
        loss.backward()
        return {n: p.grad.clone() for n, p in model.model.visual.named_parameters()}

    _assert_grads_close(grads(True), grads(False), rtol=1e-5)


def test_unsupported_kwargs_fall_back_to_the_original(tiny) -> None:
    model, processor = tiny
    pixels, grid = _encode(processor, [_frames(0)] * 2)
    stats = SharingStats()
    with torch.no_grad(), share_vision_features(model, stats):
        out = model.model.get_video_features(pixels, grid, return_dict=True, output_hidden_states=True)
    assert stats.unshared_calls == 1 and stats.computed == 0
    assert len(out.pooler_output) == 2


# ----------------------------------------------------------------------------------------------- trainer
def length_reward(prompts, completions, **_):
    return [float(len(completion_text(c))) for c in completions]


def _trainer(model_dir: Path, suite: Path, out: Path, share: bool) -> VideoGRPOTrainer:
    data_args = VideoDataArguments(
        data=str(suite), tasks=["multiple_choice"], nframes=8, min_pixels=56 * 56, max_pixels=56 * 56
    )
    args = VideoGRPOConfig(
        output_dir=str(out),
        use_cpu=True,
        per_device_train_batch_size=2 * G,
        num_generations=G,
        shuffled_generations=S,
        temporal=True,
        share_vision_features=share,
        max_completion_length=5,
        max_steps=1,
        beta=0.04,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        shuffle_dataset=False,
        seed=0,
    )
    dataset, _ = build_dataset(data_args)
    task_reward = TaskRewardFunction(use_format=True, judge="offline")
    trainer = VideoGRPOTrainer(
        # float64: the group's advantages sum to zero, so the vision gradient is a small difference of
        # near-equal per-row terms and float32 rounding alone would reach ~0.3% of it.
        model=load_model(str(model_dir)).to(torch.float64),
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(model_dir)),
        reward_funcs=[task_reward, length_reward],  # length: non-zero advantages, so the loss has a gradient
    )
    return trainer


def _rollout_and_loss(trainer: VideoGRPOTrainer) -> dict:
    """Generation (ordered + shuffled), then the loss and its gradient, counting videos the tower encodes."""
    encoded: list[int] = []
    hook = trainer.model.model.visual.register_forward_hook(
        lambda mod, args, kwargs, out: encoded.append(int(kwargs["grid_thw"].size(0))), with_kwargs=True
    )
    trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions(batch)
    generated = list(encoded)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop otherwise
    loss = trainer.compute_loss(trainer.model, out)
    loss.backward()
    hook.remove()
    return {
        "completions": out["completion_ids"].tolist(),
        "shuffled": trainer._batch.shuffled_completion_ids,
        "old_logps": out.get("old_per_token_logps"),
        "ref_logps": out["ref_per_token_logps"],
        "loss": loss.detach(),
        "vision_grad": {n: p.grad.clone() for n, p in trainer.model.model.visual.named_parameters()},
        "generate_encoded": generated,
        "loss_encoded": encoded[len(generated) :],
    }


def test_trainer_outputs_identical_with_sharing_on_and_off(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    off = _rollout_and_loss(_trainer(tiny_model_dir, synth_suite_dir, tmp_path / "off", share=False))
    on = _rollout_and_loss(_trainer(tiny_model_dir, synth_suite_dir, tmp_path / "on", share=True))
    assert on["completions"] == off["completions"]
    assert on["shuffled"] == off["shuffled"]
    torch.testing.assert_close(on["ref_logps"], off["ref_logps"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(on["loss"], off["loss"], rtol=1e-5, atol=1e-6)
    _assert_grads_close(on["vision_grad"], off["vision_grad"], rtol=1e-6)
    # 2 groups: without sharing the tower encodes 2*G ordered + 2*S shuffled videos in generation
    assert off["generate_encoded"][0] == 2 * G + 2 * S
    assert on["generate_encoded"][0] == 2  # one per distinct video; shuffled copies reuse it permuted
    assert sum(off["loss_encoded"]) > sum(on["loss_encoded"]) > 0

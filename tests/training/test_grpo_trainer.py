"""VideoGRPOTrainer on the tiny model and the synthetic suite: video reaches every forward, advantages are per
group, T-GRPO's bonus is the pure function's, M-RoPE gets its inputs."""

from __future__ import annotations

import dataclasses
import re
import types
from pathlib import Path

import pytest
import torch

from videorft.inputs import RowVision
from videorft.models.loading import load_model, load_processor
from videorft.models.processing import rope_position_ids
from videorft.rewards.trl import TaskRewardFunction, completion_text
from videorft.training.algos import group_advantages, length_bonus, temporal_bonus
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.cpu_trainer import CPUGRPOTrainer, CPUOptions
from videorft.training.grpo_trainer import VideoGRPOTrainer
from videorft.training.run import build_dataset

G = 4


def length_reward(prompts, completions, **_):
    """Varies across a group (random weights give all-zero task rewards), so advantages are non-zero."""
    return [float(len(completion_text(c))) for c in completions]


def make_trainer(
    model_dir: Path, suite: Path, out: Path, tasks=("multiple_choice",), data=None, **overrides
) -> VideoGRPOTrainer:
    # reward_funcs given here are callables for the trainer, not the config's "file.py:fn" paths
    data_fields = {f.name for f in dataclasses.fields(VideoDataArguments)} - {"reward_funcs"}
    data_args = VideoDataArguments(
        data=str(suite),
        tasks=list(tasks),
        nframes=4,
        min_pixels=56 * 56,
        max_pixels=56 * 56,
        skip_invalid=False,
        **(data or {}),
        **{k: overrides.pop(k) for k in list(overrides) if k in data_fields},
    )
    kw = dict(
        output_dir=str(out),
        use_cpu=True,
        per_device_train_batch_size=2 * G,
        num_generations=G,
        max_completion_length=6,
        max_steps=1,
        learning_rate=1e-2,
        beta=0.04,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    kw.update(overrides)
    reward_funcs = kw.pop("reward_funcs", None)
    # cpu_options=CPUOptions(...): the CPU trainer (the demo's), else the default one
    cpu = {"cpu_options": kw.pop("cpu_options")} if "cpu_options" in kw else {}
    dataset, _ = build_dataset(data_args)
    return (CPUGRPOTrainer if cpu else VideoGRPOTrainer)(
        model=load_model(str(model_dir)),
        args=VideoGRPOConfig(**kw),
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(model_dir)),
        reward_funcs=reward_funcs,
        **cpu,
    )


def first_batch(trainer: VideoGRPOTrainer) -> list[dict]:
    return next(iter(trainer.get_train_dataloader()))


def test_each_prompt_is_rendered_once_and_is_the_one_the_model_got(
    tiny_model_dir, synth_suite_dir, tmp_path
) -> None:
    seen: dict[str, list] = {}

    def capture_prompts(prompts, completions, **_):
        seen["prompts"] = prompts
        return [0.0] * len(completions)

    trainer = make_trainer(
        tiny_model_dir, synth_suite_dir, tmp_path, reward_funcs=[capture_prompts], timing_in_prompt=True
    )
    assert "prompt" not in trainer.train_dataset.column_names  # nothing rendered ahead of the clip
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    processor = trainer.processing_class
    for prompt, ids, mask in zip(seen["prompts"], out["prompt_ids"], out["prompt_mask"], strict=True):
        text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        assert "frame timestamps" in text  # the timing line, which needs the sampled clip
        given = processor.tokenizer.decode(ids[mask.bool()])
        assert re.sub(r"(<\|video_pad\|>)+", "<|video_pad|>", given) == text


def test_vision_tower_gets_gradient_and_weights_move(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path, reward_funcs=[length_reward])
    visual = trainer.model.model.visual
    before = {n: p.detach().clone() for n, p in visual.named_parameters()}
    trainer.train()
    moved = [n for n, p in visual.named_parameters() if not torch.equal(p.detach(), before[n])]
    # Adam moves a parameter iff its gradient was non-zero: with TRL 1.16 alone nothing in the vision tower moves.
    assert len(moved) == len(before), f"vision parameters without gradient: {set(before) - set(moved)}"


def test_log_probs_depend_on_the_video(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path, reward_funcs=[length_reward])
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    c = out["completion_ids"].size(1)
    rows = out["row_vision"]
    with torch.no_grad():
        trainer._forward_vision = rows
        real, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, c)
        trainer._forward_vision = [
            RowVision(
                pixel_values_videos=torch.zeros_like(r.pixel_values_videos),
                video_grid_thw=r.video_grid_thw,
                second_per_grid_ts=r.second_per_grid_ts,
            )
            for r in rows
        ]
        blank, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, c)
    assert not torch.allclose(real, blank)


def test_forward_gets_mrope_inputs_and_3d_positions(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path, reward_funcs=[length_reward])
    seen: list[dict] = []

    def capture(module, args, kwargs):
        if "input_ids" in kwargs and kwargs.get("pixel_values_videos") is not None:
            seen.append({k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)})

    handle = trainer.model.register_forward_pre_hook(capture, with_kwargs=True)
    trainer.train()
    handle.remove()
    assert seen, "no forward pass received the video"
    for batch in seen:
        video_tokens = int(batch["video_grid_thw"].prod(dim=-1).sum()) // 4  # 2x2 spatial merge
        assert int((batch["mm_token_type_ids"] == 2).sum()) == video_tokens
        assert batch["second_per_grid_ts"].numel() == batch["video_grid_thw"].size(0)
    # temporal positions of the video tokens advance across temporal patches (1-D fallback would not)
    pos = rope_position_ids(trainer.model, seen[-1])  # (3, B, L)
    video = seen[-1]["mm_token_type_ids"][0] == 2
    t, h = pos[0, 0][video], pos[1, 0][video]
    assert t.unique().numel() == 2  # 4 frames = 2 temporal patches
    assert not torch.equal(t, h)


def test_mixed_task_batch_advantages_are_per_prompt_group(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    known = [0.0, 1.0, 2.0, 3.0, 10.0, 10.0, 10.0, 14.0]

    def known_reward(prompts, completions, **_):
        return list(known)

    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        tasks=("multiple_choice", "temporal_grounding"),
        reward_funcs=[known_reward],
        shuffle_dataset=False,
    )
    trainer.model.train()
    batch = first_batch(trainer)
    assert [r["id"] for r in batch[:G]] == [batch[0]["id"]] * G  # groups are contiguous
    out = trainer._generate_and_score_completions(batch)
    expected = group_advantages(torch.tensor(known), G)
    assert torch.allclose(out["advantages"], expected, atol=1e-5)
    # a batch-wide normalisation (the anchors' behaviour with batch size > 1) would differ
    flat = torch.tensor(known)
    assert not torch.allclose(out["advantages"], (flat - flat.mean()) / (flat.std() + 1e-4))


def test_tgrpo_bonus_column_equals_pure_function(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        temporal=True,
        shuffled_generations=2,
        shuffle_dataset=False,
    )
    ordered = [1.0, 0.0, 1.0, 0.05, 0.0, 1.0, 0.0, 0.0]
    shuffled = {0: [0.0, 1.0], G: [1.0, 1.0]}  # by the local row that owns each group

    class KnownAccuracy(TaskRewardFunction):
        def __call__(self, prompts, completions, **kw):
            super().__call__(prompts, completions, **kw)
            self.last_accuracy = list(ordered)
            return [0.0] * len(completions)

    trainer.task_reward.__class__ = KnownAccuracy
    trainer._score_shuffled = lambda: shuffled  # type: ignore[method-assign]
    trainer.model.train()
    captured = {}
    original = trainer._calculate_rewards

    def spy(*a, **k):
        captured["rewards"] = original(*a, **k)
        return captured["rewards"]

    trainer._calculate_rewards = spy  # type: ignore[method-assign]
    trainer._generate_and_score_completions(first_batch(trainer))
    col = trainer.reward_func_names.index("temporal_bonus")
    bonus = captured["rewards"][:, col].tolist()
    assert bonus == pytest.approx(
        temporal_bonus(torch.tensor(ordered), torch.tensor([shuffled[0], shuffled[G]])).tolist()
    )
    assert bonus == pytest.approx([0.3, 0, 0.3, 0, 0, 0, 0, 0])
    # the shuffled prompts really were generated, S per group, from permuted frames
    batch = trainer._batch
    assert len(batch.shuffled_completion_ids) == 2 * 2 and batch.shuffled.owners == [0, 0, G, G]
    ordered_pixels = batch.ordered.vision[0].pixel_values_videos
    shuffled_pixels = batch.shuffled.vision[0].pixel_values_videos
    assert ordered_pixels.shape == shuffled_pixels.shape and not torch.equal(ordered_pixels, shuffled_pixels)
    assert trainer._metrics["train"]["tgrpo/p"] and trainer._metrics["train"]["tgrpo/p_shuffled"]


def test_len_control_fills_the_length_bonus_column_per_group(
    tiny_model_dir, synth_suite_dir, tmp_path
) -> None:
    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path, len_control=True)
    col = trainer.reward_func_names.index("length_bonus")
    trainer.task_reward.last_accuracy = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    lengths = [400, 100, 400, 512, 400, 400, 400, 400]
    rewards = torch.zeros(2 * G, len(trainer.reward_func_names))
    trainer._fill_length_bonus(rewards, [[7] * n for n in lengths])
    # group 1: three correct, two of them 320-512 tokens long; group 2: one correct -> no bonus
    assert rewards[:, col].tolist() == pytest.approx([0.2, 0, 0, 0.2, 0, 0, 0, 0])
    assert rewards[:, col].tolist() == pytest.approx(
        length_bonus(torch.tensor(trainer.task_reward.last_accuracy), torch.tensor(lengths), G).tolist()
    )
    # wired into a real step: the column is computed and logged like the temporal bonus
    trainer.model.train()
    trainer._generate_and_score_completions(first_batch(trainer))
    assert trainer._metrics["train"]["rewards/length_bonus/mean"] == [0.0]  # 6-token completions


def test_reward_function_by_path_joins_the_task_reward(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    (tmp_path / "my_rewards.py").write_text(
        "def brevity(prompts, completions, completion_ids, **columns):\n"
        "    return [1.0 / (1 + len(ids)) for ids in completion_ids]\n"
    )
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        data={"reward_funcs": [f"{tmp_path}/my_rewards.py:brevity"]},
    )
    assert trainer.reward_func_names == ["task_reward", "brevity"]
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    lengths = out["completion_mask"].sum(dim=1).tolist()
    logged = trainer._metrics["train"]["rewards/brevity/mean"]
    assert logged == [pytest.approx(sum(1.0 / (1 + n) for n in lengths) / len(lengths))]


def test_unsupported_setups_fail_before_anything_loads(tmp_path) -> None:
    data_args = VideoDataArguments(data="unused")
    # TRL's vLLM server receives images only: server mode is refused for video, naming colocate
    with pytest.raises(ValueError, match="vllm_mode='server' is not supported for video.*colocate"):
        VideoGRPOTrainer(
            model=None,
            args=VideoGRPOConfig(
                output_dir=str(tmp_path), use_cpu=True, use_vllm=True, vllm_mode="server", report_to="none"
            ),
            data_args=data_args,
            train_dataset=None,
            processing_class=None,
        )
    with pytest.raises(ValueError, match="TaskRewardFunction"):
        VideoGRPOTrainer(
            model=None,
            args=VideoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, temporal=True, report_to="none"),
            data_args=data_args,
            train_dataset=None,
            processing_class=None,
            reward_funcs=[length_reward],
        )


@pytest.mark.parametrize("entropy_kw", [{"use_adaptive_entropy": True}, {"entropy_coef": 0.01}, {}])
def test_entropy_carries_gradient_iff_an_entropy_bonus_is_on(
    tiny_model_dir, synth_suite_dir, tmp_path, entropy_kw
) -> None:
    """TRL's adaptive entropy bonus starts at entropy_coef 0.0: the bonus must still get a gradient (the CPU
    trainer's own log-softmax; the default trainer's fused head is TRL's)."""
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        reward_funcs=[length_reward],
        cpu_options=CPUOptions(),
        **entropy_kw,
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    trainer._forward_vision = out["row_vision"]
    _, entropy, _ = trainer._get_per_token_logps_and_entropies(
        trainer.model, ids, mask, out["completion_ids"].size(1), compute_entropy=True
    )
    assert entropy.requires_grad == bool(entropy_kw)


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_embeddings_keeps_the_vocabulary_rows_fixed(
    tiny_model_dir, synth_suite_dir, tmp_path, freeze
) -> None:
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        reward_funcs=[length_reward],
        cpu_options=CPUOptions(freeze_embeddings=freeze),
    )
    model = trainer.model
    embed = model.get_input_embeddings().weight
    before = embed.detach().clone()
    layer = model.model.language_model.layers[0].mlp.down_proj.weight
    layer_before = layer.detach().clone()
    trainer.train()
    assert torch.equal(embed.detach(), before) == freeze  # tied: the output head is this matrix too
    assert not torch.equal(layer.detach(), layer_before)  # the rest of the model still learns


def test_sampler_logprobs_renormalise_over_what_min_p_can_draw(
    tiny_model_dir, synth_suite_dir, tmp_path
) -> None:
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        reward_funcs=[length_reward],
        min_p=0.5,
        cpu_options=CPUOptions(sampler_logprobs=True),
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1).bool()
    C = out["completion_ids"].size(1)

    def logps() -> torch.Tensor:
        trainer._forward_vision = out["row_vision"]
        with torch.no_grad():
            return trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask.long(), C)[0]

    sampled = logps()
    trainer.cpu_options.sampler_logprobs = False
    full = logps()
    real = out["completion_mask"].bool()
    # renormalising over a subset of the vocabulary raises every sampled token's log-probability
    assert (sampled[real] >= full[real] - 1e-5).all() and (sampled[real] > full[real] + 1e-3).any()
    assert (sampled[real] <= 1e-6).all()


def test_fused_head_matches_the_cpu_trainers_logits(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    """The default trainer's forward (TRL's fused LM head, labels masked to the completion) gives the CPU
    trainer's numbers (the completion positions' logits only).

    On CPU, where TRL's kernel runs without Triton: the default path's own logic (labels, slicing to the
    completion, vision inputs per row) is what a GPU run executes.
    """
    # float32 throughout (transformers turns bf16 autocast on for CPUs that have it): exact comparison
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        reward_funcs=[length_reward],
        bf16=False,
        cpu_options=CPUOptions(),
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions(first_batch(trainer))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    C = out["completion_ids"].size(1)
    real = out["completion_mask"].bool()

    def logps() -> tuple[torch.Tensor, torch.Tensor]:
        trainer._forward_vision = out["row_vision"]
        with torch.no_grad():
            lp, ent, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, C, batch_size=3, compute_entropy=True
            )
        return lp, ent

    plain, plain_entropy = logps()  # the CPU trainer's
    trainer._completion_logps = types.MethodType(VideoGRPOTrainer._completion_logps, trainer)
    fused, fused_entropy = logps()  # the default trainer's
    assert fused.shape == plain.shape == (ids.size(0), C) and fused.dtype == plain.dtype == torch.float32
    assert torch.allclose(fused[real], plain[real], atol=1e-4)
    assert torch.allclose(fused_entropy[real], plain_entropy[real], atol=1e-3)


def test_only_the_cpu_trainer_samples_by_inverse_cdf(
    tiny_model_dir, synth_suite_dir, tmp_path, monkeypatch
) -> None:
    """No global patch of torch.multinomial: the default trainer's generate draws with torch's own, the CPU
    trainer's by inverse CDF (inside its own generate only)."""
    from videorft.training import sampling

    calls = []
    real = sampling.inverse_cdf_sample
    monkeypatch.setattr(sampling, "inverse_cdf_sample", lambda *a: calls.append(a) or real(*a))
    for name, cpu in (("default", {}), ("cpu", {"cpu_options": CPUOptions()})):
        calls.clear()
        trainer = make_trainer(
            tiny_model_dir, synth_suite_dir, tmp_path / name, reward_funcs=[length_reward], **cpu
        )
        trainer._generate_and_score_completions(first_batch(trainer))
        assert bool(calls) == bool(cpu), name

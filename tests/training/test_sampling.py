"""The CPU sampling shortcuts: exactly the categorical distribution (never a zero-probability token), and
transformers' logits processors' scores bit for bit."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from videorft.training import sampling
from videorft.training.sampling import (
    FastMinP,
    FastSuppressTokens,
    InverseCDFSampling,
    fast_logits_processors,
    inverse_cdf_sample,
)


def test_inverse_cdf_matches_the_distribution() -> None:
    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 0.0, 1.0]])
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([inverse_cdf_sample(probs, g) for _ in range(20000)], dim=1)  # (2, N)
    freq = torch.stack([(draws[0] == k).float().mean() for k in range(4)])
    assert torch.allclose(freq, probs[0], atol=0.015)
    assert (draws[0] != 1).all()  # zero mass: never drawn
    assert (draws[1] == 3).all()


def test_inverse_cdf_mode_is_scoped_to_the_block_and_thread_and_takes_single_cpu_draws(monkeypatch) -> None:
    original = torch.multinomial
    calls = []
    monkeypatch.setattr(sampling, "inverse_cdf_sample", lambda *a: calls.append(a) or inverse_cdf_sample(*a))
    probs = torch.softmax(torch.randn(3, 50), dim=-1)
    with InverseCDFSampling():
        assert torch.multinomial is original  # nothing is patched
        torch.manual_seed(0)
        drawn = torch.multinomial(probs, num_samples=1)
        assert len(calls) == 1
        assert torch.multinomial(probs, 5).shape == (3, 5) and len(calls) == 1  # several samples: torch's own
        other = threading.Thread(target=torch.multinomial, args=(probs, 1))
        other.start()
        other.join()
        assert len(calls) == 1  # another thread: torch's own
    torch.manual_seed(0)
    assert torch.equal(drawn, inverse_cdf_sample(probs))
    torch.multinomial(probs, 1)
    assert len(calls) == 1  # after the block: torch's own


def test_restrict_to_sampler_gives_the_sampled_distribution() -> None:
    from videorft.training.sampling import restrict_to_sampler

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.97, 0.01, 0.01, 0.01]]))
    index = torch.tensor([1, 0])
    # min-p 0.2: tokens below 0.2 * max are cut; what is left is renormalised
    logp = torch.log_softmax(restrict_to_sampler(logits, index, min_p=0.2), dim=-1)
    assert torch.allclose(logp[0].exp(), torch.tensor([0.5, 0.3, 0.15, 0.0]) / 0.95, atol=1e-6)
    assert torch.allclose(logp[1].exp(), torch.tensor([1.0, 0.0, 0.0, 0.0]), atol=1e-6)  # the format token
    # top-k 1 would drop the sampled token of row 0: it stays in
    kept = restrict_to_sampler(logits, index, top_k=1)
    assert torch.isclose(torch.softmax(kept[0], -1)[:2].sum(), torch.tensor(1.0))
    assert torch.equal(restrict_to_sampler(logits, index), logits)  # no truncation: unchanged
    # gradient reaches only the tokens the sampler could draw
    x = logits.clone().requires_grad_(True)
    torch.log_softmax(restrict_to_sampler(x, index, min_p=0.2), -1)[0, 1].backward()
    assert x.grad[0, 3] == 0 and x.grad[0, 0] != 0


def test_restrict_to_sampler_matches_transformers_warpers() -> None:
    from transformers.generation.logits_process import MinPLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    from videorft.training.sampling import restrict_to_sampler

    logits = torch.randn(6, 500) * 3
    index = logits.argmax(-1)  # a token every sampler can draw
    for kw, warpers in [
        ({"min_p": 0.05}, [MinPLogitsWarper(0.05)]),
        ({"top_k": 20}, [TopKLogitsWarper(20)]),
        ({"top_p": 0.9}, [TopPLogitsWarper(0.9)]),
        (
            {"top_k": 50, "top_p": 0.8, "min_p": 0.1},
            [TopKLogitsWarper(50), TopPLogitsWarper(0.8), MinPLogitsWarper(0.1)],
        ),
    ]:
        expected = logits.clone()
        for warp in warpers:
            expected = warp(None, expected)
        got = restrict_to_sampler(logits, index, **kw)
        assert torch.equal(got > -1e8, torch.isfinite(expected)), kw


def _scores(rows: int = 12, vocab: int = 3000) -> torch.Tensor:
    """Logits of every shape a sampler meets: flat, peaked, a single finite token, already-masked (-inf) tokens."""
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(rows, vocab, generator=g) * torch.linspace(0.5, 40, rows).unsqueeze(1)
    scores[1, 5] = 300.0  # one token holds all the mass: the others underflow to p = 0
    scores[2, :] = -math.inf
    scores[2, 7] = 1.0  # only one drawable token
    scores[3, ::3] = -math.inf
    scores[4, 10:12] = scores[4].max() + 1  # a tie for the top token
    return scores


@pytest.mark.parametrize("min_p", [0.0, 0.02, 0.1, 0.5, 1.0])
def test_fast_min_p_equals_transformers_bit_for_bit(min_p: float) -> None:
    from transformers.generation.logits_process import MinPLogitsWarper

    scores = _scores()
    assert torch.equal(FastMinP(min_p)(None, scores), MinPLogitsWarper(min_p)(None, scores))


def test_fast_suppress_tokens_equals_transformers_bit_for_bit() -> None:
    from transformers.generation.logits_process import SuppressTokensLogitsProcessor

    scores = _scores()
    ids = [0, 17, 2999, 5000]  # 5000: beyond this vocabulary, ignored as transformers' mask ignores it
    assert torch.equal(
        FastSuppressTokens(ids)(None, scores), SuppressTokensLogitsProcessor(ids)(None, scores)
    )


def test_fast_logits_processors_generate_the_same_tokens_and_only_inside_the_block() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=300, n_positions=64)).eval()
    prompt = torch.randint(0, 300, (6, 5))
    kwargs = dict(do_sample=True, min_p=0.05, suppress_tokens=[3, 4, 250], max_new_tokens=12, pad_token_id=0)

    def draw() -> torch.Tensor:
        torch.manual_seed(1)
        return model.generate(prompt, **kwargs)

    used: list[type] = []
    build = model._get_logits_processor
    with fast_logits_processors(model):
        fast_build = model._get_logits_processor
        model._get_logits_processor = lambda *a, **kw: (
            used.extend(map(type, out := fast_build(*a, **kw))) or out
        )
        fast = draw()
        model._get_logits_processor = fast_build
    assert FastMinP in used and FastSuppressTokens in used  # the fast processors ran
    assert "_get_logits_processor" not in vars(model) and model._get_logits_processor == build  # restored
    assert torch.equal(fast, draw())  # transformers' own processors draw the same tokens


def test_sampler_masked_logits_give_the_log_probs_and_gradients_of_a_finite_mask() -> None:
    """restrict_to_sampler masks with -inf (fast on CPU): the log-probs, their gradients and the entropy are
    those of the former -1e9 mask bit for bit, and an entropy gradient has no NaN."""
    from trl.trainer.utils import selective_log_softmax

    from videorft.training.algos import token_logps_and_entropy
    from videorft.training.sampling import restrict_to_sampler

    torch.manual_seed(0)
    logits = torch.randn(3, 5, 2000) * 4
    index = logits.argmax(-1)
    masked = restrict_to_sampler(logits, index, min_p=0.02)
    assert torch.isinf(masked).sum() > 0.9 * masked.numel()  # nearly every token is cut, to -inf
    finite = masked.masked_fill(masked.isinf(), -1e9)
    runs = []
    for fill in (masked, finite):
        x = fill.clone().requires_grad_()
        logps, entropy = token_logps_and_entropy(x, index)
        (logps * torch.arange(15.0).view(3, 5)).sum().backward()
        runs.append((logps.detach(), x.grad, entropy))
    for got, expected in zip(runs[0], runs[1]):
        assert torch.equal(got, expected)
    assert torch.equal(runs[0][0], selective_log_softmax(finite, index))  # TRL's log-probs
    x = masked.clone().requires_grad_()
    _, entropy = token_logps_and_entropy(x, index, entropy_requires_grad=True)
    entropy.sum().backward()
    assert torch.isfinite(entropy).all() and torch.isfinite(x.grad).all()

"""The CPU sampling shortcut draws from exactly the categorical distribution and never a zero-probability token."""

from __future__ import annotations

import threading

import torch

from videorft.training import sampling
from videorft.training.sampling import InverseCDFSampling, inverse_cdf_sample


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

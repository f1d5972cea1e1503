"""The CPU sampling shortcut draws from exactly the categorical distribution and never a zero-probability token."""

from __future__ import annotations

import torch

from videorft.training.sampling import fast_cpu_sampling, inverse_cdf_sample


def test_inverse_cdf_matches_the_distribution() -> None:
    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 0.0, 1.0]])
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([inverse_cdf_sample(probs, g) for _ in range(20000)], dim=1)  # (2, N)
    freq = torch.stack([(draws[0] == k).float().mean() for k in range(4)])
    assert torch.allclose(freq, probs[0], atol=0.015)
    assert (draws[0] != 1).all()  # zero mass: never drawn
    assert (draws[1] == 3).all()


def test_patch_is_scoped_and_only_takes_single_cpu_draws() -> None:
    original = torch.multinomial
    probs = torch.softmax(torch.randn(3, 50), dim=-1)
    with fast_cpu_sampling():
        assert torch.multinomial is not original
        assert torch.multinomial(probs, 1).shape == (3, 1)
        assert torch.multinomial(probs, 5).shape == (3, 5)  # several samples: torch's own
    assert torch.multinomial is original

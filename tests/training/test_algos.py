"""GRPO / T-GRPO maths on hand-computed examples."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

from videorft.training import algos
from videorft.training.algos import group_advantages, length_bonus, temporal_bonus

NAN = float("nan")


def bonus(ordered: list[float], shuffled: list[float], **kw) -> list[float]:
    """One group: G ordered accuracies against S shuffled ones."""
    f64 = torch.float64  # exact 0.1 (in float32, an accuracy 0.1 lies above min_acc 0.1)
    return temporal_bonus(
        torch.tensor(ordered, dtype=f64), torch.tensor([shuffled], dtype=f64), **kw
    ).tolist()


def test_group_advantages_are_per_group_not_per_batch() -> None:
    # two groups of 4 with very different reward scales: per-group normalisation makes them comparable
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 10.0, 10.0, 10.0, 12.0])
    adv = group_advantages(rewards, group_size=4)
    # group 1: mean 0.5, unbiased std sqrt(1/3)
    s1 = math.sqrt(1 / 3)
    assert adv[:4].tolist() == pytest.approx(
        [0.5 / (s1 + 1e-4), -0.5 / (s1 + 1e-4), -0.5 / (s1 + 1e-4), 0.5 / (s1 + 1e-4)]
    )
    # group 2: mean 10.5, unbiased std 1.0
    assert adv[4:].tolist() == pytest.approx([-0.5 / 1.0001, -0.5 / 1.0001, -0.5 / 1.0001, 1.5 / 1.0001])
    # a batch-level normalisation would give different numbers
    batch = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
    assert not torch.allclose(adv, batch)


def test_group_advantages_zero_variance_group_gets_zero() -> None:
    adv = group_advantages(torch.tensor([1.0, 1.0, 0.0, 1.0]), group_size=2)
    assert adv[:2].tolist() == [0.0, 0.0]
    assert adv[2] < 0 < adv[3]


def test_dr_grpo_only_centres() -> None:
    adv = group_advantages(torch.tensor([0.0, 2.0]), group_size=2, scale=False)
    assert adv.tolist() == [-1.0, 1.0]


def test_temporal_bonus_paper_rule() -> None:
    # p = 0.5 >= 0.8 · 0.25: completions with accuracy > 0.1 get alpha.
    assert bonus([1.0, 0.0, 0.5, 0.1], [0.5, 0.0]) == pytest.approx([0.3, 0.0, 0.3, 0.0])
    # p = 0.25 < 0.8 · 0.5: nothing.
    assert bonus([0.5, 0.0], [0.5, 0.5]) == [0.0, 0.0]
    assert bonus([0.6, 0.2], [0.0], alpha=1.0, min_acc=0.5) == [1.0, 0.0]


def test_temporal_bonus_boundary_is_greater_or_equal() -> None:
    # p = 0.4 == 0.8 · 0.5 exactly (the paper writes ">", the code ">=": we follow the code).
    assert bonus([0.4, 0.4], [0.5, 0.5]) == pytest.approx([0.3, 0.3])
    assert bonus([0.4, 0.4], [0.5, 0.5], mu=1.0) == [0.0, 0.0]


def test_temporal_bonus_aligns_each_ordered_group_with_its_shuffled_group() -> None:
    ordered = torch.tensor(
        [1.0, 0.0, 1.0, 0.05, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    )  # (B*G,), B = 3, G = 4
    shuffled = torch.tensor([[0.0, 1.0], [1.0, 1.0], [NAN, NAN]])  # the third prompt is an image: no video
    out = temporal_bonus(ordered, shuffled, alpha=0.3, mu=0.8, min_acc=0.1)
    assert out.shape == (12,) and out.dtype == ordered.dtype
    # group 0: p = 0.5125 >= 0.8 * 0.5 -> bonus for acc > 0.1 only
    assert out[:4].tolist() == pytest.approx([0.3, 0.0, 0.3, 0.0])
    # group 1: p = 0.25 < 0.8 * 1.0 -> nothing; group 2 (no video): nothing although every answer is right
    assert out[4:].tolist() == [0.0] * 8
    # each group is compared with its own shuffled row: row b's shuffled answers decide group b only
    first = temporal_bonus(ordered, torch.tensor([[0.0, 0.0], [1.0, 1.0], [NAN, NAN]]))
    second = temporal_bonus(ordered, torch.tensor([[1.0, 1.0], [0.0, 0.0], [NAN, NAN]]))
    assert first[:8].tolist() == pytest.approx([0.3, 0.0, 0.3, 0.0] + [0.0] * 4)
    assert second[:8].tolist() == pytest.approx([0.0] * 4 + [0.0, 0.3, 0.0, 0.0])


def test_algos_docstring_examples() -> None:
    result = doctest.testmod(algos)
    assert result.attempted > 0 and result.failed == 0


def _mu_changes_some_group(g: int, s: int) -> bool:
    """Whether mu = 0.8 and mu = 1.0 give a different bonus for any 0/1 accuracies of g ordered, s shuffled."""
    for k in range(g + 1):
        for j in range(s + 1):
            ordered, shuffled = [1.0] * k + [0.0] * (g - k), [1.0] * j + [0.0] * (s - j)
            if bonus(ordered, shuffled, mu=0.8) != bonus(ordered, shuffled, mu=1.0):
                return True
    return False


def test_mu_only_matters_when_an_ordered_accuracy_falls_in_mu_p_shuffled_to_p_shuffled() -> None:
    # the demo's G = 4 with 2 shuffled completions: no k/4 lies in [0.8 j/2, j/2), so the study's mu arm is moot
    assert not _mu_changes_some_group(4, 2)
    assert _mu_changes_some_group(8, 4)  # Video-R1's G = 8: e.g. p = 5/8 against p~ = 3/4


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_token_logps_and_entropy_match_trl_on_sampler_masked_logits(temperature: float) -> None:
    """The CPU path gives TRL's log-probs and gradients bit for bit, and its entropy, also where
    restrict_to_sampler set -1e9."""
    from trl.trainer.utils import selective_log_softmax_and_entropy

    from videorft.training.algos import token_logps_and_entropy

    torch.manual_seed(0)
    logits = torch.randn(3, 5, 1000) * 3
    logits[0] = logits[0].masked_fill(logits[0] < 4, -1e9)  # a min-p support of a few tokens
    index = torch.randint(0, 1000, (3, 5))
    index[0] = logits[0].argmax(-1)
    ours = logits.clone().requires_grad_()
    trl = logits.clone().requires_grad_()
    logps, entropy = token_logps_and_entropy(ours, index, temperature)
    ref_logps, ref_entropy = selective_log_softmax_and_entropy(trl, index, False, temperature)
    assert logps.shape == entropy.shape == (3, 5) and not entropy.requires_grad
    assert torch.equal(logps, ref_logps)  # the same training trajectory
    torch.testing.assert_close(entropy, ref_entropy, rtol=1e-5, atol=1e-5)
    assert torch.isfinite(entropy).all()  # 0 * log p of a masked token is 0, not NaN
    (logps * torch.arange(15.0).view(3, 5)).sum().backward()
    (ref_logps * torch.arange(15.0).view(3, 5)).sum().backward()
    assert torch.equal(ours.grad, trl.grad)
    # an entropy bonus needs its gradient
    _, with_grad = token_logps_and_entropy(logits.clone().requires_grad_(), index, temperature, True)
    assert with_grad.requires_grad


def test_length_bonus() -> None:
    acc = torch.tensor([1.0, 0.5, 1.0, 0.05, 1.0, 0.0])  # two groups of G = 3
    lengths = torch.tensor([400, 320, 600, 400, 400, 400])
    # group 0: two above 0.1 accuracy, of which 400 and 320 lie in [320, 512]; group 1: one above 0.1 -> none
    assert length_bonus(acc, lengths, 3).tolist() == pytest.approx([0.2, 0.2, 0.0, 0.0, 0.0, 0.0])
    assert length_bonus(acc[:4], lengths[:4], 4).tolist() == pytest.approx([0.2, 0.2, 0.0, 0.0])
    options = dict(bonus=0.5, min_len=500, max_len=700)
    assert length_bonus(acc[:4], lengths[:4], 4, **options).tolist() == [0.0, 0.0, 0.5, 0.0]

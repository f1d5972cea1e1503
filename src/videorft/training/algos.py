"""GRPO and T-GRPO maths as small pure functions (the equations of the papers, one screen).

Shapes: B = number of prompts, G = completions per prompt (ordered group), S = shuffled completions.

    r_i    = sum_k w_k * R_k(o_i)                                    (task reward components)
    A_i    = (r_i - mean_j r_j) / (std_j r_j + 1e-4)                 (group-relative advantage)
    KL_t   = exp(ref_t - logp_t) - (ref_t - logp_t) - 1              (k3 estimator, per token)
    L      = -mean_i mean_t [ exp(logp_t - logp_t.detach()) * A_i - beta * KL_t ]

T-GRPO (Video-R1):  p = mean_i acc(o_i),  p~ = mean_j acc(o~_j)  (o~: answers to shuffled frames)
    r_i += alpha  if  p >= mu * p~  and  acc(o_i) > min_acc            (ordered completions only)

The trainer (``VideoGRPOTrainer``) takes the loss from TRL (its ``loss_type`` variants); these functions are
what the trainer's temporal bonus uses and what the tests check TRL's advantages against.
"""

from __future__ import annotations

import torch

from videorft.rewards import length_bonus, temporal_bonus


def group_advantages(
    rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """A_i = (r_i - mean(group)) / (std(group) + eps), statistics per prompt group, never per batch.

    Args:
        rewards: (B*G,) rewards, groups contiguous (row b*G + i is completion i of prompt b).
        group_size: G.
        scale: divide by the group std (GRPO); False gives Dr. GRPO's mean-centering only.
    Returns:
        (B*G,) advantages.
    """
    grouped = rewards.view(-1, group_size)  # (B, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)  # unbiased std, as TRL and both papers
    return centred.reshape(-1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 KL estimator exp(ref - logp) - (ref - logp) - 1, shape preserved."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def grpo_loss(
    logp: torch.Tensor,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """The papers' GRPO loss (one policy step per batch, so the ratio is exp(logp - logp.detach()) = 1).

    Args:
        logp, ref_logp, mask: (N, T) per-token log-probs of the policy / reference, completion mask.
        advantages: (N,).
    Returns:
        scalar loss: token mean per completion, then mean over completions.
    """
    per_token = torch.exp(logp - logp.detach()) * advantages.unsqueeze(1)
    if ref_logp is not None and beta != 0.0:
        per_token = per_token - beta * k3_kl(logp, ref_logp)
    per_completion = (-per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return per_completion.mean()


def temporal_bonus_groups(
    ordered_acc: torch.Tensor,
    shuffled_acc: list[list[float] | None],
    alpha: float = 0.3,
    mu: float = 0.8,
    min_acc: float = 0.1,
) -> torch.Tensor:
    """T-GRPO bonus for a batch of groups: ``temporal_bonus`` applied to each prompt group separately.

    Args:
        ordered_acc: (B, G) accuracy of each ordered completion.
        shuffled_acc: B entries, each the S accuracies of that prompt's shuffled completions, or None for
            prompts without a video (images, text): those get no bonus.
    Returns:
        (B, G) bonus.
    """
    bonus = torch.zeros_like(ordered_acc)
    for b, shuffled in enumerate(shuffled_acc):
        if shuffled:
            bonus[b] = torch.tensor(
                temporal_bonus(ordered_acc[b].tolist(), shuffled, alpha=alpha, mu=mu, min_acc=min_acc),
                dtype=ordered_acc.dtype,
            )
    return bonus


def length_bonus_groups(accuracy: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Video-R1's length reward for a batch of groups: ``length_bonus`` applied to each prompt group.

    Args:
        accuracy: (B, G) accuracy component of each completion (before any T-GRPO bonus).
        lengths: (B, G) completion lengths in tokens (EOS included, as Video-R1's completion mask).
    Returns:
        (B, G) bonus. Video-R1 applies it to its per-device batch, which is one group there.
    """
    bonus = torch.zeros_like(accuracy)
    for b in range(accuracy.size(0)):
        values = length_bonus(accuracy[b].tolist(), [int(n) for n in lengths[b].tolist()])
        bonus[b] = torch.tensor(values, dtype=accuracy.dtype)
    return bonus


def token_logps_and_entropy(
    logits: torch.Tensor, index: torch.Tensor, temperature: float = 1.0, entropy_requires_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(index) and the entropy of each row of ``logits`` (b, C, V) / temperature. Returns ((b, C), (b, C)).

    The log-probs are TRL's ``selective_log_softmax`` (bit for bit: training follows the same trajectory).
    The entropy, a logged metric, comes from one vectorised softmax and log-softmax per row instead of TRL's
    ``entropy_from_logits``, whose ``exp`` runs as a scalar loop on CPU wherever it underflows, i.e. on
    every token ``restrict_to_sampler`` masked to -1e9 (min-p): a sixth of a CPU GRPO step. CUDA tensors
    (TRL's Triton kernel) and low-precision logits go to TRL's function.
    """
    from trl.trainer.utils import selective_log_softmax, selective_log_softmax_and_entropy

    if logits.is_cuda or logits.dtype not in (torch.float32, torch.float64):
        return selective_log_softmax_and_entropy(logits, index, entropy_requires_grad, temperature)
    if temperature != 1.0:
        logits = logits / temperature
    logps = selective_log_softmax(logits, index)
    entropies = []
    with torch.set_grad_enabled(entropy_requires_grad and torch.is_grad_enabled()):
        for row in logits:  # a row at a time bounds peak memory
            # a masked token has p = 0 and log p = -1e9: it adds 0 (with -inf it would be NaN)
            entropies.append(-(torch.softmax(row, dim=-1) * torch.log_softmax(row, dim=-1)).sum(-1))
    return logps, torch.stack(entropies)

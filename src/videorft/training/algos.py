"""GRPO and T-GRPO maths as small pure functions (the equations of the papers, one screen).

Shapes: B = number of prompts, G = completions per prompt (ordered group), S = shuffled completions.

    r_i    = sum_k w_k * R_k(o_i)                                    (task reward components)
    A_i    = (r_i - mean_j r_j) / (std_j r_j + 1e-4)                 (group-relative advantage)

T-GRPO (Video-R1):  p = mean_i acc(o_i),  p~ = mean_j acc(o~_j)  (o~: answers to shuffled frames)
    r_i += alpha  if  p >= mu * p~  and  acc(o_i) > min_acc            (ordered completions only)

The loss and its KL term are TRL's (``loss_type='grpo'``, ``beta``); ``group_advantages`` is what the tests check
TRL's advantages against, ``temporal_bonus`` and ``length_bonus`` what the trainer adds to the rewards.
"""

from __future__ import annotations

import torch


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


def temporal_bonus(
    ordered_acc: torch.Tensor,
    shuffled_acc: torch.Tensor,
    alpha: float = 0.3,
    mu: float = 0.8,
    min_acc: float = 0.1,
) -> torch.Tensor:
    """T-GRPO's temporal bonus (Video-R1, Eq. 2), each prompt's ordered group against its shuffled group.

        p = mean_i acc(o_i),  p~ = mean_j acc(o~_j),  r_i = alpha  if  p >= mu * p~  and  acc(o_i) > min_acc

    ``>=`` as Video-R1's code (the paper writes ``>``). Per group; Video-R1's code averages p and p~ over its
    per-device batch, which equals this at batch size 1 (one group), as in its scripts.

    Args:
        ordered_acc: (B*G,) accuracy of each ordered completion, groups contiguous (as TRL's rewards).
        shuffled_acc: (B, S) accuracies of the completions for prompt b's shuffled frames; a row of NaN for a
            prompt without a video (an image, text): that group gets no bonus.
    Returns:
        (B*G,) bonus, dtype of ``ordered_acc``.

    >>> no_video = [float("nan")] * 2
    >>> temporal_bonus(torch.tensor([1.0, 0.0, 0.5, 0.1, 1.0, 1.0]), torch.tensor([[0.5, 0.0], no_video]))
    tensor([0.3000, 0.0000, 0.3000, 0.0000, 0.0000, 0.0000])
    """
    acc = ordered_acc.double().view(shuffled_acc.size(0), -1)  # (B, G): row b is prompt b's ordered group
    p = acc.mean(dim=1, keepdim=True)  # (B, 1)
    p_shuffled = shuffled_acc.double().mean(dim=1, keepdim=True)  # (B, 1); NaN: no video
    earns = (p >= mu * p_shuffled) & (acc > min_acc)  # (B, G); a comparison with NaN is False
    return (earns.to(ordered_acc.dtype) * alpha).view(-1)


def length_bonus(
    accuracy: torch.Tensor,
    lengths: torch.Tensor,
    group_size: int,
    bonus: float = 0.2,
    min_len: int = 320,
    max_len: int = 512,
    min_acc: float = 0.1,
) -> torch.Tensor:
    """Video-R1's optional length reward (``len_control``), per prompt group:

        r_i += bonus  if  acc(o_i) > min_acc  and  min_len <= |o_i| <= max_len  and  #{j: acc(o_j) > min_acc} > 1

    Args:
        accuracy: (B*G,) accuracy component of each completion (before any T-GRPO bonus), groups contiguous.
        lengths: (B*G,) completion lengths in tokens (EOS included, as Video-R1's completion mask).
        group_size: G. Video-R1 applies the rule to its per-device batch, which is one group there.
    Returns:
        (B*G,) bonus, dtype of ``accuracy``.

    >>> length_bonus(torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0]), torch.tensor([400, 100, 400, 400, 400, 400]), 3)
    tensor([0.2000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000])
    """
    correct = (accuracy > min_acc).view(-1, group_size)  # (B, G)
    several = correct.sum(dim=1, keepdim=True) > 1  # (B, 1)
    in_range = ((lengths >= min_len) & (lengths <= max_len)).view(-1, group_size)  # (B, G)
    return ((correct & several & in_range).to(accuracy.dtype) * bonus).view(-1)


def token_logps_and_entropy(
    logits: torch.Tensor, index: torch.Tensor, temperature: float = 1.0, entropy_requires_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(index) and the entropy of each row of ``logits`` (b, C, V) / temperature. Returns ((b, C), (b, C)).

    The log-probs are TRL's ``selective_log_softmax`` (bit for bit: training follows the same trajectory).
    The entropy, a logged metric, comes from one vectorised softmax and log-softmax per row instead of TRL's
    ``entropy_from_logits``, whose ``exp`` runs as a scalar loop on CPU wherever it underflows, i.e. on
    every token ``restrict_to_sampler`` masked (min-p): a sixth of a CPU GRPO step. CUDA tensors (TRL's Triton
    kernel) and low-precision logits go to TRL's function, with masked tokens at -1e9 (its p log p of -inf is NaN).
    """
    from trl.trainer.utils import selective_log_softmax, selective_log_softmax_and_entropy

    if logits.is_cuda or logits.dtype not in (torch.float32, torch.float64):
        logits = logits.masked_fill(logits == -torch.inf, -1e9)
        return selective_log_softmax_and_entropy(logits, index, entropy_requires_grad, temperature)
    if temperature != 1.0:
        logits = logits / temperature
    logps = selective_log_softmax(logits, index)
    entropies = []
    with torch.set_grad_enabled(entropy_requires_grad and torch.is_grad_enabled()):
        for row in logits:  # a row at a time bounds peak memory
            p = torch.softmax(row, dim=-1)
            # p log p of a masked token (p = 0, log p = -inf) is 0, not NaN, also in the gradient
            entropies.append(-(p * torch.log_softmax(row, dim=-1).masked_fill(p == 0, 0.0)).sum(-1))
    return logps, torch.stack(entropies)

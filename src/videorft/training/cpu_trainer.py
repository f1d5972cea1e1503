"""The CPU variants of the GRPO and SFT trainers: what `videorft train` runs with ``use_cpu: true``, and the demo.

Exact shortcuts (the numbers of ``VideoGRPOTrainer`` / TRL's SFTTrainer, far less CPU time over a 152k-token
vocabulary): in the GRPO trainer's ``generate``, sampling by inverse CDF (``sampling.InverseCDFSampling``),
min-p and suppress-tokens without their vocabulary-wide top-k and mask (``sampling.fast_logits_processors``) and
the output head cast once (``autocast_head_once``); log-probs / loss from the completion or target positions'
logits only (TRL's fused LM head scores every position without Triton).
Three ``CPUOptions`` for small models learning from a weak start (docs/deviations.md, "Demo and study", has
the experiments behind them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from videorft.training.algos import token_logps_and_entropy
from videorft.training.config import CPUOptions
from videorft.training.grpo_trainer import VideoGRPOTrainer
from videorft.training.prompt_order import AnswerBalancedSampler, dataset_stratum_keys
from videorft.training.sampling import (
    InverseCDFSampling,
    fast_logits_processors,
    generation_module,
    restrict_to_sampler,
)
from videorft.training.sft import VideoSFTTrainer


class CPUGRPOTrainer(VideoGRPOTrainer):
    """VideoGRPOTrainer with the CPU shortcuts and the ``CPUOptions`` (module docstring)."""

    def __init__(self, *args: Any, cpu_options: CPUOptions | None = None, **kwargs: Any) -> None:
        self.cpu_options = cpu_options or CPUOptions()
        super().__init__(*args, **kwargs)
        # before train() builds the optimizer from the trainable parameters
        if self.cpu_options.freeze_embeddings:
            for module in (self.model.get_input_embeddings(), self.model.get_output_embeddings()):
                if module is not None:
                    module.requires_grad_(False)

    def _get_train_sampler(self, dataset: Any = None) -> Any:
        sampler = super()._get_train_sampler(dataset)
        if not self.cpu_options.balance_answers:
            return sampler
        # TRL's RepeatSampler with only its epoch order changed: its repeats, batch size and seed are kept
        return AnswerBalancedSampler(
            sampler.data_source,
            dataset_stratum_keys(sampler.data_source),
            mini_repeat_count=sampler.mini_repeat_count,
            batch_size=sampler.batch_size,
            repeat_count=sampler.repeat_count,
            seed=sampler.seed,
        )

    def _generate_single_turn(self, *args: Any, **kwargs: Any):
        with InverseCDFSampling(), fast_logits_processors(self.model), autocast_head_once(self.model):
            return super()._generate_single_turn(*args, **kwargs)

    def _completion_logps(self, model: Any, model_inputs: dict[str, Any], logits_to_keep: int):
        # Completions sit at the end (prompts left-, completions right-padded): the last C + 1 positions'
        # logits are all the loss needs; sampler_logprobs needs the logits themselves.
        ids = model_inputs["input_ids"]
        outputs = model(**model_inputs, logits_to_keep=logits_to_keep + 1)
        logits = outputs.logits[:, :-1]  # (b, C, V): position t predicts completion token t
        temperature = self.temperature
        if self.cpu_options.sampler_logprobs:
            logits = restrict_to_sampler(
                logits
                if temperature == 1.0
                else logits / temperature,  # x / 1.0 == x: one (b, C, V) pass less
                ids[:, -logits_to_keep:],
                top_k=self.top_k,
                top_p=self.top_p,
                min_p=self.min_p,
            )
            temperature = 1.0
        logps, entropy = token_logps_and_entropy(
            logits,
            ids[:, -logits_to_keep:],
            # TRL's flag: a fixed entropy_coef or the adaptive one (which starts at 0.0)
            entropy_requires_grad=bool(getattr(self, "_entropy_bonus_enabled", False)),
            temperature=temperature,
        )
        return logps, entropy, outputs


@contextlib.contextmanager
def autocast_head_once(model: Any) -> Iterator[None]:
    """Within the block, the output head casts its weight to the autocast dtype once, not at every forward.

    accelerate's mixed precision enters autocast per forward call, and autocast's cast cache lives only as
    long as that context (and skips frozen weights), so every generated token re-cast the 152k x H head. The
    same cast and the same ``linear``, so the same logits; the weights cannot change during ``generate``.
    """
    head = generation_module(model).get_output_embeddings()
    if head is None or getattr(head, "bias", None) is not None or type(head) is not torch.nn.Linear:
        yield
        return
    cast: dict[torch.dtype, torch.Tensor] = {}

    def forward(x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
            return F.linear(x, head.weight)
        dtype = torch.get_autocast_dtype("cpu")
        if dtype not in cast:
            cast[dtype] = head.weight.detach().to(dtype)
        return F.linear(x.to(dtype) if x.is_floating_point() else x, cast[dtype])

    head.forward = forward
    try:
        yield
    finally:
        del head.forward  # the class's again


def target_columns(labels: torch.Tensor) -> int:
    """K: how many trailing columns of left-padded ``labels`` (B, L) hold a target (at least 1)."""
    has_target = (labels != -100).any(dim=0).nonzero()
    return labels.size(1) - int(has_target.min()) if has_target.numel() else 1


class CPUSFTTrainer(VideoSFTTrainer):
    """TRL's SFTTrainer with the loss from the target positions' logits only (what `videorft train sft` runs with
    ``use_cpu``). Targets are right-aligned (``VideoSFTCollator`` left-pads), so the last K + 1 logits suffice.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]  # (B, L)
        keep = target_columns(labels)  # K
        forward = {k: v for k, v in inputs.items() if k != "labels"}
        logits = model(**forward, use_cache=False, logits_to_keep=keep + 1).logits[:, :-1]  # (B, K, V)
        targets = labels[:, -keep:]
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum"
        )
        n = num_items_in_batch if num_items_in_batch is not None else (targets != -100).sum()
        return loss / torch.as_tensor(n, device=loss.device).clamp(min=1)

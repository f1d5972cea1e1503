"""vLLM rollouts with video for ``VideoGRPOTrainer`` (``use_vllm: true, vllm_mode: colocate``).

TRL 1.16's ``VLLMGeneration`` does the parameter gathering (ZeRO-3, FSDP, PEFT merges) and rank bookkeeping;
replaced are ``_init_vllm`` (the engine sized from the frame budget, in the trainer's process), ``sync_weights``
(TRL's ``model.load_weights`` fails on vLLM's CPU build and keeps stale encoder-cache features:
``vllm_engine.push_weights`` reloads and resets) and generation, which takes the rows' frames, where TRL's takes
images only. Server mode is refused for video: TRL's ``vllm-serve`` receives images only.
"""

from __future__ import annotations

import os
from typing import Any

from trl.generation.vllm_generation import VLLMGeneration
from trl.trainer.utils import ensure_master_addr_port

from videorft.inputs import Sample
from videorft.models import vllm_engine
from videorft.video import FrameBudget


def check_vllm_mode(args: Any) -> None:
    """Only colocate mode carries video; say so before anything is loaded."""
    if args.vllm_mode != "colocate":
        raise ValueError(
            f"use_vllm with vllm_mode={args.vllm_mode!r} is not supported for video: TRL's vLLM server "
            "receives images only. Set vllm_mode: colocate (one vLLM engine inside each training process)."
        )


class VideoVLLMGeneration(VLLMGeneration):
    """A colocated vLLM engine that generates from videorft's prompt ids and frames."""

    def __init__(self, *, trainer: Any, budget: FrameBudget) -> None:
        args = trainer.args
        check_vllm_mode(args)
        self.budget = budget
        self.max_model_len = args.vllm_max_model_length or vllm_engine.max_model_len_for(
            budget, trainer.max_completion_length
        )
        super().__init__(
            model=trainer.model,
            accelerator=trainer.accelerator,
            processing_class=trainer.processing_class,
            mode="colocate",
            tensor_parallel_size=args.vllm_tensor_parallel_size,
            gpu_memory_utilization=args.vllm_gpu_memory_utilization,
            max_model_length=self.max_model_len,
            # the ordered rows plus T-GRPO's shuffled copies of one generation batch
            max_num_seqs=args.per_device_train_batch_size
            * args.steps_per_generation
            * (1 + max(0, getattr(args, "shuffled_generations", 0))),
            enable_sleep_mode=False,  # not supported on CPU; on GPU the trainer's own memory is the limit
            model_impl=args.vllm_model_impl,
            trust_remote_code=args.trust_remote_code,
            repetition_penalty=trainer.repetition_penalty,
            temperature=trainer.temperature,
            top_p=trainer.top_p,
            top_k=trainer.top_k,
            min_p=trainer.min_p,
            max_completion_length=trainer.max_completion_length,
            logprobs=0,
            generation_kwargs=args.generation_kwargs,
        )

    def _init_vllm(self) -> None:
        accelerator = self.accelerator
        if self.tensor_parallel_size != 1:
            raise ValueError("vllm_tensor_parallel_size > 1 is not supported with video rollouts yet; use 1")
        backend = None
        if accelerator.num_processes > 1:
            # one engine per rank inside its training process, as TRL's colocate mode does
            os.environ["RANK"] = str(accelerator.process_index)
            os.environ["LOCAL_RANK"] = str(accelerator.local_process_index)
            os.environ["WORLD_SIZE"] = str(accelerator.num_processes)
            ensure_master_addr_port()
            backend = "external_launcher"
        else:
            vllm_engine.in_process_engine()
        self.llm = vllm_engine.open_llm(
            self.model.name_or_path,
            dtype=str(self.model.dtype).removeprefix("torch."),
            seed=accelerator.process_index,
            max_model_len=self.max_model_len,
            max_num_seqs=self.max_num_seqs,
            gpu_memory_utilization=self.gpu_memory_utilization,
            distributed_executor_backend=backend,
        )
        self._llm_weights_sleeping = False
        accelerator.wait_for_everyone()

    def sync_weights(self) -> None:
        vllm_engine.push_weights(self.llm, self._iter_named_params())

    def sampling_params(self) -> Any:
        from vllm import SamplingParams

        kwargs: dict[str, Any] = {
            "n": 1,  # TRL repeats each prompt num_generations times; vLLM shares their prefill and encoder work
            "repetition_penalty": self.repetition_penalty,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k if self.top_k else 0,
            "min_p": 0.0 if self.min_p is None else self.min_p,
            "max_tokens": self.max_completion_length,
            "logprobs": 0,
            "bad_words": vllm_engine.banned_words(),
        }
        kwargs.update(self.generation_kwargs)
        return SamplingParams(**kwargs)

    def generate_rows(
        self, prompt_ids: list[list[int]], samples: list[Sample]
    ) -> tuple[list[list[int]], list[list[float]]]:
        """One completion per row (completion ids, the sampled tokens' log-probs), in one ``generate`` call."""
        if len(prompt_ids) != len(samples):
            raise RuntimeError("internal: rollout samples are not aligned with the prompts")
        placeholders = vllm_engine.placeholder_token_ids(self.processing_class)
        prompts = [sample.vllm_prompt(ids, placeholders) for ids, sample in zip(prompt_ids, samples)]
        return vllm_engine.generate(
            self.llm, prompts, self.sampling_params(), expected_prompt_lens=[len(ids) for ids in prompt_ids]
        )

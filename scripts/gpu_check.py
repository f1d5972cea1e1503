"""GPU check (issue #23): T-GRPO and GRPO steps of the 7B-shaped random Qwen2.5-VL on one CUDA GPU.

Builds Qwen2.5-VL-7B's exact shape with random weights directly on the GPU (no download, nothing written but a
small synthetic suite), then runs ``--steps`` training steps through ``VideoGRPOTrainer.train`` (the path of
`videorft train grpo`) for each of: LoRA T-GRPO, LoRA GRPO, full-LLM T-GRPO, full-LLM GRPO. The budget is
Video-R1's training one: 16 frames of at most 128x28x28 pixels, G = 8 completions per prompt, G/2 shuffled-frame
completions for T-GRPO, bf16, gradient checkpointing, HF ``generate``. The vision tower is frozen in both modes
("fine-tuning of the LLM").

Per step it prints the wall time split into generation (``generate``, its prefill's vision pass included),
vision (every vision-tower forward of the step, inside generation and the loss forward), loss (forward,
backward and optimizer step: the step minus the rollout), the generated tokens, tokens/s of generation and
the peak GPU memory; then the T-GRPO / GRPO step-time ratio per mode.

Run through ``scripts/gpu_check.sh`` (installs carried wheels first); ``--tiny`` runs the same code on the
tiny model on CPU in about a minute (the test that keeps this script from rotting).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Video-R1's training budget (src/r1-v/src/open_r1/grpo.py and its run script): 16 frames, 128*28*28 pixels.
VIDEO_R1_FRAMES = 16
VIDEO_R1_MAX_PIXELS = 128 * 28 * 28
#: LoRA on the language model's linear layers only: the vision blocks also have gate/up/down projections.
LLM_LINEAR = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
CONFIGS = (("lora", True), ("lora", False), ("full", True), ("full", False))


@dataclass
class StepTimes:
    step: int
    total_s: float = 0.0
    rollout_s: float = 0.0  # generation + rewards + old/reference log-probs
    generation_s: float = 0.0
    vision_s: float = 0.0
    generated_tokens: int = 0
    peak_gib: float = 0.0

    @property
    def loss_s(self) -> float:
        return max(0.0, self.total_s - self.rollout_s)

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.generation_s if self.generation_s else 0.0

    def row(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "loss_s": round(self.loss_s, 3),
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


@dataclass
class ConfigResult:
    name: str
    mode: str
    temporal: bool
    steps: list[StepTimes] = field(default_factory=list)
    build_s: float = 0.0
    trainable_params: int = 0
    total_params: int = 0
    peak_gib: float = 0.0
    error: str | None = None

    def median(self, attr: str) -> float:
        """Median over the steps after the first (warm-up), or the only step."""
        steps = self.steps[1:] or self.steps
        return statistics.median(getattr(s, attr) for s in steps) if steps else float("nan")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "build_s": round(self.build_s, 1),
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "peak_gib": round(self.peak_gib, 2),
            "steps": [s.row() for s in self.steps],
        }
        if self.error:
            out["error"] = self.error
        if self.steps:
            out["median"] = {
                k: round(self.median(k), 3)
                for k in ("total_s", "generation_s", "vision_s", "loss_s", "tokens_per_s", "peak_gib")
            }
        return out


class _Clock:
    """Wall time of a region, with the device synchronised at both ends (CUDA kernels run asynchronously)."""

    def __init__(self, cuda: bool) -> None:
        import torch

        self.sync = torch.cuda.synchronize if cuda else (lambda: None)

    def now(self) -> float:
        self.sync()
        return time.perf_counter()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="the tiny model on CPU, small frames: a dry run")
    p.add_argument("--steps", type=int, default=3, help="training steps per configuration (default 3)")
    p.add_argument(
        "--max-completion-length",
        type=int,
        default=None,
        help="completion tokens (default 512 on a GPU, Video-R1 trains with 768: pass 768 if time allows; "
        "16 with --tiny)",
    )
    p.add_argument("--num-generations", type=int, default=8, help="G (default 8, Video-R1's)")
    p.add_argument("--nframes", type=int, default=VIDEO_R1_FRAMES)
    p.add_argument("--max-pixels", type=int, default=None, help="pixels per frame (default 128*28*28)")
    p.add_argument(
        "--configs",
        default="lora-tgrpo,lora-grpo,full-tgrpo,full-grpo",
        help="which of lora-tgrpo, lora-grpo, full-tgrpo, full-grpo to run, in the order given",
    )
    p.add_argument(
        "--budget-s",
        type=float,
        default=540.0,
        help="skip a configuration when the time so far plus the last one's would pass this (default 540)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument(
        "--attn", default="sdpa", help="attention implementation (sdpa; flash_attention_2 if built)"
    )
    p.add_argument(
        "--full-optim",
        default="adamw_torch",
        help="optimizer of full fine-tuning (TrainingArguments.optim); adafactor if AdamW's state does not fit",
    )
    args = p.parse_args(argv)
    if args.max_completion_length is None:
        args.max_completion_length = 16 if args.tiny else 512
    if args.max_pixels is None:
        args.max_pixels = 56 * 56 if args.tiny else VIDEO_R1_MAX_PIXELS
    known = {f"{m}-{'tgrpo' if t else 'grpo'}" for m, t in CONFIGS}
    args.configs = list(dict.fromkeys(c.strip() for c in args.configs.split(",") if c.strip()))
    if bad := [c for c in args.configs if c not in known]:
        p.error(f"--configs: unknown {bad}; choose from {sorted(known)}")
    return args


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    import torch

    versions = {}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "av"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    cuda = torch.cuda.is_available()
    return {
        "python": sys.version.split()[0],
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "versions": versions,
    }


def transformers_note(version: str | None) -> str | None:
    """Why a transformers older than our pin gives other video positions (timings are unaffected)."""
    from packaging.version import Version

    if version is None or Version(version) >= Version("5.24.0"):
        return None
    return (
        f"transformers {version} < 5.24 (our pin): its Qwen2.5-VL get_rope_index truncates seconds per temporal "
        "patch to an integer, so videos sampled above 2 fps lose their time axis; build the wheels without "
        "--device-transformers to carry the pinned version"
    )


def build_model(size: str, device: str, dtype: Any, attn: str, seed: int = 0) -> Any:
    """Random-weight Qwen2.5-VL of ``size`` built in place on ``device`` (no checkpoint written or read)."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from videorft.models import build_config
    from videorft.models.checkpoint import SPECIAL_TOKENS

    config = build_config(size)
    config._attn_implementation = attn
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_TOKENS["<|endoftext|>"],
        eos_token_id=[SPECIAL_TOKENS["<|im_end|>"], SPECIAL_TOKENS["<|endoftext|>"]],
        pad_token_id=SPECIAL_TOKENS["<|endoftext|>"],
    )
    return model


def vision_tower(model: Any) -> Any:
    """The Qwen2.5-VL vision transformer inside ``model`` (``model.model.visual`` in transformers 5)."""
    for name, module in model.named_modules():
        if name.endswith("visual"):
            return module
    raise RuntimeError("no vision tower ('visual') found in the model")


def run_config(
    name: str, mode: str, temporal: bool, opts: argparse.Namespace, suite: Path, tmp: Path
) -> ConfigResult:
    import torch
    from peft import LoraConfig

    from videorft.models import build_processor
    from videorft.training.config import VideoDataArguments, VideoGRPOConfig
    from videorft.training.grpo_trainer import VideoGRPOTrainer
    from videorft.training.run import build_dataset

    cuda = torch.cuda.is_available()
    clock = _Clock(cuda)
    result = ConfigResult(name=name, mode=mode, temporal=temporal)
    size = "tiny" if opts.tiny else "7b"
    dtype = torch.bfloat16 if cuda else torch.float32
    started = clock.now()
    model = build_model(size, "cuda" if cuda else "cpu", dtype, opts.attn)
    vision_tower(model).requires_grad_(False)  # fine-tuning of the LLM: the vision tower stays as it is
    processor = build_processor(size)
    result.build_s = clock.now() - started

    data_args = VideoDataArguments(
        data=str(suite),
        tasks=["multiple_choice"],
        nframes=opts.nframes,
        max_pixels=opts.max_pixels,
        min_pixels=min(opts.max_pixels, 16 * 28 * 28),
        template="reasoning",
        prompt_style="think",
    )
    dataset, _ = build_dataset(data_args)
    G = opts.num_generations
    lora = mode == "lora"
    args = VideoGRPOConfig(
        output_dir=str(tmp / name),
        use_cpu=not cuda,
        bf16=cuda,
        per_device_train_batch_size=G,  # one prompt, G completions: Video-R1's per-device batch
        num_generations=G,
        shuffled_generations=G // 2,
        temporal=temporal,
        max_completion_length=opts.max_completion_length,
        temperature=1.0,
        # Video-R1: beta 0.04, lr 1e-6. A full-model reference copy (+15 GiB) does not fit next to full
        # fine-tuning's AdamW state on 80 GiB; with LoRA the reference is the adapter switched off (no copy).
        beta=0.04 if lora else 0.0,
        loss_type="grpo",
        learning_rate=1e-5 if lora else 1e-6,
        max_steps=opts.steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
        gradient_checkpointing=True,
        dataloader_num_workers=0,
        optim="adamw_torch" if lora else opts.full_optim,
    )
    peft_config = (
        LoraConfig(r=64, lora_alpha=128, lora_dropout=0.05, target_modules=LLM_LINEAR, task_type="CAUSAL_LM")
        if lora
        else None
    )

    current: list[StepTimes] = []
    vision_start: list[float] = []

    def pre_vision(_module: Any, _args: Any) -> None:
        vision_start.append(clock.now())

    def post_vision(_module: Any, _args: Any, _out: Any) -> None:
        if current and vision_start:
            current[-1].vision_s += clock.now() - vision_start.pop()

    tower = vision_tower(model)
    tower.register_forward_pre_hook(pre_vision)
    tower.register_forward_hook(post_vision)

    eos = set(model.generation_config.eos_token_id)
    original_generate = model.generate

    def timed_generate(*g_args: Any, **g_kwargs: Any) -> Any:
        t0 = clock.now()
        out = original_generate(*g_args, **g_kwargs)
        if current:
            current[-1].generation_s += clock.now() - t0
            prompt_len = (g_kwargs.get("input_ids") if "input_ids" in g_kwargs else g_args[0]).shape[1]
            ids = out.sequences if hasattr(out, "sequences") else out
            for row in ids[:, prompt_len:].tolist():
                stop = next((i for i, t in enumerate(row) if t in eos), len(row) - 1)
                current[-1].generated_tokens += stop + 1
        return out

    model.generate = timed_generate  # TRL calls the unwrapped model's generate (PEFT forwards to it)

    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def on_step_begin(self, _args, state, control, **kwargs):  # noqa: D401 - TrainerCallback signature
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            current.append(StepTimes(step=state.global_step + 1))
            current[-1].total_s = -clock.now()

        def on_step_end(self, _args, state, control, **kwargs):
            step = current[-1]
            step.total_s += clock.now()
            if cuda:
                step.peak_gib = torch.cuda.max_memory_allocated() / 2**30
            print(_format_step(name, step), flush=True)

    trainer = VideoGRPOTrainer(
        model=model,
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[StepClock()],
    )
    original_rollout = trainer._generate_and_score_completions

    def timed_rollout(inputs: Any) -> Any:
        t0 = clock.now()
        out = original_rollout(inputs)
        if current:
            current[-1].rollout_s += clock.now() - t0
        return out

    trainer._generate_and_score_completions = timed_rollout
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for noisy in (PrinterCallback, ProgressCallback):  # our StepClock prints one line per step instead
        trainer.remove_callback(noisy)
    result.trainable_params = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    result.total_params = sum(p.numel() for p in trainer.model.parameters())
    try:
        trainer.train()
    finally:
        result.steps = current
        if cuda:
            result.peak_gib = max((s.peak_gib for s in current), default=0.0)
        trainer.model = trainer.model_wrapped = None
        del trainer, model, tower
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return result


def _format_step(name: str, s: StepTimes) -> str:
    return (
        f"{name:>11} step {s.step}: {s.total_s:7.2f} s = generation {s.generation_s:6.2f} "
        f"(+ rewards/log-probs {max(0.0, s.rollout_s - s.generation_s):5.2f}) + loss {s.loss_s:6.2f}; "
        f"vision {s.vision_s:5.2f} s; {s.generated_tokens} tokens, {s.tokens_per_s:7.1f} tok/s; "
        f"peak {s.peak_gib:5.1f} GiB"
    )


def ratios(results: list[ConfigResult]) -> dict[str, float]:
    """T-GRPO / GRPO median step time (and generation time) per mode, where both ran."""
    by = {(r.mode, r.temporal): r for r in results if r.steps and not r.error}
    out = {}
    for mode in ("lora", "full"):
        t, g = by.get((mode, True)), by.get((mode, False))
        if t and g:
            out[f"{mode}_step"] = round(t.median("total_s") / g.median("total_s"), 3)
            out[f"{mode}_generation"] = round(t.median("generation_s") / g.median("generation_s"), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    import torch

    from videorft.data.synth import synthesize

    cuda = torch.cuda.is_available()
    if not cuda and not opts.tiny:
        print("gpu_check: no CUDA device; pass --tiny for the CPU dry run", file=sys.stderr)
        return 2
    started = time.perf_counter()
    env = environment()
    print(f"gpu_check: {env['device']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    budget = {
        "model": "tiny" if opts.tiny else "7b",
        "nframes": opts.nframes,
        "max_pixels": opts.max_pixels,
        "G": opts.num_generations,
        "shuffled": opts.num_generations // 2,
        "max_completion_length": opts.max_completion_length,
        "steps": opts.steps,
        "dtype": "bfloat16" if cuda else "float32",
        "gradient_checkpointing": True,
        "attn": opts.attn,
    }
    print("gpu_check: " + json.dumps(budget))
    if (note := transformers_note(env["versions"]["transformers"])) is not None:
        print(f"gpu_check: warning: {note}")
        env["note"] = note
    results: list[ConfigResult] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp_name:
        tmp = Path(tmp_name)
        suite = tmp / "suite"
        # 448x448 frames are scaled down into the budget (308x308 at 128*28*28: 121 tokens per 2 frames)
        synthesize(
            suite,
            n=20,
            seed=0,
            tasks=["multiple_choice"],
            size=112 if opts.tiny else 448,
            frames=opts.nframes,
            workers=1,
            progress=False,
        )
        last = 0.0
        for name in opts.configs:
            mode, temporal = name.split("-")[0], name.endswith("-tgrpo")
            elapsed = time.perf_counter() - started
            if results and elapsed + last > opts.budget_s:
                skipped.append(name)
                print(f"gpu_check: {name} skipped: {elapsed:.0f} s + ~{last:.0f} s would pass --budget-s")
                continue
            t0 = time.perf_counter()
            try:
                results.append(run_config(name, mode, temporal, opts, suite, tmp))
            except torch.cuda.OutOfMemoryError as exc:
                results.append(ConfigResult(name, mode, temporal, error=f"out of GPU memory: {exc}"[:400]))
            except Exception as exc:  # noqa: BLE001 - one broken configuration must not lose the others' figures
                tail = "".join(traceback.format_exception(exc)[-3:])
                print(f"gpu_check: {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
                results.append(
                    ConfigResult(name, mode, temporal, error=f"{type(exc).__name__}: {tail}"[-800:])
                )
            if results[-1].error:
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
            last = time.perf_counter() - t0
            print(f"gpu_check: {name} done in {last:.0f} s (model build {results[-1].build_s:.1f} s)")
            write_report(opts.json, env, budget, results, skipped, started)  # a timeout keeps what ran

    report = write_report(opts.json, env, budget, results, skipped, started)
    print_table(report)
    return 1 if any(r.error for r in results) else 0


def write_report(
    path: Path | None,
    env: dict[str, Any],
    budget: dict[str, Any],
    results: list[ConfigResult],
    skipped: list[str],
    started: float,
) -> dict[str, Any]:
    report = {
        "environment": env,
        "budget": budget,
        "configs": [r.summary() for r in results],
        "tgrpo_over_grpo": ratios(results),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))
    return report


def print_table(report: dict[str, Any]) -> None:
    print("\n| config | step s | generation s | vision s | loss s | tokens/s | peak GiB | trainable |")
    print("|---|---|---|---|---|---|---|---|")
    for c in report["configs"]:
        if "median" not in c:
            print(f"| {c['name']} | {c.get('error', 'no steps')} |||||||")
            continue
        m = c["median"]
        print(
            f"| {c['name']} | {m['total_s']} | {m['generation_s']} | {m['vision_s']} | {m['loss_s']} "
            f"| {m['tokens_per_s']} | {m['peak_gib']} | {c['trainable_params']:,} |"
        )
    print(f"\nT-GRPO / GRPO: {json.dumps(report['tgrpo_over_grpo'])}")
    print(f"device: {report['environment']['device']}; total {report['seconds']} s")


if __name__ == "__main__":
    raise SystemExit(main())

"""T-GRPO overhead (issue #8, item 2): training-step time of T-GRPO vs plain GRPO, same model, data and G.

Four trainers on the same model weights, the same batch (one prompt group per step, as both papers train) and
the same G; their steps are interleaved round by round so background load hits all alike:

* ``grpo``: plain GRPO with vision-feature sharing (the default, ``share_vision_features=True``);
* ``tgrpo``: T-GRPO as shipped: shuffled prompts in the same ``generate`` call as the ordered ones, their
  vision features reused (permuted) from the ordered video;
* ``grpo_unshared``: plain GRPO with the vision tower run per row (``share_vision_features=False``);
* ``naive_tgrpo``: T-GRPO as simple implementations do it: vision tower per row, shuffled completions
  generated in a second ``generate`` call (``SeparateShuffledGeneration`` below, benchmark only).

A step = generation + rewards + reference/old log-probs + loss forward/backward + optimizer step
(``training_step`` as TRL's loop calls it). Every completion is forced to full length (``min_new_tokens``) so
that random-weight EOS draws do not change the work. Reported: median over the measured steps after warm-up, in
CPU time of this process (the machine may be shared) and wall time, plus the videos the vision tower encoded.

``tgrpo_step_ratio`` = tgrpo / grpo; ``naive_tgrpo_step_ratio`` = naive_tgrpo / grpo_unshared (each T-GRPO
against the GRPO of its own implementation); both in CPU time. Run: ``python benchmarks/bench_tgrpo.py
[--quick]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: (frames, frame side in px, G, max completion tokens, measured steps, warm-up steps)
QUICK = {"frames": 16, "side": 112, "G": 8, "completion": 24, "steps": 3, "warmup": 1}
FULL = {"frames": 16, "side": 112, "G": 8, "completion": 32, "steps": 5, "warmup": 1}
VARIANTS = ("grpo", "tgrpo", "grpo_unshared", "naive_tgrpo")


def _naive_trainer_class() -> type:
    from trl import GRPOTrainer

    from videorft.training.cpu_trainer import CPUGRPOTrainer

    class SeparateShuffledGeneration(CPUGRPOTrainer):
        """T-GRPO with the shuffled completions generated in their own ``generate`` call (benchmark only)."""

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):  # fmt: skip
            batch = self._batch
            shuffled, batch.shuffled = batch.shuffled, None
            try:  # ordered prompts only
                out = super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images
                )
            finally:
                batch.shuffled = shuffled
            if shuffled and shuffled.ids:
                fields = self._generation_fields(shuffled)
                ids, _ = GRPOTrainer._generate_single_turn(self, shuffled.ids, None, fields, num_generations)
                batch.shuffled_completion_ids = ids
            return out

    return SeparateShuffledGeneration


def _length_reward(prompts: list, completions: list, **_: Any) -> list[float]:
    """Varies within a group, so advantages (and the loss gradient) are non-zero with random weights."""
    from videorft.rewards.trl import completion_text

    return [float(len(completion_text(c))) for c in completions]


def _build(variant: str, model_dir: Path, suite: Path, out: Path, cfg: dict) -> Any:
    from videorft.models.loading import load_model, load_processor
    from videorft.rewards.trl import TaskRewardFunction
    from videorft.training.config import VideoDataArguments, VideoGRPOConfig
    from videorft.training.cpu_trainer import CPUGRPOTrainer  # what use_cpu runs
    from videorft.training.run import build_dataset

    side = cfg["side"]
    data_args = VideoDataArguments(
        data=str(suite),
        tasks=["multiple_choice"],
        nframes=cfg["frames"],
        min_pixels=side * side,
        max_pixels=side * side,
    )
    args = VideoGRPOConfig(
        output_dir=str(out / variant),
        use_cpu=True,
        per_device_train_batch_size=cfg["G"],
        num_generations=cfg["G"],
        temporal=variant in ("tgrpo", "naive_tgrpo"),
        share_vision_features=variant in ("grpo", "tgrpo"),
        max_completion_length=cfg["completion"],
        generation_kwargs={"min_new_tokens": cfg["completion"]},
        beta=0.04,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        shuffle_dataset=False,
        seed=0,
    )
    dataset, _ = build_dataset(data_args)
    task_reward = TaskRewardFunction(use_format=True, judge="offline")
    cls = _naive_trainer_class() if variant == "naive_tgrpo" else CPUGRPOTrainer
    trainer = cls(
        model=load_model(str(model_dir)),
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(model_dir)),
        reward_funcs=[task_reward, _length_reward],
    )
    trainer.current_gradient_accumulation_steps = 1  # set by TRL's training loop otherwise
    trainer.create_optimizer()
    trainer.model.train()
    return trainer


def _step(trainer: Any, batch: list[dict]) -> None:
    trainer.training_step(trainer.model, batch, None)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad()


def prepare(tmp: Path, cfg: dict) -> tuple[Path, Path]:
    """A tiny random-weight model and a few synthetic multiple-choice videos (long enough for the frames)."""
    from videorft.data.synth import synthesize
    from videorft.models import init_model

    model_dir = init_model("tiny", tmp / "model", seed=0)
    suite = tmp / "suite"
    synthesize(
        suite, n=6, seed=0, tasks=["multiple_choice"], size=max(112, cfg["side"]), frames=16,
        duration=(8.0, 10.0), fps=(8, 10), progress=False,
    )  # fmt: skip
    return model_dir, suite


def run(quick: bool) -> dict:
    """Time every variant and return medians, ratios and vision-tower counts."""
    import torch

    cfg = QUICK if quick else FULL
    threads = torch.get_num_threads()
    # One thread: on a shared machine, idle OpenMP workers spin while descheduled, which inflates CPU time
    # several-fold and unevenly; single-threaded CPU time measures the work itself.
    torch.set_num_threads(1)
    try:
        return _run(cfg, quick)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: dict, quick: bool) -> dict:
    import torch

    with tempfile.TemporaryDirectory(prefix="bench_tgrpo_") as tmp:
        model_dir, suite = prepare(Path(tmp), cfg)
        trainers = {v: _build(v, model_dir, suite, Path(tmp), cfg) for v in VARIANTS}
        batch = next(iter(trainers["grpo"].get_train_dataloader()))  # the same prompt group for every variant
        encoded = {v: 0 for v in VARIANTS}
        for v, trainer in trainers.items():

            def count(mod, args, kwargs, out, v=v):
                encoded[v] += int(kwargs["grid_thw"].size(0))

            trainer.model.model.visual.register_forward_hook(count, with_kwargs=True)
        encoded_per_step: dict[str, int] = {}
        wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for r in range(cfg["warmup"] + cfg["steps"]):
            order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]  # alternate who goes first
            for v in order:
                encoded_before = encoded[v]
                torch.manual_seed(r)
                w0, c0 = time.perf_counter(), time.process_time()
                _step(trainers[v], batch)
                w1, c1 = time.perf_counter(), time.process_time()
                if r >= cfg["warmup"]:
                    wall[v].append(w1 - w0)
                    cpu[v].append(c1 - c0)
                encoded_per_step[v] = encoded[v] - encoded_before
            print(f"bench_tgrpo: round {r + 1}/{cfg['warmup'] + cfg['steps']}", file=sys.stderr)
        G = cfg["G"]
        shuffled = trainers["tgrpo"].args.shuffled_generations

    med_cpu = {v: statistics.median(cpu[v]) for v in VARIANTS}
    med_wall = {v: statistics.median(wall[v]) for v in VARIANTS}
    return {
        "tgrpo_step_ratio": round(med_cpu["tgrpo"] / med_cpu["grpo"], 3),
        "naive_tgrpo_step_ratio": round(med_cpu["naive_tgrpo"] / med_cpu["grpo_unshared"], 3),
        "tgrpo_step_ratio_wall": round(med_wall["tgrpo"] / med_wall["grpo"], 3),
        "naive_tgrpo_step_ratio_wall": round(med_wall["naive_tgrpo"] / med_wall["grpo_unshared"], 3),
        "naive_tgrpo_vs_grpo": round(med_cpu["naive_tgrpo"] / med_cpu["grpo"], 3),
        "vision_sharing_speedup": round(med_cpu["grpo_unshared"] / med_cpu["grpo"], 3),
        "step_cpu_s": {v: round(x, 4) for v, x in med_cpu.items()},
        "step_wall_s": {v: round(x, 4) for v, x in med_wall.items()},
        "vision_videos_per_step": encoded_per_step,
        "setup": {
            "model": "tiny (random weights)",
            "G": G,
            "shuffled_generations": shuffled,
            "prompt_groups_per_step": 1,
            "frames": cfg["frames"],
            "frame_px": f"{cfg['side']}x{cfg['side']}",
            "completion_tokens": cfg["completion"],
            "measured_steps": cfg["steps"],
            "warmup_steps": cfg["warmup"],
            "threads": torch.get_num_threads(),
        },
        "quick": quick,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))

"""Data path (issue #21, section 4): GRPO step time with frames decoded inline vs in data-loader workers.

The same tiny random-weight model, data, seed and batch schedule trained by TRL's loop twice per round:
``dataloader_num_workers=0`` (the trainer decodes frames and runs the processor when a generation batch
arrives) and ``dataloader_num_workers=WORKERS`` (workers prepare the next batches while the model generates
and trains; ``training/rollout_data.py``). Rounds alternate which goes first, so background load hits both.
A step's time is the wall time between consecutive ``on_step_end`` callbacks (data wait included); the first
``warmup`` steps (worker start-up, first batch) are dropped. Also reported: the main process's CPU time per
step (decode work leaves it with workers) and the time to prepare one generation batch alone.

``decode_overlap_speedup`` = inline / overlapped median step wall time. On a shared 2-core machine the
worker competes with the trainer and other jobs for the same cores, so the gain is bounded by what is idle.
Run: ``python benchmarks/bench_data.py [--quick]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: prompts per step (G rows each), frames, frame side in px, source video side, measured + warm-up steps, rounds
QUICK = {"prompts": 2, "G": 4, "frames": 16, "side": 112, "source": 448, "completion": 8, "steps": 4,
         "warmup": 1, "rounds": 1, "workers": 1}  # fmt: skip
#: full: larger source videos (decoding costs more, as with real 480p-1080p data) and two rounds
FULL = {**QUICK, "source": 720, "steps": 6, "rounds": 2}


def _prepare(tmp: Path, cfg: dict) -> tuple[Path, Path]:
    from videorft.data.synth import synthesize
    from videorft.models import init_model

    model_dir = init_model("tiny", tmp / "model", seed=0)
    suite = tmp / "suite"
    n = cfg["prompts"] * (cfg["warmup"] + cfg["steps"]) + 2  # every step new videos: nothing cached
    synthesize(
        suite, n=n, seed=0, tasks=["multiple_choice"], size=cfg["source"], frames=16,
        duration=(8.0, 10.0), fps=(24, 30), progress=False,
    )  # fmt: skip
    return model_dir, suite


def _train(model_dir: Path, suite: Path, out: Path, cfg: dict, workers: int) -> dict[str, list[float]]:
    from transformers import TrainerCallback

    from videorft.models.loading import load_model, load_processor
    from videorft.training.config import VideoDataArguments, VideoGRPOConfig
    from videorft.training.grpo_trainer import VideoGRPOTrainer
    from videorft.training.run import build_dataset

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.wall: list[float] = []
            self.cpu: list[float] = []
            self._last = (time.perf_counter(), time.process_time())

        def on_step_end(self, args, state, control, **kwargs):
            now = (time.perf_counter(), time.process_time())
            self.wall.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
            self._last = now

    side = cfg["side"]
    data_args = VideoDataArguments(
        data=str(suite), tasks=["multiple_choice"], nframes=cfg["frames"], min_pixels=side * side,
        max_pixels=side * side,
    )  # fmt: skip
    args = VideoGRPOConfig(
        output_dir=str(out),
        use_cpu=True,
        per_device_train_batch_size=cfg["prompts"] * cfg["G"],
        num_generations=cfg["G"],
        max_completion_length=cfg["completion"],
        generation_kwargs={"min_new_tokens": cfg["completion"]},
        max_steps=cfg["warmup"] + cfg["steps"],
        dataloader_num_workers=workers,
        report_to="none",
        save_strategy="no",
        logging_steps=1000,
        seed=0,
    )
    dataset, _ = build_dataset(data_args)
    clock = StepClock()
    trainer = VideoGRPOTrainer(
        model=load_model(str(model_dir)),
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(model_dir)),
        callbacks=[clock],
    )
    clock._last = (time.perf_counter(), time.process_time())
    trainer.train()
    return {"wall": clock.wall[cfg["warmup"] :], "cpu": clock.cpu[cfg["warmup"] :]}


def _prepare_batch_s(model_dir: Path, suite: Path, cfg: dict) -> float:
    """Seconds to decode and encode one generation batch's distinct rows (what the workers take off the trainer)."""
    from videorft.inputs import SampleEncoder
    from videorft.models.loading import load_processor
    from videorft.training.config import VideoDataArguments
    from videorft.training.media_skips import MediaSkips
    from videorft.training.rollout_data import RolloutCollator
    from videorft.training.run import build_dataset

    side = cfg["side"]
    data_args = VideoDataArguments(
        data=str(suite), tasks=["multiple_choice"], nframes=cfg["frames"], min_pixels=side * side,
        max_pixels=side * side,
    )  # fmt: skip
    dataset, _ = build_dataset(data_args)
    encoder = SampleEncoder.from_data_args(load_processor(str(model_dir)), data_args)
    collate = RolloutCollator(encoder, MediaSkips(dataset))
    times = []
    for b in range(3):
        rows = [dataset[b * cfg["prompts"] + i] for i in range(cfg["prompts"]) for _ in range(cfg["G"])]
        start = time.perf_counter()
        collate(rows)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(quick: bool) -> dict:
    import torch

    cfg = QUICK if quick else FULL
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as bench_tgrpo: one trainer thread; the worker gets the other core
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
            model_dir, suite = _prepare(Path(tmp), cfg)
            modes = {"inline": 0, "overlapped": cfg["workers"]}
            wall: dict[str, list[float]] = {m: [] for m in modes}
            cpu: dict[str, list[float]] = {m: [] for m in modes}
            for r in range(cfg["rounds"]):
                for mode in modes if r % 2 == 0 else list(modes)[::-1]:
                    times = _train(model_dir, suite, Path(tmp) / f"{mode}{r}", cfg, modes[mode])
                    wall[mode] += times["wall"]
                    cpu[mode] += times["cpu"]
                    print(f"bench_data: round {r + 1}/{cfg['rounds']} {mode} done", file=sys.stderr)
            batch_s = _prepare_batch_s(model_dir, suite, cfg)
    finally:
        torch.set_num_threads(threads)
    med_wall = {m: statistics.median(v) for m, v in wall.items()}
    med_cpu = {m: statistics.median(v) for m, v in cpu.items()}
    return {
        "decode_inline_step_s": round(med_wall["inline"], 4),
        "decode_overlapped_step_s": round(med_wall["overlapped"], 4),
        "decode_overlap_speedup": round(med_wall["inline"] / med_wall["overlapped"], 3),
        "decode_inline_step_cpu_s": round(med_cpu["inline"], 4),
        "decode_overlapped_step_cpu_s": round(med_cpu["overlapped"], 4),
        "prepare_generation_batch_s": round(batch_s, 4),
        "step_wall_s": {m: [round(x, 3) for x in v] for m, v in wall.items()},
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "setup": {
            "model": "tiny (random weights)",
            "prompts_per_step": cfg["prompts"],
            "G": cfg["G"],
            "frames": cfg["frames"],
            "frame_px": f"{cfg['side']}x{cfg['side']}",
            "source_video_px": f"{cfg['source']}x{cfg['source']}, 24-30 fps, 8-10 s, h264",
            "completion_tokens": cfg["completion"],
            "measured_steps_per_run": cfg["steps"],
            "warmup_steps": cfg["warmup"],
            "rounds": cfg["rounds"],
            "workers": cfg["workers"],
            "trainer_threads": 1,
        },
        "quick": quick,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))

"""Memory scaling (issue #8, item 4): peak RSS of one GRPO training step as frames and pixels grow.

Each setting runs in a fresh subprocess (``--child SETTING_JSON``): build the tiny model's trainer, take one
warm-up step, reset the kernel's peak-RSS counter (``/proc/self/clear_refs``), take a second step and read
``VmHWM``. Three series, all with G = 4 rows and the same synthetic video:

* ``frames_fixed_pixels``: 4 -> 64 frames at a fixed per-frame cap (Video-R1's ``max_pixels`` style): memory
  should grow with the frames;
* ``frames_total_budget``: 4 -> 64 frames under one ``total_pixels`` budget (VideoChat-R1's style): per-frame
  pixels shrink as frames grow, so video tokens and memory should stay flat;
* ``pixels``: 16 frames at growing per-frame caps.

Run: ``python benchmarks/bench_memory.py [--quick] [--plot PATH]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SIDE = 224  # per-frame cap of the first series: 128 -> 2048 video tokens over 4 -> 64 frames
TOTAL = 8 * 224 * 224  # the total_pixels budget of the second series
QUICK_FRAMES = (4, 16, 64)
FULL_FRAMES = (4, 8, 16, 32, 64)
QUICK_SIDES = (56, 112, 224)
FULL_SIDES = (56, 112, 168, 224)


def settings(quick: bool) -> list[dict[str, Any]]:
    frames = QUICK_FRAMES if quick else FULL_FRAMES
    sides = QUICK_SIDES if quick else FULL_SIDES
    out = [
        {"series": "frames_fixed_pixels", "nframes": f, "max_pixels": SIDE * SIDE, "total_pixels": None}
        for f in frames
    ]
    out += [
        {"series": "frames_total_budget", "nframes": f, "max_pixels": 224 * 224, "total_pixels": TOTAL}
        for f in frames
    ]
    out += [{"series": "pixels", "nframes": 16, "max_pixels": s * s, "total_pixels": None} for s in sides]
    return out


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def child(setting: dict[str, Any], model_dir: str, suite: str, out: str) -> dict[str, Any]:
    """One setting in this (fresh) process: two steps, peak RSS of the second."""
    import torch

    from videorft.models.loading import load_model, load_processor
    from videorft.training.config import VideoDataArguments, VideoGRPOConfig
    from videorft.training.cpu_trainer import CPUGRPOTrainer  # what use_cpu runs
    from videorft.training.run import build_dataset

    torch.set_num_threads(1)
    data_args = VideoDataArguments(
        data=suite,
        tasks=["multiple_choice"],
        nframes=setting["nframes"],
        max_frames=max(64, setting["nframes"]),
        min_pixels=28 * 28,
        max_pixels=setting["max_pixels"],
        total_pixels=setting["total_pixels"],
    )
    args = VideoGRPOConfig(
        output_dir=out,
        use_cpu=True,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        beta=0.04,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        shuffle_dataset=False,
        seed=0,
    )
    dataset, _ = build_dataset(data_args)
    trainer = CPUGRPOTrainer(
        model=load_model(model_dir),
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(model_dir),
    )
    trainer.current_gradient_accumulation_steps = 1
    trainer.create_optimizer()
    trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))

    def step() -> None:
        trainer.training_step(trainer.model, batch, None)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()

    step()  # warm-up: first-call allocations, optimizer state
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    step()
    peak = _rss_kib("VmHWM")
    grid = trainer._batch.ordered.vision[0].video_grid_thw[0].tolist()
    return {
        **setting,
        "frames_sampled": int(grid[0]) * 2,
        "frame_px": f"{int(grid[2]) * 14}x{int(grid[1]) * 14}",
        "video_tokens": int(grid[0] * grid[1] * grid[2] // 4),
        "rss_before_mib": round(before / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "step_peak_increase_mib": round((peak - before) / 1024, 1),
    }


def _run_child(setting: dict, model_dir: Path, suite: Path, tmp: Path, i: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps(setting),
        str(model_dir),
        str(suite),
        str(tmp / f"run{i}"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-5:]
        return {**setting, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool, plot: str | Path | None = None, workers: int = 2) -> dict:
    """All settings, ``workers`` subprocesses at a time (memory, not time, is measured)."""
    from videorft.data.synth import synthesize
    from videorft.models import init_model

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp_s:
        tmp = Path(tmp_s)
        model_dir = init_model("tiny", tmp / "model", seed=0)
        suite = tmp / "suite"
        synthesize(
            suite, n=6, seed=0, tasks=["multiple_choice"], size=224, frames=16, duration=(10.0, 12.0),
            fps=(8, 10), progress=False,
        )  # fmt: skip
        todo = settings(quick)
        with ThreadPoolExecutor(workers) as pool:
            rows = list(pool.map(lambda a: _run_child(a[1], model_dir, suite, tmp, a[0]), enumerate(todo)))
    result: dict[str, Any] = {"rows": rows, "quick": quick, "seconds": round(time.perf_counter() - start, 1)}
    ok = [r for r in rows if "error" not in r]
    result["errors"] = len(rows) - len(ok)

    def growth(series: str) -> float | None:
        pts = sorted((r["nframes"], r["peak_rss_mib"]) for r in ok if r["series"] == series)
        return round(pts[-1][1] / max(pts[0][1], 1e-9), 2) if len(pts) >= 2 else None

    result["peak_rss_growth_frames_fixed_pixels"] = growth("frames_fixed_pixels")
    result["peak_rss_growth_frames_total_budget"] = growth("frames_total_budget")
    if plot is not None and ok:
        result["plot"] = str(make_plot(ok, Path(plot)))
    return result


def make_plot(rows: list[dict], path: Path) -> Path:
    """Peak step memory against frames (two budget styles) and against pixels per frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for series, label in (
        ("frames_fixed_pixels", f"per-frame cap {SIDE}x{SIDE}"),
        ("frames_total_budget", "total_pixels = 8*224*224"),
    ):
        pts = sorted(
            (r["nframes"], r["peak_rss_mib"], r["video_tokens"]) for r in rows if r["series"] == series
        )
        if pts:
            ax1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("frames sampled")
    ax1.set_ylabel("peak RSS during a step (MiB)")
    ax1.set_title("Frames grow (tiny model, G=4)")
    ax1.legend()
    pts = sorted((r["max_pixels"], r["peak_rss_mib"]) for r in rows if r["series"] == "pixels")
    if pts:
        ax2.plot([p[0] / 1000 for p in pts], [p[1] for p in pts], marker="o", color="C2")
    ax2.set_xlabel("pixels per frame (thousands), 16 frames")
    ax2.set_ylabel("peak RSS during a step (MiB)")
    ax2.set_title("Pixels grow")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]), *sys.argv[3:6])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot", default=None, help="write the plot here (PNG)")
    a = parser.parse_args()
    print(json.dumps(run(a.quick, a.plot), indent=2))

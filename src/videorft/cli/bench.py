"""`videorft bench`: run the benchmarks in ``benchmarks/``; ``--output PATH`` writes the Markdown report
(``--output docs/performance.md`` regenerates the docs page). Without ``--output`` nothing is written anywhere.

Every figure is a ratio against a baseline measured in the same run. With ``--json`` one JSON object goes to
stdout (``frame_loading_speedup``, ``tgrpo_step_ratio``, ``decode_overlap_speedup``, ``rule_rewards_per_s``, ...,
and each benchmark's full result); progress goes to stderr. The benchmarks are files of a source checkout, not
part of the installed package: ``--benchmarks-dir`` points at them when the default (next to ``src/``) is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

#: benchmark name -> file in benchmarks/ (each exposes ``run(quick) -> dict``)
BENCHMARKS: dict[str, str] = {
    "frames": "bench_frames.py",
    "tgrpo": "bench_tgrpo.py",
    "rewards": "bench_rewards.py",
    "memory": "bench_memory.py",
    "gpu": "bench_gpu.py",
    "rollouts": "bench_rollouts.py",
    "data": "bench_data.py",
    "cpu_step": "bench_cpu_step.py",
}
HEADLINE = (
    "frame_loading_speedup",
    "tgrpo_step_ratio",
    "naive_tgrpo_step_ratio",
    "rule_rewards_per_s",
    "hf_generate_tokens_per_s",
    "vllm_tokens_per_s",
    "vllm_rollout_speedup",
    "decode_inline_step_s",
    "decode_overlapped_step_s",
    "decode_overlap_speedup",
)
_REPO = Path(__file__).resolve().parents[3]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smaller workloads (about 5 minutes on 2 cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every result")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run only this benchmark (repeatable; default: all)",
    )
    parser.add_argument(
        "--output",
        default=None,
        metavar="PATH",
        help="write the Markdown report here, and the memory plot next to it (default: write nothing; "
        "docs/performance.md regenerates the docs page)",
    )
    parser.add_argument(
        "--benchmarks-dir",
        default=None,
        metavar="DIR",
        help="folder of the bench_*.py files (default: benchmarks/)",
    )


def load_benchmark(folder: Path, name: str) -> Any:
    """The module of ``benchmarks/<file>`` (not a package: loaded by path); the error lists valid names."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    path = folder / BENCHMARKS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: benchmark file not found (run from a source checkout or pass --benchmarks-dir)"
        )
    spec = importlib.util.spec_from_file_location(f"videorft_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    # no benchmarks/__pycache__: a run writes nothing into the checkout unless --output says so
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def machine() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = Path(args.benchmarks_dir) if args.benchmarks_dir else _REPO / "benchmarks"
    names = args.only or list(BENCHMARKS)
    command = (
        "videorft bench"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {n}" for n in args.only or [])
        + (f" --output {args.output}" if _writes(args) else "")
    )
    report: dict[str, Any] = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
    }
    results: dict[str, Any] = {}
    if _writes(args):
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        module = load_benchmark(folder, name)
        print(f"videorft bench: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if name == "memory" and _writes(args):
            kwargs["plot"] = Path(args.output).parent / "memory_scaling.png"
        # stdout belongs to the JSON object: benchmark prints go to stderr
        stdout, sys.stdout = sys.stdout, sys.stderr
        try:
            results[name] = module.run(args.quick, **kwargs)
        finally:
            sys.stdout = stdout
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
        print(f"videorft bench: {name} done in {results[name]['seconds']} s", file=sys.stderr, flush=True)
    for name in names:
        for key in HEADLINE:
            if key in results[name]:
                report[key] = results[name][key]
    report["results"] = results
    if _writes(args):
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text() if path.exists() else ""
        path.write_text(render_markdown(report) + hand_written(old))
        print(f"videorft bench: wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        for key in HEADLINE:
            if key in report:
                print(f"{key}: {report[key]}")
    return 0


def _writes(args: argparse.Namespace) -> bool:
    """Only an explicit ``--output`` writes files ('none' is still accepted: the old opt-out)."""
    return bool(args.output) and args.output != "none"


def _table(rows: list[dict], cols: list[str]) -> list[str]:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return out


#: Everything from this line to the end of docs/performance.md is written by hand (the GPU check, the demo's
#: wall time) and kept when `videorft bench` rewrites the generated part above it.
HAND_WRITTEN = "<!-- hand-written below: kept by `videorft bench` -->"


def hand_written(old: str) -> str:
    """The hand-written tail of an existing report (from ``HAND_WRITTEN`` on), or nothing."""
    at = old.find(HAND_WRITTEN)
    return "\n" + old[at:] if at >= 0 else ""


def render_markdown(report: dict[str, Any]) -> str:
    """docs/performance.md: machine, command, date, the headline table and each benchmark's details."""
    r = report["results"]
    m = report["machine"]
    lines = [
        "# Performance",
        "",
        "Generated by `"
        + report["command"]
        + "` on "
        + report["date"]
        + ". Every figure is a ratio against a",
        "baseline measured in the same run on the same machine. Regenerate with",
        "`videorft bench --output docs/performance.md` (full) or `python benchmarks/run_all.py`; see the notes",
        "at the end for what each number means.",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, GPU: {m.get('gpu') or 'none'}; Python {m.get('python')}, "
        f"torch {m.get('torch')}; load average at start {m.get('load_average_at_start')} (shared machine).",
        "",
        "## Summary",
        "",
        "| item | measured | target | met |",
        "|---|---|---|---|",
    ]
    if "frames" in r:
        f = r["frames"]
        lines.append(
            f"| 1. frame loading: full-decode time / our time (long videos, sparse budgets) | "
            f"{f['frame_loading_speedup']}x (CPU time {f.get('frame_loading_speedup_cpu')}x; "
            f"dense 2-fps {f.get('frame_loading_speedup_dense')}x; short {f.get('frame_loading_speedup_short')}x); "
            f"identical frames: {f['all_frames_identical']} | >= 2x | {_met(f['frame_loading_speedup'] >= 2)} |"
        )
    if "tgrpo" in r:
        t = r["tgrpo"]
        lines.append(
            f"| 2. T-GRPO step / GRPO step (CPU time) | {t['tgrpo_step_ratio']}x (wall {t['tgrpo_step_ratio_wall']}x); "
            f"naive T-GRPO {t['naive_tgrpo_step_ratio']}x (wall {t['naive_tgrpo_step_ratio_wall']}x) | <= 1.3x | "
            f"{_met(t['tgrpo_step_ratio'] <= 1.3)} |"
        )
    if "rewards" in r:
        w = r["rewards"]
        lines.append(
            f"| 3. rule rewards, completions/s on one core | {w['rule_rewards_per_s']:,.0f} | >= 10,000 | "
            f"{_met(w['rule_rewards_per_s'] >= 10_000)} |"
        )
        hit = next((v for k, v in w.items() if "hit_rate" in k), None)
        if hit is not None:
            lines.append(f"| 3. caption judge cache hit rate | {hit} | reported | - |")
    if "memory" in r:
        mem = r["memory"]
        lines.append(
            f"| 4. peak RSS growth, 4 -> 64 frames: per-frame cap / total budget | "
            f"{mem.get('peak_rss_growth_frames_fixed_pixels')}x / {mem.get('peak_rss_growth_frames_total_budget')}x "
            f"| budgets bound memory | see 4 |"
        )
    if "gpu" in r:
        g = r["gpu"]
        lines.append(f"| 5. GPU | {g.get('skipped') or g.get('card')} | measured when a GPU exists | - |")
    lines += ["", "Timings: " + ", ".join(f"{k} {v['seconds']} s" for k, v in r.items()) + "."]
    if "frames" in r:
        lines += ["", "## 1. Frame loading", ""]
        lines += _table(
            r["frames"]["rows"],
            ["video", "codec", "size", "budget", "sampled", "ours_s", "full_decode_s", "speedup", "cpu_speedup",
             "identical_frames", "decord_s", "torchcodec_s"],
        )  # fmt: skip
        lines += [f"- note: {n}" for n in r["frames"].get("notes", [])]
    if "tgrpo" in r:
        t = r["tgrpo"]
        rows = [
            {"variant": v, "cpu_s": t["step_cpu_s"][v], "wall_s": t["step_wall_s"][v],
             "vision_videos_per_step": t["vision_videos_per_step"][v]}
            for v in t["step_cpu_s"]
        ]  # fmt: skip
        lines += [
            "",
            "## 2. T-GRPO overhead",
            "",
            f"Setup: `{json.dumps(t['setup'])}`. Median step time:",
            "",
        ]
        lines += _table(rows, ["variant", "cpu_s", "wall_s", "vision_videos_per_step"])
        lines += [
            "",
            f"Vision-feature sharing alone speeds plain GRPO up {t['vision_sharing_speedup']}x; naive T-GRPO costs "
            f"{t['naive_tgrpo_vs_grpo']}x the shipped GRPO step.",
        ]
    if "rewards" in r:
        lines += ["", "## 3. Reward throughput", ""]
        lines += _table(
            [
                {"metric": k, "value": round(v, 3) if isinstance(v, float) else v}
                for k, v in r["rewards"].items()
            ],
            ["metric", "value"],
        )
    if "memory" in r:
        mem = r["memory"]
        lines += ["", "## 4. Memory scaling", "", "![memory scaling](memory_scaling.png)", ""]
        lines += _table(
            mem["rows"],
            ["series", "nframes", "max_pixels", "total_pixels", "frames_sampled", "frame_px", "video_tokens",
             "rss_before_mib", "peak_rss_mib", "step_peak_increase_mib"],
        )  # fmt: skip
    if "gpu" in r:
        lines += ["", "## 5. GPU", "", "```json", json.dumps(r["gpu"], indent=2), "```"]
    if "rollouts" in r:
        lines += [
            "",
            "## 6. Rollouts: HF generate vs vLLM",
            "",
            "Same tiny model, prompts, frames, completions and tokens (`benchmarks/bench_rollouts.py`);"
            " vLLM engine start-up is not in the rate.",
            "",
            "```json",
            json.dumps(r["rollouts"], indent=2),
            "```",
        ]
    if "data" in r:
        lines += ["", "## 7. Data path: frames decoded inline vs in data-loader workers", ""]
        lines += ["GRPO steps through TRL's loop (`benchmarks/bench_data.py`).", "", "```json"]
        lines += [json.dumps(r["data"], indent=2), "```"]
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


NOTES = """## Notes: how these were measured

- **Frame loading** (`benchmarks/bench_frames.py`): our sampler (packet index, seek, decode only the needed
  frames, one-pass resize) against decoding every frame and keeping the same indices, on rendered h264 / mpeg4 /
  vp9 videos; frames are checked equal pixel for pixel. decord / torchcodec columns appear when installed.
- **T-GRPO overhead** (`benchmarks/bench_tgrpo.py`): four trainers on the same tiny random-weight model, the
  same prompt group (G = 8, S = 4 shuffled) and the same forced completion length, steps interleaved round by
  round. A step = generation, rewards, reference log-probs, loss forward/backward and the optimizer step. Ratios
  use single-threaded CPU time of this process: on a shared 2-core machine, multi-threaded OpenMP workers spin
  while descheduled and inflate CPU time several-fold (wall time is given beside). `tgrpo` shares vision features
  (one vision-tower pass per distinct video; the patch-shuffled copies reuse them permuted, exactly) and generates
  the shuffled completions in the same `generate` call; `naive_tgrpo` recomputes the vision tower per row and
  generates the shuffled completions in a second call. `tgrpo_step_ratio` = tgrpo / grpo, and
  `naive_tgrpo_step_ratio` = naive_tgrpo / grpo_unshared (each against GRPO of its own implementation). With the
  tiny model the 152k-token LM head dominates and the vision tower is cheap; at 7B scale the vision tower is a
  larger share of the step, so sharing saves more there (the GPU benchmark measures it when a GPU is lent).
- **Rewards** (`benchmarks/bench_rewards.py`): rule rewards over a mix of realistic, wrong and malformed
  completions on one core; the caption judge against a local stub with fixed latency (client concurrency and
  cache), so its numbers measure the client, not a model.
- **Memory** (`benchmarks/bench_memory.py`): a fresh process per setting; one warm-up GRPO step, then the kernel's
  peak-RSS counter is reset and a second step is measured (`VmHWM`). `video_tokens` shows the budget at work:
  under `total_pixels` the tokens stop growing once the budget binds, whatever the frame count, and peak RSS
  stays flat from 16 to 64 frames; under a per-frame cap alone, tokens grow 16x and peak RSS with them. With
  the tiny model, memory below ~500 video tokens is dominated by the 152k-vocabulary logits and the model
  copies, so small videos barely move it; the token counts are what the budgets control at any model size.
- **GPU** (`benchmarks/bench_gpu.py`): only where CUDA exists; otherwise skipped with a note.
"""

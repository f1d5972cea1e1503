"""`videorft bench`: run the benchmarks in ``benchmarks/``; ``--output PATH`` writes the Markdown report
(``--output docs/performance.md`` regenerates the docs page). Without ``--output`` nothing is written anywhere.

Every figure is a ratio against a baseline measured in the same run. With ``--json`` one JSON object goes to
stdout (``frame_loading_speedup``, ``tgrpo_step_ratio``, ``decode_overlap_speedup``, ``rule_rewards_per_s``, ...,
and each benchmark's full result); progress goes to stderr. The benchmarks are files of a source checkout, not
part of the installed package: ``--benchmarks-dir`` points at them when the default (next to ``src/``) is absent.
"""

from __future__ import annotations

import argparse
import contextlib
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
    if _writes(args):  # before the memory benchmark writes its plot there
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        module = load_benchmark(folder, name)
        print(f"videorft bench: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if name == "memory" and _writes(args):
            kwargs["plot"] = Path(args.output).parent / "memory_scaling.png"
        with contextlib.redirect_stdout(sys.stderr):  # stdout belongs to the JSON object
            results[name] = module.run(args.quick, **kwargs)
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
        print(f"videorft bench: {name} done in {results[name]['seconds']} s", file=sys.stderr, flush=True)
    report.update({k: res[k] for res in results.values() for k in HEADLINE if k in res}, results=results)
    if _writes(args):
        path = Path(args.output)
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


#: Everything from this line to the end of docs/performance.md is written by hand (the GPU check, the demo's
#: wall time) and kept when `videorft bench` rewrites the generated part above it.
HAND_WRITTEN = "<!-- hand-written below: kept by `videorft bench` -->"


def hand_written(old: str) -> str:
    """The hand-written tail of an existing report (from ``HAND_WRITTEN`` on), or nothing."""
    at = old.find(HAND_WRITTEN)
    return "\n" + old[at:] if at >= 0 else ""


def render_markdown(report: dict[str, Any]) -> str:
    """docs/performance.md: machine, command, date, the headline table and each benchmark's details."""
    import jinja2

    class Missing(jinja2.Undefined):  # a value a benchmark did not report reads "None", as dict.get shows it
        def __str__(self) -> str:
            return "None"

    def table(rows: list[dict], cols: list[str]) -> str:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        return "\n".join(lines + ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows])

    # Markdown, not HTML: nothing to escape (autoescape off)
    env = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=Missing, autoescape=False
    )
    template = env.from_string((Path(__file__).with_name("performance.md.jinja")).read_text(encoding="utf-8"))
    return template.render(report=report, table=table, met=_met, dumps=json.dumps)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"

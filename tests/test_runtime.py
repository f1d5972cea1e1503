"""videorft.runtime: the demo's CPU threads and its per-stage progress bar with ETA (issue #24, item 6)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import torch
from rich.console import Console

from videorft.runtime import RichStepProgress, available_cpus, use_cpu_threads


def test_threads_default_to_the_idle_cpus_despite_an_inherited_omp_setting(monkeypatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr("videorft.runtime.available_cpus", lambda: 4)
    try:
        torch.set_num_threads(1)  # what torch's physical-core default gives on a 2-vCPU hyper-threaded VM
        monkeypatch.setattr("os.getloadavg", lambda: (0.2, 0.0, 0.0))
        assert use_cpu_threads() == 4 == torch.get_num_threads()  # idle: every CPU
        monkeypatch.setattr("os.getloadavg", lambda: (1.1, 0.0, 0.0))
        assert use_cpu_threads() == 3  # one CPU-bound neighbour
        monkeypatch.setattr("os.getloadavg", lambda: (15.0, 0.0, 0.0))
        assert use_cpu_threads() == 1  # saturated: one thread (2 took 3.7x as long at load ~15)
        assert use_cpu_threads(2) == 2 == torch.get_num_threads()  # --threads N wins
    finally:
        torch.set_num_threads(before)


def test_available_cpus_is_the_affinity_mask() -> None:
    import os

    assert available_cpus() == len(os.sched_getaffinity(0))


def test_stage_bar_shows_steps_eta_and_the_logged_metric() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    bar = RichStepProgress("T-GRPO", metric="reward", console=console)
    state = SimpleNamespace(is_world_process_zero=True, max_steps=4, global_step=0)
    bar.on_train_begin(None, state, None)
    for step in (1, 2, 3, 4):
        state.global_step = step
        bar.on_step_end(None, state, None)
        bar.on_log(None, state, None, logs={"reward": 0.25 * step, "epoch": 0.1})
    bar.on_train_end(None, state, None)
    text = out.getvalue()
    assert "T-GRPO" in text and "4/4" in text and "ETA" in text
    assert "reward 1.000" in text


def test_reuse_freed_memory_cuts_the_page_faults_of_a_log_softmax_step() -> None:
    """Tensors the size of a step's 152k-vocabulary logits, allocated and freed repeatedly: by default freed
    memory goes back to the kernel and each new tensor faults its pages in again."""
    import subprocess
    import sys

    code = (
        "import resource, sys, torch\n"
        "from videorft.runtime import reuse_freed_memory\n"
        "if sys.argv[1] == 'on': assert reuse_freed_memory()\n"
        "torch.set_num_threads(1)\n"  # other threads' malloc arenas make the default's count vary run to run
        "x = torch.randn(10, 151936)\n"
        "def step():\n"
        "    a, b = torch.log_softmax(x * 2, -1), torch.softmax(x, -1)\n"
        "    return ((a * b).sum() + a.sum()).item()\n"  # 6 MB temporaries, below the 32 MB threshold
        "step()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10): step()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    faults = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True
            ).stdout
        )
        for mode in ("off", "on")
    }
    assert faults["on"] < faults["off"] / 10, faults

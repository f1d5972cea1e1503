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


def test_reuse_freed_memory_serves_a_logits_sized_tensor_from_the_kept_heap() -> None:
    """By default glibc mmaps a tensor the size of a step's 152k-vocabulary logits and unmaps it when freed, so
    the next one faults its pages in again; after ``reuse_freed_memory`` it comes from the heap, which keeps
    freed memory. (Counting the page faults themselves varies with the machine's load and transparent huge
    pages: the demo's counts are in docs/performance.md.)"""
    import subprocess
    import sys

    code = (
        "import ctypes, sys, torch\n"
        "from videorft.runtime import reuse_freed_memory\n"
        "class MallInfo2(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',"
        " 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "libc.mallinfo2.restype = MallInfo2\n"
        "if sys.argv[1] == 'on': assert reuse_freed_memory()\n"
        "before = libc.mallinfo2()\n"
        "x = torch.empty(10, 151936)\n"  # 6 MB
        "held = libc.mallinfo2()\n"
        "del x\n"
        "print(held.hblkhd - before.hblkhd, libc.mallinfo2().fordblks)\n"
    )
    size = 10 * 151936 * 4
    result = {}
    for mode in ("off", "on"):
        run = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
        result[mode] = tuple(map(int, run.stdout.split()))
    mmapped, kept = result["off"]
    assert mmapped >= size, result  # glibc's default: its own mapping, returned to the kernel when freed
    mmapped, kept = result["on"]
    assert mmapped == 0 and kept >= size, result  # from the heap, and the heap keeps it for the next step

"""CPU runs that use the cores they have, and training stages that show their ETA (the demo uses both)."""

from __future__ import annotations

import os
from typing import Any

from transformers import TrainerCallback


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask: a container's or ``taskset``'s limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS / Windows have no affinity mask
        return os.cpu_count() or 1


def idle_cpus() -> int:
    """Available CPUs minus the 1-minute load average (runnable tasks), rounded; at least 1."""
    cpus = available_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform: assume idle
        load = 0.0
    return max(1, min(cpus, int(cpus - load + 0.5)))


def reuse_freed_memory(mmap_threshold: int = 32 << 20, keep: int = 256 << 20) -> bool:
    """glibc: serve allocations up to ``mmap_threshold`` from the heap and keep ``keep`` bytes of freed heap
    (False without glibc's ``mallopt``). Why: by default each large tensor (a step's 152k-vocabulary logits)
    is a fresh, page-faulted mmap: ~17% of the demo's CPU T-GRPO time. Results are unchanged."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # glibc's malloc.h
    settings = ((m_mmap_threshold, mmap_threshold), (m_trim_threshold, keep), (m_top_pad, keep))
    return all(libc.mallopt(option, value) == 1 for option, value in settings)


def use_cpu_threads(requested: int = 0) -> int:
    """Set torch's intra-op threads to ``requested`` (0: the CPUs no other work is using) and return it.

    torch's default counts physical cores and ignores other work; every CPU is no better on a shared machine,
    where OpenMP threads wait for a descheduled one (docs/performance.md, "Demo wall time").
    """
    import torch

    threads = requested if requested > 0 else idle_cpus()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


class RichStepProgress(TrainerCallback):
    """A rich progress bar of a training stage: steps done, elapsed, ETA and the latest logged metric.

    Pass it with ``disable_tqdm=True``; the log lines transformers prints then appear above the bar.
    """

    def __init__(self, description: str, metric: str = "loss", console: Any = None) -> None:
        self.description = description
        self.metric = metric
        self.console = console
        self._bar: Any = None
        self._task: Any = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D401 - TrainerCallback signature
        if not state.is_world_process_zero:
            return
        from rich import progress
        from rich.console import Console

        self._bar = progress.Progress(
            progress.TextColumn("[progress.description]{task.description}"),
            progress.BarColumn(),
            progress.MofNCompleteColumn(),
            progress.TimeElapsedColumn(),
            progress.TextColumn("ETA"),
            progress.TimeRemainingColumn(),
            progress.TextColumn("{task.fields[metric]}"),
            console=self.console or Console(stderr=True),
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=state.max_steps, metric="")

    def on_step_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._bar is not None and logs and isinstance(logs.get(self.metric), (int, float)):
            self._bar.update(self._task, metric=f"{self.metric} {logs[self.metric]:.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

"""`synthesize`: render every task's videos (in worker processes), write annotations and manifest:
``videorft_data.yaml``, ``synth_info.json``, ``videos/``, ``annotations/<split>/``, ``got10k/<split>/``."""

from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videorft.data.synth.config import SynthConfig
from videorft.data.synth.render import render_frames, write_got10k_sequence, write_mp4
from videorft.data.synth.tasks import GOT10K_SEQUENCE, TASK_NAMES, VIDEO_DIR, TaskSpec, get_task
from videorft.files import write_json

MANIFEST = "videorft_data.yaml"
INFO = "synth_info.json"
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: format -> (annotation file name, video_root relative to the suite folder)
FORMAT_FILES: dict[str, tuple[str, str]] = {
    "charades_json": ("charades_sta.json", VIDEO_DIR),
    "got10k_json": ("got10k_tracking.json", VIDEO_DIR),
    "videor1": ("video_r1.json", "."),  # Video-R1 paths are "./videos/..." relative to the root
    "nextgqa_json": ("nextgqa.json", VIDEO_DIR),
    "quality_json": ("quality.json", VIDEO_DIR),
    "caption_json": ("caption.json", VIDEO_DIR),
}
_OWNED = ("videos", "annotations", "got10k", MANIFEST, INFO)


def split_sizes(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> dict[str, int]:
    """Samples per split: val and test get round(share * n), at least 1 each once n >= 3; train the rest."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    val = max(1, round(n * fractions[1])) if n >= 3 and fractions[1] > 0 else 0
    test = max(1, round(n * fractions[2])) if n >= 3 and fractions[2] > 0 else 0
    return {"train": n - val - test, "val": val, "test": test}


@dataclass(frozen=True)
class _Job:
    spec_key: str  # task name, or "got10k_dir"
    split: str
    index: int  # index within the task over all splits: picks the RNG stream
    name: str


def _spec(key: str) -> TaskSpec:
    return GOT10K_SEQUENCE if key == "got10k_dir" else get_task(key)


def _rng(seed: int, key: str, index: int) -> np.random.Generator:
    # crc32, not hash(): stable across processes and Python runs
    return np.random.default_rng([seed, zlib.crc32(key.encode()), index])


def _run_job(job: _Job, seed: int, cfg: SynthConfig, out: str) -> list[dict[str, Any]]:
    """Generate, render and write one video; returns its annotation rows."""
    rng = _rng(seed, job.spec_key, job.index)
    sample = _spec(job.spec_key).generate(rng, cfg, job.name)
    frames = render_frames(sample.scene, seed=int(rng.integers(2**31)))
    if sample.format == "got10k_dir":
        row = sample.rows[0]
        folder = Path(out, "got10k", job.split, job.name)
        write_got10k_sequence(folder, frames, row["xywh"], row["object"])
        return [{"sequence": job.name}]
    write_mp4(Path(out, VIDEO_DIR, f"{job.name}.mp4"), frames, sample.scene.fps, cfg.qp)
    return sample.rows


def _jobs(n: int, tasks: Sequence[str], cfg: SynthConfig) -> list[_Job]:
    sizes = split_sizes(n, cfg.split_fractions)
    jobs = []
    for task in tasks:  # a task's index runs over all its splits: it picks the RNG stream
        prefix, slots = get_task(task).prefix, [(s, i) for s in SPLITS for i in range(sizes[s])]
        jobs += [_Job(task, s, k, f"{prefix}_{s}_{i:05d}") for k, (s, i) in enumerate(slots)]
    if "tracking" in tasks:
        seqs = [(s, i) for s in SPLITS if sizes[s] for i in range(cfg.got10k_sequences)]
        for k, (split, i) in enumerate(seqs):
            jobs.append(_Job("got10k_dir", split, k, f"GOT-10k_{split.capitalize()}_{i + 1:06d}"))
    return jobs


def _prepare_out(out: Path) -> None:
    """Refuse to write into a folder that is neither empty nor an earlier synthetic suite."""
    if out.exists() and any(out.iterdir()):
        if not (out / INFO).exists():
            raise FileExistsError(
                f"{out} is not empty and holds no {INFO}: pick an empty folder (or an earlier synth output)"
            )
        for name in _OWNED:  # an earlier suite: replace it whole, so no stale video survives
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / VIDEO_DIR).mkdir()


def _execute(jobs: list[_Job], seed: int, cfg: SynthConfig, out: Path) -> Iterator[list[dict[str, Any]]]:
    run = functools.partial(_run_job, seed=seed, cfg=cfg, out=str(out))
    workers = cfg.workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) < 8:
        yield from map(run, jobs)
        return
    # spawn: the parent may hold torch threads, which fork does not survive safely
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        yield from pool.imap(run, jobs, chunksize=4)


def _progress(it: Iterator[Any], total: int, enabled: bool) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("rendering videos"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not enabled) as bar:
        yield from bar.track(it, total=total)


def _write_annotations(out: Path, rows: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[str, list]:
    """Write one file per (split, format); returns the manifest's ``splits`` mapping."""
    splits: dict[str, list] = {s: [] for s in SPLITS}
    problem_id = 0  # Video-R1 ids are unique over the whole dataset, not per file
    for split in SPLITS:
        for fmt, (filename, video_root) in FORMAT_FILES.items():
            items = rows.get((split, fmt))
            if not items:
                continue
            rel = f"annotations/{split}/{filename}"
            if fmt == "charades_json":
                data: Any = {r["video_id"]: {k: v for k, v in r.items() if k != "video_id"} for r in items}
            elif fmt == "videor1":
                data = [{"problem_id": problem_id + i, **r} for i, r in enumerate(items)]
                problem_id += len(items)
            else:
                data = items
            write_json(out / rel, data, indent=1, ensure_ascii=False)
            splits[split].append({"format": fmt, "path": rel, "video_root": video_root})
        seqs = rows.get((split, "got10k_dir"))
        if seqs:
            folder = out / "got10k" / split
            (folder / "list.txt").write_text("".join(r["sequence"] + "\n" for r in seqs))
            splits[split].append({"format": "got10k_dir", "path": f"got10k/{split}"})
    return splits


def synthesize(
    out: str | Path, n: int, seed: int = 0, tasks: Sequence[str] | None = None, **options: Any
) -> Path:
    """Render ``n`` videos per task, split train/val/test; ``options`` are `SynthConfig` fields. Same seed
    and options -> identical files and decoded frames. Returns the manifest path."""
    cfg = SynthConfig.from_options(**options)
    tasks = list(TASK_NAMES if tasks is None else tasks)
    for t in tasks:
        get_task(t)  # unknown names fail here, before anything is written
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks listed twice: {tasks}")
    out = Path(out)
    _prepare_out(out)
    started = time.perf_counter()
    jobs = _jobs(n, tasks, cfg)
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    counts: dict[str, dict[str, int]] = {}
    # the bar first: zip pulls it once more after the last job, which lets it count that job
    for job_rows, job in zip(_progress(_execute(jobs, seed, cfg, out), len(jobs), cfg.progress), jobs):
        fmt = _spec(job.spec_key).format
        rows.setdefault((job.split, fmt), []).extend(job_rows)
        key = "tracking (got10k_dir)" if job.spec_key == "got10k_dir" else job.spec_key
        per = counts.setdefault(key, {s: 0 for s in SPLITS})
        per[job.split] += sum(len(r["sentences"]) if fmt == "charades_json" else 1 for r in job_rows)
    manifest = {"name": "synth", "splits": _write_annotations(out, rows)}
    import yaml

    (out / MANIFEST).write_text(
        "# written by `videorft data synth`; paths are relative to this file's folder\n"
        + yaml.safe_dump(manifest, sort_keys=False)
    )
    info = {
        "seed": seed,
        "n": n,
        "tasks": tasks,
        "options": {k: v for k, v in asdict(cfg).items() if k not in ("workers", "progress")},
        "videos": len(jobs),
        "records": counts,
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(out / INFO, info, indent=1, ensure_ascii=False)
    return out / MANIFEST

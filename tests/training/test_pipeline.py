"""End to end through the CLI: SFT -> GRPO -> T-GRPO; kill-and-resume; two processes under accelerate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from videorft.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, **fields) -> Path:
    base = {
        "nframes": 4,
        "min_pixels": 56 * 56,
        "max_pixels": 56 * 56,
        "use_cpu": True,
        "report_to": "none",
        "logging_steps": 1,
        "seed": 0,
    }
    path.write_text(yaml.safe_dump({**base, **fields}))
    return path


def grpo_fields(model: Path, suite: Path, out: Path, **extra) -> dict:
    return {
        "model_name_or_path": str(model),
        "data": str(suite),
        "tasks": ["multiple_choice", "temporal_grounding"],
        "output_dir": str(out),
        "per_device_train_batch_size": 8,
        "num_generations": 4,
        "max_completion_length": 8,
        "beta": 0.04,
        "loss_type": "grpo",
        "learning_rate": 1e-4,
        **extra,
    }


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_sft_then_grpo_then_tgrpo(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    sft = tmp_path / "sft"
    cfg = write_config(
        tmp_path / "sft.yaml",
        model_name_or_path=str(tiny_model_dir),
        data=str(synth_suite_dir),
        output_dir=str(sft),
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        max_steps=3,
        save_strategy="no",
    )
    assert main(["train", "sft", str(cfg)]) == 0
    losses = [row["loss"] for row in read_log(sft) if "loss" in row]
    assert len(losses) == 3 and losses[0] > losses[-1]  # teacher-forced loss on the targets falls
    resolved = yaml.safe_load((sft / "videorft_config.yaml").read_text())
    assert resolved["VideoDataArguments"]["nframes"] == 4

    grpo = tmp_path / "grpo"
    cfg = write_config(
        tmp_path / "grpo.yaml", **grpo_fields(sft, synth_suite_dir, grpo, max_steps=2, save_strategy="no")
    )
    assert main(["train", "grpo", str(cfg)]) == 0
    log = read_log(grpo)
    assert {"reward", "kl", "learning_rate", "completions/mean_length"} <= set(log[0])
    assert any(
        k.startswith("rewards/multiple_choice/") or k.startswith("rewards/temporal_grounding/")
        for k in log[0]
    )

    tgrpo = tmp_path / "tgrpo"
    fields = grpo_fields(grpo, synth_suite_dir, tgrpo, max_steps=2, save_strategy="no", temporal=True)
    cfg = write_config(tmp_path / "tgrpo.yaml", **fields)
    assert main(["train", "grpo", str(cfg), "--shuffled_generations", "2"]) == 0
    log = read_log(tgrpo)
    assert {"tgrpo/p", "tgrpo/p_shuffled", "tgrpo/bonus_group_rate", "rewards/temporal_bonus/mean"} <= set(
        log[0]
    )
    assert (tgrpo / "model.safetensors").exists()


def _run(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _steps(out: Path) -> dict[int, list[str]]:
    """Last logged record ids per step (a step interrupted by the kill is logged again on resume)."""
    rows = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    return {r["step"]: r["ids"] for r in rows}


def _rows(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_the_checkpoint_and_ends_where_an_uninterrupted_run_does(
    tiny_model_dir, synth_suite_dir, tmp_path
) -> None:
    steps = 6
    cli = [sys.executable, "-m", "videorft.cli.main", "train", "grpo"]

    ref = tmp_path / "reference"
    cfg = write_config(
        tmp_path / "ref.yaml",
        **grpo_fields(tiny_model_dir, synth_suite_dir, ref, max_steps=steps, save_steps=2),
    )
    assert _run([*cli, str(cfg)]).wait(timeout=900) == 0

    out = tmp_path / "killed"
    cfg = write_config(
        tmp_path / "kill.yaml",
        **grpo_fields(tiny_model_dir, synth_suite_dir, out, max_steps=steps, save_steps=2),
    )
    proc = _run([*cli, str(cfg)])
    deadline = time.time() + 900
    while not (out / "checkpoint-4" / "trainer_state.json").exists():  # killed after two checkpoints
        assert proc.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model.safetensors").exists()
    before = [r for r in _rows(out, "rollouts.jsonl") if r["step"] < 4]
    assert [r["step"] for r in before] == [0, 1, 2, 3]

    resumed = _run([*cli, str(cfg), "--resume"])
    output = resumed.communicate(timeout=900)[0]
    assert resumed.returncode == 0, output[-3000:]
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == steps
    # Steps 0-3 were not run again: their rollout rows are the killed run's, and each step appears once.
    rollouts = _rows(out, "rollouts.jsonl")
    assert [r["step"] for r in rollouts] == list(range(steps))
    assert rollouts[:4] == before
    logged = [r["step"] for r in _rows(out, "train_log.jsonl") if "loss" in r]
    assert logged == sorted(set(logged)) and len(logged) == steps
    assert _steps(out) == _steps(ref)  # same records at every step, before and after the kill
    # ... and the resumed run ends with the uninterrupted run's weights (the random model's rewards leave its
    # weights unmoved here; test_output_dir.py checks that a resume loads weights that did move)
    import torch

    final, reference = _weights(out), _weights(ref)
    assert final.keys() == reference.keys()
    assert all(torch.equal(final[k], reference[k]) for k in final), [
        k for k in final if not torch.equal(final[k], reference[k])
    ][:5]


@pytest.mark.slow
def test_two_process_accelerate_launch(tiny_model_dir, synth_suite_dir, tmp_path) -> None:
    out = tmp_path / "ddp"
    fields = grpo_fields(tiny_model_dir, synth_suite_dir, out, max_steps=2, save_steps=2, temporal=True)
    cfg = write_config(tmp_path / "ddp.yaml", **fields, shuffled_generations=2)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    proc = _run(
        [
            *launcher,
            str(ROOT / "configs/accelerate/cpu_2proc.yaml"),
            "-m",
            "videorft.cli.main",
            "train",
            "grpo",
            str(cfg),
        ]
    )
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, output[-3000:]
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    # each step's generation batch is gathered from both processes: 2 x 8 rows
    assert all(len(ids) == 16 for ids in _steps(out).values())

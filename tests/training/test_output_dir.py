"""Run folders: one writer (a lock), never two runs mixed, resumable after Ctrl-C or a full disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from videorft.cli.main import main
from videorft.run_folder import LOCK_NAME, RunFolderError, run_lock
from videorft.training.output_dir import (
    complete_checkpoints,
    config_differences,
    prepare_output_dir,
    trim_logs,
)

HOLD = (
    "import sys, time; from videorft.run_folder import file_lock; "
    "lock = file_lock(sys.argv[1], 'held'); lock.__enter__(); print('locked', flush=True); time.sleep(120)"
)


@pytest.fixture
def other_process_holds():
    """``hold(lock_path)``: another Python process takes the lock and keeps it until the test ends."""
    procs = []

    def hold(lock_path: Path) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def test_lock_refuses_a_second_process_and_dies_with_its_holder(tmp_path, other_process_holds):
    proc = other_process_holds(tmp_path / LOCK_NAME)
    with pytest.raises(RunFolderError, match=rf"another videorft process \(pid {proc.pid}\)"):
        with run_lock(tmp_path):
            pass
    proc.send_signal(signal.SIGKILL)  # a killed holder leaves its lock file, but not its lock
    proc.wait()
    with run_lock(tmp_path), run_lock(tmp_path):  # re-entrant within one process
        pass


def _grpo_config(tmp_path: Path, out: Path, model: str = "no-model-needed", **extra) -> Path:
    fields = {
        "model_name_or_path": model,
        "data": str(tmp_path / "no-data"),
        "output_dir": str(out),
        "use_cpu": True,
        "report_to": "none",
        **extra,
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(fields))
    return path


def test_every_writer_refuses_a_folder_another_process_writes(tmp_path, other_process_holds, capsys):
    out = tmp_path / "run"
    other_process_holds(out / LOCK_NAME)
    common = ["--model", "m", "--data", "d", "--out", str(out)]
    start = time.monotonic()
    assert main(["eval", *common]) == 2
    assert main(["probe", *common]) == 2
    assert main(["train", "grpo", str(_grpo_config(tmp_path, out))]) == 2
    err = capsys.readouterr().err
    assert err.count("another videorft process") == 3, err
    assert time.monotonic() - start < 60  # refused before any model or data is loaded

    cot_out = tmp_path / "cot.json"
    other_process_holds(Path(str(cot_out) + ".lock"))
    from videorft.data.synth import synthesize

    suite = synthesize(tmp_path / "suite", n=2, seed=0, progress=False)
    cot = ["data", "cot", "--data", str(suite), "--teacher-url", "http://127.0.0.1:9/v1"]
    assert main([*cot, "--teacher-model", "t", "--out", str(cot_out), "--limit", "1"]) == 1
    assert "another videorft process" in capsys.readouterr().err


def test_non_empty_folder_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "train_log.jsonl").write_text('{"step": 1}\n')
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="is not empty .*--resume.*--overwrite"):
        prepare_output_dir(out, {}, resume=False, overwrite=False)
    with pytest.raises(RunFolderError, match="pick one"):
        prepare_output_dir(out, {}, resume=True, overwrite=True)
    assert prepare_output_dir(out, {}, resume=False, overwrite=True) is None
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # the former run's files are gone
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / LOCK_NAME).write_text("")  # the lock file alone is not content
    assert prepare_output_dir(tmp_path / "empty", {}, resume=False, overwrite=False) is None


def _checkpoint(out: Path, step: int, state: str | None = '{"global_step": 0}') -> Path:
    ckpt = out / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    if state is not None:
        (ckpt / "trainer_state.json").write_text(state)
    return ckpt


def test_resume_takes_only_a_complete_checkpoint_of_the_same_run(tmp_path):
    out = tmp_path / "run"
    config = {"VideoDataArguments": {"data": "a", "fps": 2.0}, "VideoGRPOConfig": {"learning_rate": 1e-5}}
    with pytest.raises(RunFolderError, match="no complete checkpoint"):
        prepare_output_dir(out, config, resume=True, overwrite=False)
    _checkpoint(out, 2)
    _checkpoint(out, 4)
    _checkpoint(out, 6, state='{"global_st')  # torn by a full disk
    _checkpoint(out, 8, state=None)  # killed before trainer_state.json
    assert [p.name for p in complete_checkpoints(out)] == ["checkpoint-4", "checkpoint-2"]
    with pytest.raises(RunFolderError, match="videorft_config.yaml is missing"):
        prepare_output_dir(out, config, resume=True, overwrite=False)
    (out / "videorft_config.yaml").write_text(yaml.safe_dump(config))

    other = {**config, "VideoDataArguments": {"data": "b", "fps": 2.0}}
    with pytest.raises(
        RunFolderError, match=r"different run \(VideoDataArguments.data: saved 'a', now 'b'\)"
    ):
        prepare_output_dir(out, other, resume=True, overwrite=False)
    saved_many = {"VideoGRPOConfig": {f"field_{i}": 0 for i in range(8)}}
    (out / "videorft_config.yaml").write_text(yaml.safe_dump(saved_many))
    with pytest.raises(RunFolderError) as refused:  # eight differences: five named, then the count
        prepare_output_dir(
            out, {"VideoGRPOConfig": {f"field_{i}": 1 for i in range(8)}}, resume=True, overwrite=False
        )
    assert str(refused.value).count("saved 0, now 1") == 5 and "; and 3 more)" in str(refused.value)
    (out / "videorft_config.yaml").write_text(yaml.safe_dump(config))
    longer = {**config, "VideoGRPOConfig": {"learning_rate": 1e-5, "max_steps": 100}}
    assert config_differences(config, longer) == []  # running longer is the same run
    assert prepare_output_dir(out, longer, resume=True, overwrite=False) == str(out / "checkpoint-4")


def test_resume_cuts_the_logs_back_to_the_checkpoint(tmp_path):
    rows = [{"step": s, "loss": 1.0} for s in (1, 2, 3, 4, 5)]
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo')
    rollouts = [{"step": s, "ids": ["a"]} for s in (0, 1, 2, 3, 4)]
    (tmp_path / "rollouts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rollouts))
    trim_logs(tmp_path, 3)
    logged = [json.loads(x)["step"] for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    generated = [json.loads(x)["step"] for x in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3]  # after step 3's checkpoint, steps 4.. are trained (and logged) again
    assert generated == [0, 1, 2]  # rollouts are logged at the start of a step


def test_train_refuses_a_non_empty_folder_before_loading_anything(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train_log.jsonl").write_text("{}\n")
    assert main(["train", "sft", str(_grpo_config(tmp_path, out))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--overwrite" in err and len(err.splitlines()) == 1


def _tiny_training_config(tmp_path: Path, out: Path, model: Path, suite: Path, *, max_steps: int) -> Path:
    """A GRPO run of the tiny model that saves a checkpoint every step (what the interruption tests cut)."""
    return _grpo_config(
        tmp_path,
        out,
        model=str(model),
        data=str(suite),
        tasks=["multiple_choice"],
        nframes=4,
        min_pixels=3136,
        max_pixels=3136,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=4,
        max_steps=max_steps,
        save_steps=1,
    )


def test_full_disk_ends_with_one_line_and_a_resumable_folder(
    tiny_model_dir, synth_suite_dir, tmp_path, monkeypatch, capsys
):
    import transformers

    out = tmp_path / "run"
    cfg = _tiny_training_config(tmp_path, out, tiny_model_dir, synth_suite_dir, max_steps=4)
    original = transformers.Trainer._save_checkpoint

    def save(self, model, trial):
        if self.state.global_step >= 2:  # the second checkpoint does not fit on the disk
            raise OSError(errno.ENOSPC, "No space left on device", str(out / "checkpoint-2" / "optimizer.pt"))
        return original(self, model, trial)

    monkeypatch.setattr(transformers.Trainer, "_save_checkpoint", save)
    assert main(["train", "grpo", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [x.split("\r")[-1] for x in err.splitlines() if "error:" in x]  # after a progress bar's \r
    assert len(line) == 1 and "disk full" in line[0] and "checkpoint-1" in line[0] and "--resume" in line[0]
    monkeypatch.setattr(transformers.Trainer, "_save_checkpoint", original)
    assert main(["train", "grpo", str(cfg), "--resume", "--max_steps", "2"]) == 0
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_and_resumes(tiny_model_dir, synth_suite_dir, tmp_path):
    out = tmp_path / "run"
    cfg = _tiny_training_config(tmp_path, out, tiny_model_dir, synth_suite_dir, max_steps=200)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    cli = [sys.executable, "-m", "videorft.cli.main", "train", "grpo", str(cfg)]
    proc = subprocess.Popen(cli, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 600
    while not (out / "checkpoint-1" / "trainer_state.json").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("interrupted: ")]  # splitlines splits at \r too
    assert len(lines) == 1 and "checkpoint-" in lines[0] and "--resume" in lines[0]
    newest = int(complete_checkpoints(out)[0].name.split("-")[1])
    done = subprocess.run([*cli, "--resume", "--max_steps", str(newest + 1)], env=env)
    assert done.returncode == 0


@pytest.mark.parametrize("peft", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["full", "lora"])
def test_a_resumed_run_continues_from_the_checkpoint_weights(tiny_model_dir, synth_suite_dir, tmp_path, peft):
    """transformers' own resume loads none of Qwen2.5-VL's weights (the checkpoint holds them in the hub layout,
    ``model.layers.*``, the model names them ``model.language_model.layers.*``): the run would go on from its
    starting model with the checkpoint's optimizer and step. 2 SFT steps resumed to 4 end where 4 straight do
    (LoRA: the adapter, which PEFT saves and loads under the model's own names)."""
    from safetensors.torch import load_file

    weights = "adapter_model.safetensors" if peft else "model.safetensors"

    def sft(out: Path, *flags: str) -> dict:
        cfg = _grpo_config(
            tmp_path,
            out,
            model=str(tiny_model_dir),
            data=str(synth_suite_dir),
            nframes=4,
            per_device_train_batch_size=2,
            learning_rate=1e-3,
            lr_scheduler_type="constant",  # steps 1-2 the same whether the run is planned for 2 or 4
            save_steps=2,
            **({"use_peft": True, "lora_r": 4, "lora_target_modules": ["q_proj", "v_proj"]} if peft else {}),
        )
        assert main(["train", "sft", str(cfg), *flags]) == 0
        return load_file(str(out / weights))

    straight = sft(tmp_path / "straight", "--max_steps", "4")
    two = sft(tmp_path / "resumed", "--max_steps", "2")
    assert any(not torch.equal(two[k], straight[k]) for k in two)  # steps 3-4 change the weights
    resumed = sft(tmp_path / "resumed", "--max_steps", "4", "--resume")
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in resumed), [
        k for k in resumed if not torch.equal(resumed[k], straight[k])
    ][:5]

"""scripts/gpu_check.sh (issue #23): its CPU dry run on the tiny model, so the GPU check does not rot."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_unknown_config_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _module().parse_args(["--tiny", "--configs", "lora-tgrpo,qlora-grpo"])
    assert exc.value.code == 2
    assert "qlora-grpo" in capsys.readouterr().err


def test_video_r1_budget_is_the_gpu_default() -> None:
    opts = _module().parse_args([])
    assert (opts.nframes, opts.max_pixels, opts.num_generations) == (16, 128 * 28 * 28, 8)
    assert opts.configs == ["lora-tgrpo", "lora-grpo", "full-tgrpo", "full-grpo"]
    assert _module().parse_args(["--configs", "full-grpo,lora-tgrpo,full-grpo"]).configs == [
        "full-grpo",
        "lora-tgrpo",
    ]


def test_older_transformers_is_flagged() -> None:
    note = _module().transformers_note
    assert note("5.24.0") is None
    assert "5.17.0" in note("5.17.0")


@pytest.mark.slow
def test_tiny_dry_run_reports_every_configuration(tmp_path: Path) -> None:
    """The whole script on CPU: 4 configurations x 2 steps of VideoGRPOTrainer.train, timed and summarised,
    in the order --configs gives (not the default order)."""
    order = ["full-grpo", "lora-tgrpo", "full-tgrpo", "lora-grpo"]
    out = tmp_path / "gpu_check.json"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "GPU_CHECK_NO_WHEELS": "1",  # wheels/, if built here, is for the device's Python 3.12
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        # --budget-s: the device's time budget would skip the last configuration on a loaded CPU
        ["bash", str(SCRIPT), "--tiny", "--steps", "2", "--json", str(out), "--budget-s", "100000"]
        + ["--configs", ",".join(order)],
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    configs = {c["name"]: c for c in report["configs"]}
    assert list(configs) == order
    for name, c in configs.items():
        assert len(c["steps"]) == 2, name
        for step in c["steps"]:
            assert step["generation_s"] > 0 and step["vision_s"] > 0 and step["loss_s"] > 0, (name, step)
            assert step["generation_s"] < step["total_s"], (name, step)
            # G = 8 rows, plus G/2 shuffled-frame rows in the same generate call for T-GRPO; a random model's
            # uniform next-token distribution all but never draws an end token in 16 steps
            rows = 12 if name.endswith("tgrpo") else 8
            assert step["generated_tokens"] == rows * 16, (name, step)
        assert f"{name} step 2:" in proc.stdout
    # the vision tower is frozen in both modes; LoRA trains a sliver of what full fine-tuning does
    assert 0 < configs["lora-tgrpo"]["trainable_params"] < configs["full-tgrpo"]["trainable_params"] / 10
    assert configs["full-tgrpo"]["trainable_params"] < configs["full-tgrpo"]["total_params"]
    assert set(report["tgrpo_over_grpo"]) == {"lora_step", "lora_generation", "full_step", "full_generation"}
    assert "| lora-tgrpo |" in proc.stdout and "T-GRPO / GRPO:" in proc.stdout


def test_refuses_to_run_the_7b_shape_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert _module().main([]) == 2

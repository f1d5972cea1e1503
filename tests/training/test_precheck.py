"""`videorft train` checks every value it can before torch, TRL or the model load: one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from videorft.cli.main import main
from videorft.training.precheck import FIELDS_FILE

BASE = {"model_name_or_path": "m", "data": "d", "use_cpu": True, "per_device_train_batch_size": 8}


@pytest.mark.parametrize(
    ("fields", "flags", "message"),
    [
        ({"learning_rat": 1e-5}, [], "unknown field 'learning_rat' (did you mean 'learning_rate'?)"),
        ({"learning_rate": "fast"}, [], "learning_rate: expected a number, got 'fast'"),
        ({"learning_rate": -1e-5}, [], "learning_rate must be >= 0"),
        ({"num_generations": 3}, [], "num_generations (3) must divide the generation batch (8"),
        ({"max_steps": 0}, [], "max_steps: 0 trains nothing"),
        ({"temporal_alpha": -0.3}, [], "temporal_alpha must be >= 0"),
        ({}, ["--fps", "0"], "fps must be > 0"),
        ({"dtype": "float8"}, [], "dtype must be one of auto, bfloat16, float16, float32"),
        ({"use_cpu": False}, ["--temporal", "maybe"], "temporal: expected true or false"),
        ({}, ["--nframes", "1"], "nframes must be >= 2"),
    ],
)
def test_bad_value_is_one_line_and_exit_2(tmp_path, capsys, fields, flags, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "output_dir": str(tmp_path / "out"), **fields}))
    assert main(["train", "grpo", str(cfg), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()  # nothing was written


def test_missing_cuda_device_is_reported_before_anything_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "use_cpu": False, "output_dir": str(tmp_path / "out")}))
    assert main(["train", "sft", str(cfg)]) == 2
    assert "no CUDA device found: set use_cpu: true" in capsys.readouterr().err


def test_checks_run_without_importing_torch_or_trl(tmp_path):
    """What keeps a config error under 2 s: nothing heavy is imported before it is reported."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "learning_rate": -1}))
    code = (
        "import sys; from videorft.cli.main import main; rc = main(['train', 'grpo', sys.argv[1]]); "
        "heavy = sorted({'torch', 'trl', 'transformers'} & set(sys.modules)); print(rc, heavy)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code, str(cfg)], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr


def test_field_list_is_current():
    from videorft.training.config import config_field_kinds

    assert json.loads(Path(FIELDS_FILE).read_text()) == config_field_kinds(), (
        "regenerate: python -m videorft.training.config --fields > src/videorft/training/config_fields.json"
    )

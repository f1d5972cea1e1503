"""`videorft data synth` end to end (tiny), and its argument errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videorft.cli import data_synth
from videorft.cli.main import main
from videorft.data.synth import TASK_NAMES


def test_cli_task_list_matches_the_registry() -> None:
    assert data_synth.TASKS == TASK_NAMES


def test_synth_command_writes_a_suite_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "suite"
    argv = [
        "data",
        "synth",
        "--out",
        str(out),
        "--n",
        "3",
        "--seed",
        "5",
        "--tasks",
        "multiple_choice",
        "quality",
    ]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert (
        "multiple_choice" in printed and "quality" in printed and str(out / "videorft_data.yaml") in printed
    )
    info = json.loads((out / "synth_info.json").read_text())
    assert info["seed"] == 5 and info["tasks"] == ["multiple_choice", "quality"]
    assert info["records"]["multiple_choice"] == {"train": 1, "val": 1, "test": 1}
    assert len(list((out / "videos").glob("*.mp4"))) == 6


def test_synth_command_reports_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(["data", "synth", "--out", str(tmp_path / "x"), "--n", "3", "--size", "101", "--no-progress"])
        == 2
    )
    assert "size must be even" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "synth", "--out", str(tmp_path / "y"), "--n", "3", "--tasks", "counting"])
    assert "invalid choice: 'counting'" in capsys.readouterr().err


def test_demo_suite_flag_writes_the_demo_variant(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    argv = ["data", "synth", "--out", str(out), "--n", "10", "--tasks", "multiple_choice", "--demo-suite"]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    info = json.loads((out / "synth_info.json").read_text())
    assert info["options"]["colours"] == ["red", "blue"] and info["options"]["order_options"] == "palette"
    rows = json.loads((out / "annotations" / "train" / "video_r1.json").read_text())
    assert {tuple(r["options"]) for r in rows} == {("A. red", "B. blue")}

"""One parsing helper for every command: options come from config dataclass fields (help included), YAML
via --config, and every flag spelling that worked before still parses to the same setting."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from videorft.cli.main import build_parser, dashed_options, main
from videorft.data.cot.pipeline import CotConfig
from videorft.demo import DEMO_TASKS, DemoConfig, demo_config
from videorft.evaluation.config import EvalConfig, ProbeConfig
from videorft.training.data_args import VideoDataArguments

#: command -> (dataclasses whose fields are its options, fields deliberately not options)
CONFIGS = {
    "eval": ((EvalConfig,), set()),
    "probe": ((ProbeConfig,), set()),
    "data cot": ((CotConfig,), {"budget", "timing", "extra_body"}),  # given as CotCommand fields instead
    "export verl": ((VideoDataArguments,), {"use_format_reward", "judge"}),
    "demo": ((DemoConfig,), {"tasks", "suite"}),
}


def _sub(path: str):
    parser = build_parser(path.split())
    for word in path.split():
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[word]
    return parser


@pytest.mark.parametrize("path", sorted(CONFIGS))
def test_every_field_is_an_option_with_its_help(path: str) -> None:
    classes, left_out = CONFIGS[path]
    actions = {o: a for a in _sub(path)._actions for o in a.option_strings}
    assert "--config" in actions
    for cls in classes:
        for f in dataclasses.fields(cls):
            if not f.init or f.name in left_out:
                continue
            for flag in (f"--{f.name}", f"--{f.name.replace('_', '-')}"):
                assert flag in actions, f"{path}: no {flag}"
            assert f.metadata["help"] in actions[f"--{f.name}"].help, f"{path}: help of {f.name}"


#: flags that worked before the helper, with the setting each must give
OLD_FLAGS = {
    "eval": [
        (["--no-training-config"], {"training_config": False}),
        (["--skip-invalid"], {"skip_invalid": True}),
        (["--no-skip-invalid"], {"skip_invalid": False}),
        (["--no-greedy", "--top-p", "0.9"], {"greedy": False, "top_p": 0.9}),
        (["--no-progress", "--frame-order", "shuffled"], {"progress": False, "frame_order": "shuffled"}),
    ],
    "probe": [
        (["--variants", "ordered", "shuffled", "--n-boot", "5"], {"variants": ["ordered", "shuffled"]})
    ],
    "data cot": [
        (["--max-tokens", "7"], {"max_tokens": 7}),
        (["--max_new_tokens", "8"], {"max_tokens": 8}),
        (["--backoff", "0"], {"backoff_base": 0.0}),
        (["--no-progress", "--timing", "off", "--system", "S"], {"progress": False, "timing": "off"}),
        (["--video-format", "video_url", "--extra-body", "{}"], {"video_format": "video_url"}),
    ],
    "export verl": [
        (["--out", "o", "--timing-in-prompt"], {"timing_in_prompt": True}),
        (
            ["--out", "o", "--no-timing-in-prompt", "--tasks", "a", "b"],
            {"timing_in_prompt": False, "tasks": ["a", "b"]},
        ),
    ],
    "demo": [(["--quick", "--seed", "3", "--threads", "1"], {"quick": True, "seed": 3, "threads": 1})],
}


@pytest.mark.parametrize("path", sorted(OLD_FLAGS))
def test_old_flags_keep_their_meaning(path: str) -> None:
    for flags, expected in OLD_FLAGS[path]:
        argv = dashed_options([*path.split(), *flags])
        args = build_parser(argv).parse_args(argv)
        assert {k: getattr(args, k) for k in expected} == expected, flags
        # an option not given stays None, so YAML and the model's training settings are not overridden
        assert getattr(args, "split", None) is None


def test_data_cot_reads_a_yaml_config_that_flags_override(tmp_path: Path, capsys) -> None:
    config = tmp_path / "cot.yaml"
    config.write_text(f"data: videor1:{tmp_path / 'missing.json'}\nteacher_url: http://x\nteacher_model: t\n")
    out = ["--out", str(tmp_path / "o.json")]
    # the YAML gave the required settings: the run reaches the data and names the missing file
    assert main(["data", "cot", "--config", str(config), *out]) == 1
    assert "missing.json" in capsys.readouterr().err
    assert main(["data", "cot", "--config", str(config), *out, "--teacher-url", "ftp://y"]) == 1
    assert "teacher_url must start with http" in capsys.readouterr().err
    config.write_text("data: d\nteacher: x\n")
    assert main(["data", "cot", "--config", str(config), *out]) == 1
    assert "unknown setting(s) teacher" in capsys.readouterr().err
    assert main(["data", "cot", "--data", "d", *out]) == 1
    assert "missing setting(s): --teacher-url, --teacher-model" in capsys.readouterr().err


def test_demo_reads_its_yaml_files_and_flags(monkeypatch, tmp_path: Path) -> None:
    # configs/demo*.yaml hold the settings `videorft demo` ran with before they moved there
    for task, fields in DEMO_TASKS.items():
        assert demo_config(task) == DemoConfig(**fields), task
    seen = []
    monkeypatch.setattr("videorft.demo.run_demo", seen.append)
    assert main(["demo"]) == 0 and seen[-1] == DemoConfig()
    assert main(["demo", "--task", "grounding", "--grpo", "--rl_steps", "5", "--out", "x"]) == 0
    assert seen[-1] == DemoConfig(**DEMO_TASKS["grounding"], temporal=False, rl_steps=5, out="x")
    own = tmp_path / "demo.yaml"
    own.write_text(json.dumps({"rl_steps": 7, "sft_steps": 3}))
    assert main(["demo", "--config", str(own), "--sft-steps", "4"]) == 0
    assert (seen[-1].rl_steps, seen[-1].sft_steps, seen[-1].n_videos) == (7, 4, DemoConfig().n_videos)
    own.write_text("rl_step: 7\n")
    assert main(["demo", "--config", str(own)]) == 2

"""`videorft eval --model RUN/...` takes the prompt, frame/pixel and token settings the model was
trained with (the videorft_config.yaml training saved next to it) unless flags override them, and
protocol.json says where each came from."""

from __future__ import annotations

import json
import shutil

import pytest
from trl import ModelConfig

from videorft.cli.main import build_parser, dashed_options, main
from videorft.evaluation import session
from videorft.evaluation.config import EvalConfig, ProbeConfig
from videorft.training.config import VideoDataArguments, VideoGRPOConfig, VideoSFTConfig
from videorft.training.run import save_resolved_config
from videorft.video import FrameBudget


def _trained(folder, *, grpo=True, **data):
    """A folder with the resolved config exactly as `videorft train` writes it."""
    data_args = VideoDataArguments(
        data="x",
        nframes=6,
        min_pixels=3136,
        max_pixels=3136,
        template="short",
        prompt_style="no_think",
        **data,
    )
    kind = VideoGRPOConfig if grpo else VideoSFTConfig
    extra = {"max_completion_length": 10} if grpo else {}
    args = kind(output_dir=str(folder), report_to="none", use_cpu=True, **extra)
    save_resolved_config(folder, data_args, ModelConfig(model_name_or_path="base"), args)
    return folder


def _cfg(*argv, cls=EvalConfig):
    args = build_parser().parse_args(dashed_options(["eval" if cls is EvalConfig else "probe", *argv]))
    return session.cli_config(cls, args)


def test_eval_takes_the_trained_settings_and_says_so(tmp_path):
    model = _trained(tmp_path / "checkpoints" / "rl")
    cfg = _cfg("--model", str(model), "--data", "d", "--out", "o")
    assert (cfg.nframes, cfg.min_pixels, cfg.max_pixels) == (6, 3136, 3136)
    assert (cfg.template, cfg.prompt_style, cfg.max_new_tokens, cfg.timing) == (
        "short",
        "no_think",
        10,
        False,
    )
    source = f"trained with {model / 'videorft_config.yaml'}"
    assert cfg.sources["nframes"] == cfg.sources["max_new_tokens"] == cfg.sources["prompt_style"] == source
    assert cfg.sources["batch_size"] == "default" and cfg.sources["model"] == "command line"
    assert FrameBudget.from_settings(cfg).nframes == 6


def test_flags_and_config_file_override_the_trained_settings(tmp_path):
    model = _trained(tmp_path / "rl")
    yaml_file = tmp_path / "eval.yaml"
    yaml_file.write_text("max_pixels: 6272\n")
    cfg = _cfg(
        "--model", str(model), "--data", "d", "--out", "o", "--config", str(yaml_file),
        "--max_new_tokens", "32", "--prompt-style", "think", "--max-frames", "8",
    )  # fmt: skip
    assert (cfg.max_new_tokens, cfg.prompt_style, cfg.max_pixels) == (32, "think", 6272)
    assert cfg.sources["max_pixels"] == f"config file {yaml_file}"
    assert cfg.sources["max_new_tokens"] == "command line"
    # a frame count given by the user replaces the trained one as a whole (no trained nframes over --max-frames)
    assert (cfg.nframes, cfg.max_frames, cfg.sources["nframes"]) == (None, 8, "default")
    assert cfg.template == "short"  # not overridden: still the trained one
    off = _cfg("--model", str(model), "--data", "d", "--out", "o", "--no-training-config")
    assert (off.nframes, off.template, off.max_new_tokens) == (None, None, 1024)
    assert set(off.sources.values()) <= {"default", "command line"}


def test_checkpoint_folders_sft_runs_and_probe(tmp_path):
    run = _trained(tmp_path / "run", grpo=False)
    ckpt = run / "checkpoint-20"
    ckpt.mkdir()
    cfg = _cfg("--model", str(ckpt), "--data", "d", "--out", "o", cls=ProbeConfig)
    assert cfg.nframes == 6 and cfg.sources["nframes"] == f"trained with {run / 'videorft_config.yaml'}"
    assert (
        cfg.max_new_tokens == 1024 and cfg.sources["max_new_tokens"] == "default"
    )  # SFT has no completion cap
    plain = tmp_path / "hub-like"
    plain.mkdir()
    assert _cfg("--model", str(plain), "--data", "d", "--out", "o").sources["nframes"] == "default"


@pytest.mark.slow
def test_eval_cli_records_sources_in_the_protocol(tiny_model_dir, synth_suite_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    _trained(model)
    out = tmp_path / "run"
    argv = ["eval", "--model", str(model), "--data", str(synth_suite_dir), "--out", str(out)]
    assert main([*argv, "--limit", "2", "--max_new_tokens", "3", "--no-progress"]) == 0
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["video"]["nframes"] == 6 and protocol["video"]["max_pixels"] == 3136
    assert protocol["prompt"]["style"] == "no_think" and protocol["prompt"]["template"] == "short"
    assert protocol["decoding"]["max_new_tokens"] == 3
    assert protocol["settings_source"]["nframes"].startswith("trained with ")
    assert protocol["settings_source"]["max_new_tokens"] == "command line"

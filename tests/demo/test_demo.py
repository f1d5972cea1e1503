"""`videorft demo --quick` end to end: every artefact is written and training moved the held-out reward."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from videorft.cli.main import main


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--seed", "0"]) == 0

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"stages", "seconds"} and summary["seconds"] > 0
    assert set(summary["stages"]) == {"base", "sft", "rl"}
    for stage in summary["stages"].values():
        # the `videorft metrics --json` shape per task, plus the reward and the shuffled-frame control
        mc = stage["multiple_choice"]
        assert {"accuracy", "n", "n_unparsed"} <= set(mc) and 0.0 <= mc["accuracy"] <= 1.0
        assert {"ordered", "shuffled", "gap", "gap_ci95"} <= set(stage["control"])
        assert isinstance(stage["reward"], float)
    base, sft = summary["stages"]["base"], summary["stages"]["sft"]
    # a random model never answers in format; after the cold start every answer parses (format reward 1)
    assert base["multiple_choice"]["n_unparsed"] == base["multiple_choice"]["n"]
    assert sft["multiple_choice"]["n_unparsed"] == 0 and sft["reward"] >= base["reward"] + 0.9

    html = (out / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64," in html
    for stage in ("sft", "rl"):
        log = (out / "stages" / stage / "train_log.jsonl").read_text().splitlines()
        assert log, f"no training log for {stage}"
    rl_log = [
        json.loads(line) for line in (out / "stages" / "rl" / "train_log.jsonl").read_text().splitlines()
    ]
    assert any("tgrpo/p_shuffled" in row for row in rl_log)

    # The eval example of docs/evaluation.md on the demo's checkpoint gives the demo's held-out
    # accuracy: eval takes the prompt, frame and token settings the checkpoint was trained with.
    docs = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text()
    line = next(x for x in docs.splitlines() if x.startswith("videorft eval ") and "checkpoints/rl" in x)
    line = line.replace("runs/demo", str(out)).replace("runs/eval-grpo", str(tmp_path / "eval-grpo"))
    assert main([*shlex.split(line)[1:], "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "eval-grpo" / "metrics.json").read_text())
    rl = summary["stages"]["rl"]["multiple_choice"]
    assert metrics["multiple_choice"]["n"] == rl["n"]
    assert metrics["multiple_choice"]["accuracy"] == rl["accuracy"]


def test_completion_budget_fits_the_tasks_answers() -> None:
    """An interval answer is ~16 tokens (digits are single tokens): a 10-token RL budget let GRPO learn the
    empty '<answer>....</answer>' that earns the format reward alone (mIoU 0.39 -> 0.0 in the study)."""
    from dataclasses import replace

    from videorft.demo import DemoConfig, completion_tokens
    from videorft.models.tokenizer import build_qwen_tokenizer

    cfg = DemoConfig()
    grounding = replace(cfg, tasks=("multiple_choice", "temporal_grounding"))
    tok = build_qwen_tokenizer()
    longest = tok.encode("<answer>118.25 to 119.75</answer><|im_end|>")
    assert completion_tokens(cfg) >= len(tok.encode("<answer>A</answer><|im_end|>"))
    assert completion_tokens(grounding) >= len(longest)
    assert completion_tokens(replace(cfg, max_completion_length=7)) == 7


def test_best_constant_span_is_the_best_single_answer() -> None:
    from videorft.data.record import Record
    from videorft.demo import best_constant_span

    def rec(i: int, span: list[float]) -> Record:
        return Record(
            id=str(i), task="temporal_grounding", problem="x", solution=span, meta={"duration": 10.0}
        )

    records = [rec(0, [2.0, 6.0]), rec(1, [2.0, 6.0]), rec(2, [7.0, 9.0])]
    assert best_constant_span(records) == pytest.approx((2 / 3, 2.0, 6.0))
    with pytest.raises(ValueError, match="no temporal_grounding"):
        best_constant_span([])


def test_grounding_demo_config_and_suite(tmp_path) -> None:
    """`videorft demo --task grounding`: grounding alone, on one shape per video of fixed timing, so the
    answer's seconds follow from which sampled frames show the shape."""
    from videorft.data.loaders import load_spec
    from videorft.data.synth import synthesize
    from videorft.demo import DEMO_SUITE, GROUNDING_SUITE, demo_config

    cfg = demo_config("grounding", seed=3)
    assert cfg.tasks == ("temporal_grounding",) and cfg.suite == GROUNDING_SUITE and cfg.seed == 3
    assert (cfg.sft_answers, cfg.sft_steps) == ("gold", 300)  # the cold start that first used the video
    assert demo_config().suite == DEMO_SUITE and demo_config().tasks == ("multiple_choice",)
    with pytest.raises(ValueError, match="valid: order, grounding"):
        demo_config("counting")

    synthesize(tmp_path / "g", n=12, seed=0, tasks=["temporal_grounding"], workers=1, **GROUNDING_SUITE)
    records = load_spec(str(tmp_path / "g"), split="train").records
    assert len(records) == 10  # one query per video: one shape each
    assert {r.meta["duration"] for r in records} == {8.0}


@pytest.mark.slow
def test_grounding_demo_runs_end_to_end(tmp_path) -> None:
    """`videorft demo --task grounding` at toy sizes: every stage is scored in mIoU with the shuffled control,
    and the best constant span is printed next to it."""
    from rich.console import Console

    from videorft.demo import demo_config, run_demo

    console = Console(record=True, width=120)
    cfg = demo_config(
        "grounding", out=str(tmp_path / "g"), n_videos=40, sft_steps=4, rl_steps=2, eval_limit=4
    )
    summary = run_demo(cfg, console=console)
    for stage in summary["stages"].values():
        assert 0.0 <= stage["temporal_grounding"]["mIoU"] <= 1.0 and stage["temporal_grounding"]["n"] == 4
        assert stage["control"]["ordered"] == pytest.approx(stage["temporal_grounding"]["mIoU"])
    assert "best constant span on these questions:" in console.export_text()


def test_a_demo_folder_made_under_other_settings_is_not_continued(tmp_path, capsys) -> None:
    """Finished stages are reused on a rerun: under other settings the old results would be reported as the new
    ones. The rerun stops with one line naming the difference; only settings that change no result may differ."""
    from dataclasses import asdict

    from videorft.demo import check_same_demo, demo_config

    out = tmp_path / "demo"
    out.mkdir()
    (out / "demo_config.json").write_text(json.dumps(asdict(demo_config(out=str(out)))))
    (out / "summary.json").write_text("{}")
    assert main(["demo", "--out", str(out), "--rl_steps", "7", "--task", "grounding"]) == 2
    err = capsys.readouterr().err
    assert "other settings (tasks: saved ['multiple_choice'], now ['temporal_grounding']; suite: saved" in err
    assert "rl_steps: saved 300, now 7" in err
    assert "Traceback" not in err and json.loads((out / "demo_config.json").read_text())["rl_steps"] == 300
    check_same_demo(out, demo_config(out=str(tmp_path / "moved"), threads=1, save_steps=10))  # no error


@pytest.mark.slow
def test_an_interrupted_demo_resumes_its_rl_stage_from_the_newest_checkpoint(
    tmp_path, monkeypatch, capsys
) -> None:
    """Killed during RL, a rerun keeps the cold start, continues from the last checkpoint and ends with the
    same model as a run never interrupted (nor checkpointed)."""
    from videorft.demo import demo_config, run_demo
    from videorft.runtime import RichStepProgress

    sizes = dict(n_videos=40, sft_steps=4, rl_steps=4, eval_limit=4, threads=1)
    run_demo(demo_config(out=str(tmp_path / "straight"), save_steps=0, **sizes))

    out = tmp_path / "interrupted"
    step_end = RichStepProgress.on_step_end

    def crash_at_rl_step_3(self, args, state, control, **kwargs):
        if self.description == "T-GRPO" and state.global_step == 3:
            raise KeyboardInterrupt
        return step_end(self, args, state, control, **kwargs)

    monkeypatch.setattr(RichStepProgress, "on_step_end", crash_at_rl_step_3)
    with pytest.raises(KeyboardInterrupt):
        run_demo(demo_config(out=str(out), save_steps=2, **sizes))
    rl = out / "checkpoints" / "rl"
    assert not (rl / "model.safetensors").exists() and (rl / "checkpoint-2" / "trainer_state.json").exists()
    sft_model = (out / "checkpoints" / "sft" / "model.safetensors").stat().st_mtime_ns

    # the same command under another setting: one error line naming the difference, the checkpoint kept
    flags = [f"--{k}={v}" for k, v in {**sizes, "save_steps": 2, "rl_lr": 1e-4}.items()]
    assert main(["demo", "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert "other settings (rl_lr: saved 0.0003, now 0.0001)" in err and "--out" in err
    assert (rl / "checkpoint-2" / "trainer_state.json").exists()

    rerun_steps = []

    def count_rl_steps(self, args, state, control, **kwargs):
        rerun_steps.extend([state.global_step] if self.description == "T-GRPO" else [])
        return step_end(self, args, state, control, **kwargs)

    monkeypatch.setattr(RichStepProgress, "on_step_end", count_rl_steps)
    run_demo(demo_config(out=str(out), save_steps=2, **sizes))
    assert rerun_steps == [3, 4]  # steps 1-2 came from checkpoint-2
    assert (out / "checkpoints" / "sft" / "model.safetensors").stat().st_mtime_ns == sft_model
    assert not list(rl.glob("checkpoint-*"))  # the final model replaces them
    steps = [json.loads(line)["step"] for line in (rl / "train_log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 4
    straight = tmp_path / "straight" / "checkpoints" / "rl" / "model.safetensors"
    # (steps 1-2 leave this tiny RL stage's weights as the cold start's, so the checkpoint's weights being loaded
    # is not what this checks: tests/training/test_output_dir.py resumes a run whose steps move the weights)
    assert (rl / "model.safetensors").read_bytes() == straight.read_bytes()

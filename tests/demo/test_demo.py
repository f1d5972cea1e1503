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
    line = next(x for x in docs.splitlines() if x.startswith("videorft eval "))
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

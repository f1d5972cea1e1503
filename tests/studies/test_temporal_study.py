"""The study's bookkeeping: mean ± sd over seeds, paired differences with a noise verdict, the markdown."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("temporal_study", ROOT / "studies" / "temporal_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(acc: float, shuffled: float, stage: str = "rl") -> dict:
    other = "sft" if stage == "rl" else "rl"
    body = {
        "reward": 1.0 + acc,
        "multiple_choice": {"accuracy": acc, "n": 100, "n_unparsed": 0},
        "control": {
            "ordered": acc,
            "shuffled": shuffled,
            "gap": acc - shuffled,
            "gap_ci95": [acc - shuffled - 0.1, acc - shuffled + 0.1],
        },
    }
    return {"stages": {stage: body, other: {}, "base": {}}, "seconds": 1.0}


def test_aggregate_and_paired_comparisons(study, tmp_path) -> None:
    results = {
        "sft_only": {s: _summary(0.50 + 0.01 * s, 0.5, stage="sft") for s in range(3)},
        "tgrpo": {s: _summary(0.80 + 0.02 * s, 0.5) for s in range(3)},  # +0.30, +0.31, +0.32: clear
        "grpo": {s: _summary([0.50, 0.62, 0.40][s], 0.5) for s in range(3)},  # -0.00, +0.11, -0.12: noise
    }
    table = study.aggregate(results)
    assert table["tgrpo"]["multiple_choice/accuracy"]["mean"] == pytest.approx(0.82)
    assert table["tgrpo"]["multiple_choice/accuracy"]["sd"] == pytest.approx(0.02)
    assert table["sft_only"]["control/gap"]["mean"] == pytest.approx(0.01)  # read from the SFT stage
    assert table["tgrpo"]["reward"]["values"] == pytest.approx([1.80, 1.82, 1.84])

    rows = {r["question"]: r for r in study.compare(results)}
    assert rows["1. does T-GRPO add to SFT?"]["verdict"] == "a > b"
    assert rows["1. does T-GRPO add to SFT?"]["diffs"] == pytest.approx([0.30, 0.31, 0.32])
    assert rows["1. does GRPO add to SFT?"]["verdict"] == "within noise"
    assert "2. timestamps in the prompt, GRPO" not in rows  # arms that were not run are left out

    md = tmp_path / "results.md"
    study.write_markdown(table, study.compare(results), md, "python studies/temporal_study.py", "tiny")
    text = md.read_text()
    assert "| tgrpo | 3 | 1.820 ± 0.020 | 0.820 ± 0.020 | 0.500 ± 0.000 | 0.320 ± 0.020 | 3/3 | – |" in text
    assert (
        "| sft_only | 3 | 1.510 ± 0.010 | 0.510 ± 0.010 | 0.500 ± 0.000 | 0.010 ± 0.010 | 0/3 | – |" in text
    )
    assert "+0.310 ± 0.006 | a > b |" in text
    png = study.plot_probe_bars(table, tmp_path / "probe.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_only_aggregates_finished_arms_and_names_the_rest(study, tmp_path) -> None:
    import json

    out = tmp_path / "study"
    for seed in (0, 1):
        arm = out / f"seed{seed}" / "sft_only"
        arm.mkdir(parents=True)
        (arm / "summary.json").write_text(json.dumps(_summary(0.5 + 0.1 * seed, 0.5, stage="sft")))
        # seed 0 answers "A" to 9 of 10 questions (one answer), seed 1 to 8 of 10
        preds = arm / "stages" / "sft" / "probe" / "ordered" / "predictions.jsonl"
        preds.parent.mkdir(parents=True)
        letters = "AAAAAAAAAB" if seed == 0 else "AAAABAAAAB"
        rows = [
            {"task": "multiple_choice", "completion": f"<answer>{x}</answer>\n", "solution": "A"}
            for x in letters
        ]
        preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "seed0" / "tgrpo").mkdir(parents=True)  # seed 1 never finished: the arm is not reported
    (out / "seed0" / "tgrpo" / "summary.json").write_text(json.dumps(_summary(0.9, 0.5)))
    docs = tmp_path / "docs"
    argv = ["--out", str(out), "--seeds", "0", "1", "--only", "sft_only", "tgrpo", "--report-only"]
    study.main([*argv, "--docs", str(docs), "--note", "Other arms: see results_former.md."])
    text = (docs / "results.md").read_text()
    assert "| sft_only | 2 | 1.550 ± 0.071 | 0.550 ± 0.071 |" in text
    assert "| 0/2 | – | – | – | order 1/2 |" in text  # one of the two seeds reached the 90% share
    # unfinished (tgrpo) and left out by --only (every other arm) are both named
    not_run = [a for a in study.ARMS if a != "sft_only"]
    assert f"Not run here (no result for every seed): {', '.join(f'`{a}`' for a in not_run)}." in text
    assert "--report-only" not in text
    assert "\nOther arms: see results_former.md.\n" in text
    assert "--note 'Other arms: see results_former.md.'" in text  # the command line stays runnable
    assert (docs / "study_learning_curves.png").exists() and (out / "study_report.html").exists()

    note = tmp_path / "note.md"
    note.write_text("Read from a file.\n")
    study.main([*argv, "--docs", str(docs), "--note-file", str(note)])
    text = (docs / "results.md").read_text()
    assert "\nRead from a file.\n" in text and f"--note-file {note}`" in text
    with pytest.raises(SystemExit):  # a missing note file stops the study before any run
        study.main([*argv, "--docs", str(docs), "--note-file", str(tmp_path / "missing.md")])


def test_set_overrides_take_the_fields_types(study) -> None:
    sets = study.parse_sets(["sft_answers=gold", "rl_lr=5e-4", "rl_steps=60", "freeze_embeddings=false"])
    assert sets == {"sft_answers": "gold", "rl_lr": 5e-4, "rl_steps": 60, "freeze_embeddings": False}
    assert study.parse_sets(["tasks=multiple_choice,temporal_grounding"])["tasks"] == (
        "multiple_choice",
        "temporal_grounding",
    )
    with pytest.raises(SystemExit, match="rl_lrr"):
        study.parse_sets(["rl_lrr=1"])
    with pytest.raises(SystemExit, match="true or false"):
        study.parse_sets(["temporal=yes"])


def test_grounding_arms_get_their_own_cold_start_and_the_best_constant_span(study, tmp_path) -> None:
    """The g_* arms run on the grounding suite: a cold-start folder of their own (a shared SFT checkpoint of
    another suite would pair arms that saw different videos), and the table gets the bar a model that ignores
    the video can reach, computed on the arm's own held-out questions."""
    import json
    from dataclasses import replace

    from videorft.data.synth import synthesize
    from videorft.demo import GROUNDING_SUITE, DemoConfig

    order = DemoConfig(seed=0)
    grounding = replace(order, **{k: v for k, v in study.ARMS["g_grpo"].items()})
    keys = {study.cold_start_key(c) for c in (order, grounding, replace(grounding, temporal=True))}
    assert len(keys) == 2  # GRPO and T-GRPO share the grounding cold start; the order demo keeps its own
    assert study.cold_start_key(order) == "multiple_choice_sft120_random"  # the former runs' folder name
    order_on_grounding_suite = replace(order, **study.ARMS["g_order_grpo"])  # same task, other videos
    assert study.cold_start_key(order_on_grounding_suite) != study.cold_start_key(order)
    joint = replace(order, **study.ARMS["g_joint_grpo"])
    assert joint.rl_prompts == 2 * order.rl_prompts and study.cold_start_key(joint) not in keys
    # the mixed cold start (gold spans, random letters) is a cold start of its own, named for its answers
    mixed = replace(order, **study.ARMS["g_joint_grpo_lr1e4_mixed"])
    assert study.cold_start_key(mixed).startswith(
        "multiple_choice-temporal_grounding_sft300_temporal_grounding-gold+multiple_choice-random_batch32"
    )
    # SFT budgets are step counts: "+300" on a g_* arm once meant 120 + 300 (the order demo's cold start)
    assert replace(order, **study.ARMS["g_sft_more"]).sft_steps == grounding.sft_steps + 100
    longer = [replace(order, **study.ARMS[a]) for a in ("g_grpo_lr1e4_600_sft420", "g_sft420_only")]
    assert {study.cold_start_key(c) for c in longer} == {"temporal_grounding_sft420_gold_suite9e8f9c8b"}

    out = tmp_path / "study"
    for seed, miou in ((0, 0.80), (1, 0.70)):
        arm = out / f"seed{seed}" / "g_grpo"
        synthesize(arm / "synth", n=40, seed=seed, tasks=["temporal_grounding"], workers=1, **GROUNDING_SUITE)
        (arm / "demo_config.json").write_text(json.dumps({"tasks": ["temporal_grounding"], "eval_limit": 4}))
        (arm / "summary.json").write_text(
            json.dumps(
                {"stages": {"rl": {"reward": 1.0, "temporal_grounding": {"mIoU": miou}}}, "seconds": 1.0}
            )
        )
    results = {
        "g_grpo": {s: json.loads((out / f"seed{s}" / "g_grpo" / "summary.json").read_text()) for s in (0, 1)}
    }
    row = study.aggregate(results, out)["g_grpo"]
    constants = row["best_constant/mIoU"]["values"]
    assert all(0.3 < c <= 1.0 for c in constants)
    assert row["over_constant/mIoU"]["values"] == pytest.approx([0.80 - constants[0], 0.70 - constants[1]])


def test_a_page_of_grounding_arms_states_their_budget(study, tmp_path) -> None:
    """Only g_* arms: the budget line is the grounding preset's (300 gold SFT steps), not the order demo's."""
    import json

    out = tmp_path / "study"
    arm = out / "seed0" / "g_sft_only"
    arm.mkdir(parents=True)
    (arm / "summary.json").write_text(json.dumps(_summary(0.5, 0.5, stage="sft")))
    docs = tmp_path / "docs"
    argv = ["--out", str(out), "--seeds", "0", "--only", "g_sft_only", "--report-only", "--docs", str(docs)]
    study.main(argv)
    text = (docs / "results.md").read_text()
    assert (
        "the grounding demo suite (one shape, 8 s at 4 fps), 1000 videos per task, SFT 300 steps (gold answers"
        in text
    )
    (out / "seed0" / "sft_only").mkdir()
    (out / "seed0" / "sft_only" / "summary.json").write_text(json.dumps(_summary(0.5, 0.5, stage="sft")))
    study.main([*argv, "--only", "g_sft_only", "sft_only"])  # with an order arm: the order demo's budget
    assert "SFT 120 steps (random answers" in (docs / "results.md").read_text()


def test_the_readme_grounding_command_is_the_study_arm_it_reports(study, monkeypatch, tmp_path) -> None:
    """README's grounding result is the study's g_grpo_lr1e4_g8: its `videorft demo` command, parsed by the CLI,
    is that arm's DemoConfig field for field."""
    import re
    import shlex
    from dataclasses import replace

    from videorft.cli.main import main
    from videorft.demo import DemoConfig

    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`(videorft demo --task grounding --grpo [^`]*)`", readme).group(1)
    ran = []
    monkeypatch.setattr("videorft.demo.run_demo", lambda cfg, *a, **k: ran.append(cfg))
    out = str(tmp_path / "g8")
    assert main([*shlex.split(command)[1:], "--seed", "2", "--out", out]) == 0
    arm = replace(DemoConfig(out=out, seed=2), **study.ARMS["g_grpo_lr1e4_g8"])
    assert ran == [arm]

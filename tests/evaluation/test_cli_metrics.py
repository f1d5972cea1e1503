"""`videorft metrics` on files in the `videorft score` line format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videorft.cli.main import main

ROWS = [
    {
        "id": "g1",
        "task": "temporal_grounding",
        "completion": "<think>a</think><answer>2 to 6</answer>",
        "solution": [4, 8],
    },
    {
        "id": "g2",
        "task": "temporal_grounding",
        "completion": "<answer>0 to 5</answer>",
        "solution": [0, 5],
        "duration": 9,
    },
    {"id": "g3", "task": "temporal_grounding", "completion": "no answer", "solution": [1, 2]},
    {
        "id": "m1",
        "task": "multiple_choice",
        "completion": "<think>b</think><answer>(C)</answer>",
        "solution": "C",
    },
    {"id": "m2", "task": "multiple_choice", "completion": "<answer>D</answer>", "solution": "C"},
]


@pytest.fixture
def predictions(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_json_output_contract(predictions, capsys):
    assert main(["metrics", str(predictions), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"temporal_grounding", "multiple_choice"}
    assert set(out["temporal_grounding"]) == {"mIoU", "R@0.3", "R@0.5", "R@0.7", "n", "n_unparsed"}
    assert out["temporal_grounding"]["n"] == 3 and out["temporal_grounding"]["n_unparsed"] == 1
    assert out["multiple_choice"] == {"accuracy": 0.5, "n": 2, "n_unparsed": 0}
    for values in out.values():
        assert all(0.0 <= v <= 1.0 for k, v in values.items() if not k.startswith("n"))


def test_metrics_agree_with_videorft_score(predictions, tmp_path, capsys):
    scored = tmp_path / "scored.jsonl"
    assert main(["score", str(predictions), "-o", str(scored)]) == 0
    rewards = [json.loads(line) for line in scored.read_text().splitlines()]
    assert main(["metrics", str(predictions), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ious = [r["rewards"]["iou"] for r in rewards if r["task"] == "temporal_grounding"]
    accs = [r["rewards"]["accuracy"] for r in rewards if r["task"] == "multiple_choice"]
    assert out["temporal_grounding"]["mIoU"] == pytest.approx(sum(ious) / len(ious))
    assert out["multiple_choice"]["accuracy"] == pytest.approx(sum(accs) / len(accs))


def test_table_output_and_errors(predictions, tmp_path, capsys):
    assert main(["metrics", str(predictions)]) == 0
    assert "temporal_grounding" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    assert main(["metrics", str(bad)]) == 2
    assert f"{bad}: line 2" in capsys.readouterr().err
    assert main(["metrics", str(bad), "--skip-invalid", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["temporal_grounding"]["n"] == 1
    assert "skipped 1 invalid record" in captured.err


def test_text_and_json_use_the_same_units(predictions, capsys):
    assert main(["metrics", str(predictions), "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert main(["metrics", str(predictions)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("metrics as fractions (0-1)")
    for task, values in as_json.items():
        line = next(x for x in text if x.startswith(task + " "))
        for metric, value in values.items():
            if metric not in ("n", "n_unparsed"):
                assert f"{metric} {value:.3f}" in line, (task, metric, line)


def test_metrics_options_switch_to_our_arithmetic(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    rows = [{"id": "r1", "task": "regression", "completion": "<answer>150</answer>", "solution": 100}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["metrics", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["regression"]["MRA"] == pytest.approx(0.1)  # official <=
    assert main(["metrics", str(path), "--json", "--mra", "paper"]) == 0
    assert json.loads(capsys.readouterr().out)["regression"]["MRA"] == 0.0


def test_metrics_refuses_duplicate_ids_and_skips_them_loudly(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*ROWS, ROWS[3]]))
    assert main(["metrics", str(path), "--json"]) == 2
    assert "line 6: field 'id': duplicate id 'm1' (first on line 4)" in capsys.readouterr().err
    assert main(["metrics", str(path), "--json", "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["multiple_choice"]["n"] == 2
    assert "skipped 1 invalid record(s)" in captured.err and "duplicate id 'm1'" in captured.err


VIDEO_R1_OUTPUT = Path(__file__).parent / "fixtures" / "video_r1_eval_bench_output.json"
# The fixture's predictions in our own row format (canonical solutions, our task names).
OURS = [
    {"id": "1", "task": "multiple_choice", "completion": "<think>let me think, the person lifts a hand</think>\n"
     "<answer>B</answer>", "solution": "B"},
    {"id": "2", "task": "multiple_choice", "completion": "<think>hmm, the book is on the table</think>\n"
     "<answer>C</answer>", "solution": "A"},
    {"id": "3", "task": "multiple_choice", "completion": "I think it is D", "solution": "D"},
    {"id": "4", "task": "numerical", "completion": "<think>one, two, three</think>\n<answer>3</answer>",
     "solution": 3},
    {"id": "5", "task": "regression", "completion": "<think>about two and a half</think>\n<answer>2.5</answer>",
     "solution": 2.3},
    {"id": "6", "task": "regression", "completion": "<think>far</think>\n<answer>10</answer>", "solution": 4},
]  # fmt: skip


def test_video_r1_eval_bench_output_scores_like_our_rows(tmp_path, capsys):
    """src/eval_bench.py writes {"results": [sample + output/prediction/reward/correct], "final_acc": [...]}."""
    ours = tmp_path / "ours.jsonl"
    ours.write_text("".join(json.dumps(r) + "\n" for r in OURS))
    for flags in (["--json"], [], ["--json", "--mra", "video_r1"]):
        assert main(["metrics", str(VIDEO_R1_OUTPUT), *flags]) == 0
        theirs = capsys.readouterr().out
        assert main(["metrics", str(ours), *flags]) == 0
        assert theirs == capsys.readouterr().out
    assert main(["metrics", str(VIDEO_R1_OUTPUT), "--json", "--mra", "video_r1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["multiple_choice"] == {"accuracy": pytest.approx(1 / 3), "n": 3, "n_unparsed": 1}
    assert out["numerical"] == {"accuracy": 1.0, "n": 1, "n_unparsed": 0}
    # Video-R1's own mean_mra in the file's final_acc, reproduced with --mra video_r1
    final_acc = json.loads(VIDEO_R1_OUTPUT.read_text())["final_acc"][0]
    assert out["regression"]["MRA"] == pytest.approx(final_acc["mean_mra"])


def test_video_r1_eval_bench_output_bad_row_names_file_record_and_field(tmp_path, capsys):
    doc = json.loads(VIDEO_R1_OUTPUT.read_text())
    del doc["results"][2]["output"]
    doc["results"][4]["solution"] = "<answer>many</answer>"
    bad = tmp_path / "eval_vsibench_x_greedy_output.json"
    bad.write_text(json.dumps(doc, indent=2))
    assert main(["metrics", str(bad), "--json"]) == 2
    assert f"{bad}: record 2: field 'output': missing" in capsys.readouterr().err
    assert main(["metrics", str(bad), "--json", "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert (
        f"{bad}: record 4: field 'solution'" in captured.err and "skipped 2 invalid record(s)" in captured.err
    )
    assert json.loads(captured.out)["multiple_choice"]["n"] == 2
    bad.write_text(json.dumps({"results": {"1": doc["results"][0]}}))
    assert main(["metrics", str(bad)]) == 2
    assert f"{bad}: field 'results': expected a list, got dict" in capsys.readouterr().err

"""`videorft export verl` and `videorft.integrations.verl.compute_score` (without verl installed).

The run of verl's own dataset and reward manager over the same parquet is test_verl_reward_manager.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import datasets
import pytest

from videorft.cli.main import main
from videorft.data.loaders import load_spec
from videorft.data.prompts import render_prompt
from videorft.inputs import SampleEncoder
from videorft.integrations.verl import compute_score, video_entry
from videorft.video import FrameBudget

# max 6 frames: below the tracking records' own count (meta nframes 8), so both rules are exercised
BUDGET = ["--max-frames", "6", "--max-pixels", str(64 * 28 * 28), "--min-pixels", str(16 * 28 * 28)]


@pytest.fixture(scope="module")
def exported(synth_suite_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("verl-export")
    assert (
        main(["export", "verl", "--data", str(synth_suite_dir), "--split", "val", "--out", str(out), *BUDGET])
        == 0
    )
    return out


def completions_for(task: str, solution: object) -> list[str]:
    """A right and a wrong answer of the task's form (the rewards decide how right)."""
    if task == "temporal_grounding":
        s, e = solution
        return [
            f"<think>…</think><answer>{s:.2f} to {e:.2f}</answer>",
            "<answer>0.00 to 99.00</answer>",
        ]  # past the end: clipped to meta duration
    if task == "tracking":
        return [
            f"<think>…</think><answer>{json.dumps(solution)}</answer>",
            "<think>…</think><answer>[]</answer>",
        ]
    if task == "grounding_qa":
        glue = ", ".join(f"({s}, {e})" for s, e in solution["intervals"])
        return [
            f"<think>…</think><answer>{solution['answer']}</answer><glue>[{glue}]</glue>",
            "<answer>Z</answer>",
        ]
    if task == "caption":
        return [
            f"<think>…</think><answer>{' '.join(solution['events'])}</answer>",
            "<think>…</think><answer>nothing</answer>",
        ]
    return [f"<think>…</think><answer>{solution}</answer>", "<think>…</think><answer>no idea</answer>"]


def test_export_writes_verls_schema_with_videorfts_prompts(exported: Path, synth_suite_dir: Path) -> None:
    rows = datasets.load_dataset("parquet", data_files=str(exported / "val.parquet"))["train"]
    assert set(rows.column_names) == {
        "data_source",
        "prompt",
        "videos",
        "ability",
        "reward_model",
        "extra_info",
    }
    records = {r.id: r for r in load_spec(str(synth_suite_dir), split="val").records}
    info = json.loads((exported / "val.export.json").read_text())
    # the GOT-10k frame folders are skipped and said so, never dropped silently
    assert [s["id"] for s in info["skipped_at_export"]] == [
        r.id for r in records.values() if r.task == "tracking" and Path(r.video).is_dir()
    ]
    assert info["rows"] == len(rows) == len(records) - len(info["skipped_at_export"])
    budget = FrameBudget(max_frames=6, max_pixels=64 * 28 * 28, min_pixels=16 * 28 * 28)
    for row in rows:
        record = records[row["extra_info"]["id"]]
        assert row["data_source"] == record.task
        assert row["prompt"] == [{"role": "user", "content": "<video>" + render_prompt(record)}]
        assert json.loads(row["reward_model"]["ground_truth"]) == record.solution
        assert row["reward_model"]["style"] == "rule"
        assert json.loads(row["extra_info"]["meta"]) == record.meta
        assert row["videos"] == [video_entry(record, budget)]
        # the record's own frame count wins over the fps rule (tracking: one box per frame)
        expected_n = record.meta.get("nframes") or None
        assert row["videos"][0]["nframes"] == expected_n if expected_n else row["videos"][0]["nframes"] <= 6


def test_video_entries_make_qwen_vl_utils_sample_what_videorft_samples(
    exported: Path, synth_suite_dir: Path, monkeypatch
) -> None:
    """verl hands each entry to qwen-vl-utils; the frames it gets are the trainer's (indices and size)."""
    import qwen_vl_utils.vision_process as vp  # the pinned oracle (dev extra)

    from video.test_decode import _FakeDecord  # a decord over PyAV, so qwen-vl-utils' own reader runs

    monkeypatch.setitem(sys.modules, "decord", _FakeDecord("decord"))
    monkeypatch.setattr(vp, "get_video_reader_backend", lambda: "decord")
    rows = datasets.load_dataset("parquet", data_files=str(exported / "val.parquet"))["train"]
    records = {r.id: r for r in load_spec(str(synth_suite_dir), split="val").records}
    encoder = SampleEncoder(None, FrameBudget(max_frames=6, max_pixels=64 * 28 * 28, min_pixels=16 * 28 * 28))
    checked = set()
    for row in rows:
        if row["data_source"] in checked:
            continue
        checked.add(row["data_source"])
        (video, meta), _ = vp.fetch_video(
            dict(row["videos"][0]), return_video_sample_fps=True, return_video_metadata=True
        )
        clip = encoder.clip(records[row["extra_info"]["id"]])
        assert list(meta["frames_indices"]) == clip.indices
        assert tuple(video.shape[-2:]) == clip.frames.shape[1:3] and video.shape[0] == len(clip.frames)
    assert {"tracking", "temporal_grounding", "multiple_choice"} <= checked  # meta nframes, fps rule


def test_compute_score_equals_videorft_score(exported: Path, tmp_path: Path) -> None:
    rows = datasets.load_dataset("parquet", data_files=str(exported / "val.parquet"))["train"]
    lines, ours = [], []
    for row in rows:
        solution = json.loads(row["reward_model"]["ground_truth"])
        meta = json.loads(row["extra_info"]["meta"])
        for completion in completions_for(row["data_source"], solution):
            lines.append({"task": row["data_source"], "completion": completion, "solution": solution, **meta})
            # verl adds its own keys to extra_info; they must not reach the rewards
            extra = {**row["extra_info"], "num_turns": None, "rollout_reward_scores": {}}
            ours.append(
                compute_score(row["data_source"], completion, row["reward_model"]["ground_truth"], extra)
            )
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["score", str(src), "-o", str(out)]) == 0
    theirs = [json.loads(x)["rewards"] for x in out.read_text().splitlines()]
    assert len(theirs) == len(ours) == 2 * len(rows)
    for line, mine, ref in zip(lines, ours, theirs, strict=True):
        assert set(mine) == {"score", "format", "accuracy"}
        assert mine["score"] == pytest.approx(ref["total"]) and mine["format"] == pytest.approx(ref["format"])
        accuracy = {"temporal_grounding": "iou", "tracking": "iou", "caption": "recall"}.get(
            line["task"], "accuracy"
        )
        assert mine["accuracy"] == pytest.approx(ref[accuracy])
    totals = [m["score"] for m in ours]
    assert max(totals[0::2]) > 1.5 and min(totals[0::2]) > max(
        totals[1::2]
    )  # right answers score, wrong do not


def test_compute_score_takes_verls_reward_kwargs() -> None:
    gt = json.dumps([2.0, 6.0])
    extra = {"meta": json.dumps({"duration": 10.0})}
    full = compute_score("temporal_grounding", "<think>a</think><answer>2.0 to 6.0</answer>", gt, extra)
    assert full == {"score": 2.0, "format": 1.0, "accuracy": 1.0}
    bare = compute_score(
        "temporal_grounding", "<answer>2.0 to 6.0</answer>", gt, extra, think=False, weights={"iou": 2}
    )
    assert bare == {"score": 3.0, "format": 1.0, "accuracy": 1.0}
    assert (
        compute_score("temporal_grounding", "<answer>2.0 to 6.0</answer>", gt, extra, use_format=False)[
            "score"
        ]
        == 1.0
    )


def test_export_refuses_timing_and_reports_a_bad_spec(tmp_path: Path, synth_suite_dir: Path, capsys) -> None:
    assert (
        main(["export", "verl", "--data", str(synth_suite_dir), "--out", str(tmp_path), "--timing-in-prompt"])
        == 2
    )
    assert "timing_in_prompt" in capsys.readouterr().err
    assert main(["export", "verl", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err

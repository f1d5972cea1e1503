"""The runner and the probe with a scripted generator on real synthetic videos (no model needed)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from videorft.data.loaders import load_spec
from videorft.data.record import Record
from videorft.evaluation.config import EvalConfig, ProbeConfig, load_config, resolve_backend
from videorft.evaluation.metrics import metrics_of_file
from videorft.evaluation.probe import paired_bootstrap, probe
from videorft.evaluation.runner import Decoding, run_eval
from videorft.inputs import record_rng, reorder_frames
from videorft.video import FrameBudget, load_video

BUDGET = FrameBudget(max_frames=8, min_pixels=56 * 56, max_pixels=112 * 112)


def _frames(t=8):
    return np.arange(t, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)  # (T, 2, 2, 3)


def _ids(frames):
    return [int(f[0, 0, 0]) for f in frames]


def test_reorder_frames_variants():
    f = _frames()
    rng = record_rng(0, "x")
    assert reorder_frames(f, "ordered", rng) is f
    assert _ids(reorder_frames(f, "reversed", rng, unit=2)) == [6, 7, 4, 5, 2, 3, 0, 1]
    assert _ids(reorder_frames(f, "reversed", rng, unit=1)) == [7, 6, 5, 4, 3, 2, 1, 0]
    assert _ids(reorder_frames(f, "middle", rng)) == [4, 4]
    shuffled = _ids(reorder_frames(f, "shuffled", record_rng(0, "x"), unit=2))
    assert shuffled != list(range(8)) and sorted(shuffled) == list(range(8))
    assert all(shuffled[i] // 2 == shuffled[i + 1] // 2 for i in range(0, 8, 2))  # temporal patches intact
    assert shuffled == _ids(reorder_frames(f, "shuffled", record_rng(0, "x"), unit=2))  # seeded per record
    with pytest.raises(ValueError, match="valid: ordered, shuffled"):
        reorder_frames(f, "sideways", rng)


def test_paired_bootstrap_is_seeded_and_brackets_the_mean():
    a, b = [1, 1, 1, 0, 1, 1, 0, 1], [0, 1, 0, 0, 0, 1, 0, 0]
    r1, r2 = paired_bootstrap(a, b, n_boot=500, seed=3), paired_bootstrap(a, b, n_boot=500, seed=3)
    assert r1 == r2 and r1["mean"] == pytest.approx(0.5) and r1["n"] == 8
    assert 0 < r1["ci95"][0] <= 0.5 <= r1["ci95"][1] <= 1
    assert paired_bootstrap([1, 0], [1, 0])["ci95"] == [0.0, 0.0]
    assert paired_bootstrap([], [])["mean"] is None
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1], [1, 0])


def test_config_yaml_then_overrides(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("model: m\ndata: d\nout: o\nmax_frames: 16\nbatch_size: 2\n")
    cfg = load_config(EvalConfig, str(path), {"batch_size": 8, "limit": None})
    assert (cfg.max_frames, cfg.batch_size, cfg.limit) == (16, 8, None)
    path.write_text("model: m\nframes: 16\n")
    with pytest.raises(ValueError, match="unknown setting"):
        load_config(EvalConfig, str(path), {})
    with pytest.raises(ValueError, match="valid: ordered, shuffled"):
        EvalConfig(frame_order="sideways")
    with pytest.raises(ValueError, match="must include 'ordered' and 'shuffled'"):
        ProbeConfig(variants=["ordered", "reversed"])


def test_backend_resolution():
    assert resolve_backend("auto", available=False) == "hf"
    assert resolve_backend("auto", available=True) == "vllm"
    assert resolve_backend("hf", available=True) == "hf"
    with pytest.raises(ValueError, match="needs the vllm package"):
        resolve_backend("vllm", available=False)


def test_vllm_config_fails_fast_without_vllm(tmp_path, capsys):
    from videorft.cli.main import main
    from videorft.evaluation.config import vllm_available

    if vllm_available():
        pytest.skip("vLLM and a GPU are present here")
    path = tmp_path / "eval.yaml"
    path.write_text(f"model: {tmp_path}/none\ndata: {tmp_path}/none\nout: {tmp_path}/run\nbackend: vllm\n")
    assert main(["eval", "--config", str(path)]) == 2
    assert "needs the vllm package" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


class ScriptedGenerator:
    """Answers an MC question correctly exactly when it sees the frames in their original order."""

    backend = "scripted"
    model_name = "scripted"

    def __init__(self, records):
        self.truth = {}
        self.calls = 0
        for r in records:
            self.truth[r.video] = (r.solution, load_video(r.video, BUDGET).frames)

    def generate(self, samples, decoding, step):
        self.calls += len(samples)
        out = []
        for clip in (s.clip for s in samples):
            letter, ordered = self.truth[clip.path]
            same = clip.frames.shape == ordered.shape and np.array_equal(clip.frames, ordered)
            out.append(f"<think>look</think><answer>{letter if same else 'Z'}</answer>")
        return out

    def describe(self):
        return {"backend": "scripted"}


@pytest.fixture(scope="module")
def mc_records(synth_suite_dir):
    records = [
        r for r in load_spec(str(synth_suite_dir), split="train").records if r.task == "multiple_choice"
    ]
    assert len(records) >= 6
    return records[:6]


def test_probe_measures_order_use(mc_records, tmp_path):
    gen = ScriptedGenerator(mc_records)
    report = probe(gen, None, mc_records, budget=BUDGET, n_boot=200, out_dir=tmp_path, progress=False)
    v = report["variants"]
    assert v["ordered"]["score"] == 1.0
    assert v["shuffled"]["score"] == v["reversed"]["score"] == v["middle"]["score"] == 0.0
    assert report["gap"]["ordered_minus_shuffled"] == 1.0 and report["gap"]["ci95"] == [1.0, 1.0]
    assert report["gap"]["n"] == 6 and report["gap"]["per_task"]["multiple_choice"]["mean"] == 1.0
    saved = json.loads((tmp_path / "probe.json").read_text())
    assert saved["variants"]["shuffled"]["n"] == 6
    # each variant is an eval run folder whose metrics agree with the probe's
    metrics, _ = metrics_of_file(tmp_path / "shuffled" / "predictions.jsonl")
    assert metrics == saved["variants"]["shuffled"]["metrics"]
    assert json.loads((tmp_path / "middle" / "protocol.json").read_text())["video"]["frame_order"] == "middle"


def test_resume_skips_done_records_and_drops_a_torn_line(mc_records, tmp_path):
    gen = ScriptedGenerator(mc_records)
    run_eval(gen, None, mc_records[:3], budget=BUDGET, batch_size=2, out_dir=tmp_path, progress=False)
    assert gen.calls == 3
    preds = tmp_path / "predictions.jsonl"
    preds.write_text(preds.read_text() + '{"id": "torn", "comp')  # a run killed mid-write
    result = run_eval(gen, None, mc_records, budget=BUDGET, batch_size=2, out_dir=tmp_path, progress=False)
    assert gen.calls == 6  # only the 3 new ones
    assert [r["id"] for r in result.rows] == [r.id for r in mc_records]
    lines = preds.read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["completion"].endswith("</answer>") for line in lines)
    protocol = json.loads((tmp_path / "protocol.json").read_text())
    assert protocol["resumed"] == 3 and protocol["n_predicted"] == 6
    with pytest.raises(ValueError, match="different protocol.*video.max_frames"):
        run_eval(
            gen,
            None,
            mc_records,
            budget=dataclasses.replace(BUDGET, max_frames=4),
            out_dir=tmp_path,
            progress=False,
        )


def test_corrupt_video_is_skipped_and_counted(mc_records, tmp_path):
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(b"\x00\x00\x00 this is not a video")
    bad = Record(
        id="broken", task="multiple_choice", problem="?", solution="A", video=str(bad_video), options=["A. x"]
    )
    gen = ScriptedGenerator(mc_records[:2])
    result = run_eval(
        gen, None, [mc_records[0], bad, mc_records[1]], budget=BUDGET, out_dir=tmp_path / "r", progress=False
    )
    assert [r["id"] for r in result.rows] == [mc_records[0].id, mc_records[1].id]
    protocol = json.loads((tmp_path / "r" / "protocol.json").read_text())
    assert protocol["n_skipped"] == 1 and protocol["skipped"][0]["id"] == "broken"
    assert str(bad_video) in protocol["skipped"][0]["path"]


def test_rows_are_score_input_with_prompt(mc_records, tmp_path):
    gen = ScriptedGenerator(mc_records[:1])
    rows = run_eval(
        gen, None, mc_records[:1], budget=BUDGET, decoding=Decoding(max_new_tokens=8), progress=False
    ).rows
    row = rows[0]
    assert {"id", "task", "completion", "solution", "prompt"} <= set(row)
    assert "process" not in row and row["frame_order"] == "ordered"
    assert "<answer>" in row["prompt"] and row["solution"] == mc_records[0].solution


def test_progress_shows_items_done_and_eta_on_stderr(mc_records, capsys):
    gen = ScriptedGenerator(mc_records[:3])
    run_eval(gen, None, mc_records[:3], budget=BUDGET, batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "eval" in err and "3/3" in err and "ETA" in err
    run_eval(gen, None, mc_records[:3], budget=BUDGET, batch_size=2, progress=False)
    assert capsys.readouterr().err == ""

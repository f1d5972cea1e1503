"""The report escapes every string from a run folder, reports malformed values instead of crashing,
and shows best/worst held-out examples with the frames the model saw."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videorft.cli.main import main
from videorft.evaluation.protocol import write_protocol
from videorft.evaluation.report import load_run, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def _write_mp4(path: Path, nframes: int = 8, size: int = 56) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=4)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(nframes):
            rgb = np.zeros((size, size, 3), np.uint8)
            rgb[:, : size * (i + 1) // nframes] = (220, 40, 40)  # a bar that grows: frames differ
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _rows(video: str) -> list[dict]:
    return [
        {"id": "good", "task": "multiple_choice", "completion": "<answer>A</answer>", "solution": "A",
         "prompt": "Which colour grows? A. red B. blue", "video": video},
        {"id": "bad1", "task": "multiple_choice", "completion": "<answer>B</answer>", "solution": "A",
         "prompt": "Q2", "video": video},
        {"id": "bad2", "task": "multiple_choice", "completion": f"<answer>{EVIL}</answer>", "solution": "A",
         "prompt": f"Q3 {EVIL}", "video": video},
        {"id": "tg", "task": "temporal_grounding", "completion": "<answer>0.5 to 1.5</answer>",
         "solution": [0.5, 1.5], "prompt": "When?", "video": str(Path(video).parent / "missing.mp4")},
    ]  # fmt: skip


def test_hostile_strings_are_escaped_everywhere(tmp_path):
    run = tmp_path / EVIL.replace("/", "_")
    run.mkdir()
    write_protocol(run, {"model": {"name_or_path": EVIL}, "video": {"nframes": 4}})
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(EVIL)))
    (run / "metrics.json").write_text(json.dumps({EVIL: {EVIL: 0.5, "n": 1}}))
    (run / "probe.json").write_text(
        json.dumps({"variants": {EVIL: {"score": 0.5}}, "gap": {"ordered_minus_shuffled": EVIL}})
    )
    (run / "train_log.jsonl").write_text(json.dumps({"step": 1, EVIL: 1.0, "note": EVIL}) + "\n")
    html = write_report([run], tmp_path / "r.html", title=EVIL).read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("<script>") == 1  # ours: the image-count marker
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    # the model's answer is shown as text, never as markup
    assert "<pre class='answer'>&lt;answer&gt;&lt;script&gt;alert(&#39;x&#39;)" in html
    # folder name, metric/task names, probe variant, model answer, prompt, protocol value, title
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 7


def test_malformed_values_are_reported_not_a_crash(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(
        json.dumps({"multiple_choice": {"accuracy": "high", "n": 3}, "tracking": [1, 2]})
    )
    (run / "probe.json").write_text(
        json.dumps({"variants": {"ordered": {"score": "0.5x"}, "shuffled": {"score": 0.25}}, "gap": [1]})
    )
    rows = [{"step": 1, "reward": 0.5}, {"step": 2, "reward": "nan?"}, {"step": 3, "reward": 0.7}]
    (run / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "r.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    html = out.read_text()
    notes = load_run(run).notes
    assert any("multiple_choice.accuracy: expected a number, got 'high'" in n for n in notes)
    assert any("tracking: expected {metric: value}" in n for n in notes)
    assert any("variants.ordered.score: expected a number, got '0.5x'" in n for n in notes)
    assert any("gap: expected an object" in n for n in notes)
    assert any("reward: 1 row(s) hold a non-number (first: 'nan?')" in n for n in notes)
    assert "<td class='bad' title='not a number'>high</td>" in html
    for text in ("tracking: expected", "variants.ordered.score", "reward: 1 row(s)"):
        assert text in html


def test_metrics_json_that_is_not_an_object(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("[1, 2]")
    (run / "probe.json").write_text('"x"')
    html = write_report([run], tmp_path / "r.html").read_text()
    assert "metrics.json: expected {task: {metric: value}}, got list" in html
    assert "probe.json: expected an object with a &#39;variants&#39; mapping" in html


@pytest.fixture
def example_run(tmp_path):
    video = _write_mp4(tmp_path / "clip.mp4")
    run = tmp_path / "eval"
    run.mkdir()
    write_protocol(run, {"model": {"name_or_path": "tiny"}, "video": {"nframes": 4, "max_pixels": 3136}})
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(str(video))))
    return run


def test_examples_best_and_worst_with_frames(example_run, tmp_path):
    run = load_run(example_run)
    mc = run.examples["multiple_choice"]
    assert [(e.rank, e.id, e.score) for e in mc] == [
        ("best", "good", 1.0),
        ("worst", "bad2", 0.0),
        ("worst", "bad1", 0.0),
    ]
    assert all(len(e.frames) == 4 for e in mc)  # the 4 frames of the eval's budget
    assert mc[0].question.startswith("Which colour grows?") and mc[0].gold == "A"
    (tg,) = run.examples["temporal_grounding"]
    assert tg.frames == [] and "missing.mp4" in tg.frames_note
    html = write_report([example_run], tmp_path / "r.html").read_text()
    section = html[html.index("<h2>Held-out examples</h2>") :]
    assert section.count("<img class='frame'") == 12
    assert "<pre class='answer'>&lt;answer&gt;A&lt;/answer&gt;</pre>" in section
    assert "frames unavailable:" in section


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (the project's setup installs it)"
)
def test_examples_render_in_headless_chromium(example_run, tmp_path):
    out = write_report([example_run], tmp_path / "report.html", title=EVIL)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    m = re.search(r'data-images-rendered="(\d+)/(\d+)"', dom)
    assert m is not None and m.group(1) == m.group(2) == "12", dom[:300]
    assert "<title>&lt;script&gt;" in dom  # the hostile title stayed text
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1600", out.as_uri()],
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    red = (img[..., 0] > 180) & (img[..., 1] < 90) & (img[..., 2] < 90)
    assert red.sum() > 500  # the frame strips' red bars were drawn


def test_examples_of_a_probe_folder_come_from_its_ordered_run(example_run, tmp_path):
    """The demo's stage folders hold probe/probe.json and probe/ordered/predictions.jsonl."""
    stage = tmp_path / "stage"
    ordered = stage / "probe" / "ordered"
    ordered.mkdir(parents=True)
    for name in ("predictions.jsonl", "protocol.json"):
        (ordered / name).write_text((example_run / name).read_text())
    probe = {"variants": {"ordered": {"score": 0.25}, "shuffled": {"score": 0.25}}, "gap": {}}
    (stage / "probe" / "probe.json").write_text(json.dumps(probe))
    run = load_run(stage)
    assert [e.id for e in run.examples["multiple_choice"]] == ["good", "bad2", "bad1"]
    assert all(len(e.frames) == 4 for e in run.examples["multiple_choice"])  # the ordered run's budget

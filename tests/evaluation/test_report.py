"""The HTML report: content, protocol-difference flags, and rendering in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from videorft.cli.main import main
from videorft.evaluation.protocol import protocol_diff, write_protocol
from videorft.evaluation.report import curve_groups, load_run, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _make_run(root, name, *, frames, mc_completion, with_log=True, with_probe=True):
    run = root / name
    run.mkdir()
    write_protocol(
        run,
        {
            "model": {"name_or_path": "tiny"},
            "video": {"max_frames": frames, "fps": 2.0},
            "decoding": {"greedy": True, "max_new_tokens": 64},
            "created": f"2026-01-0{frames % 9}",  # volatile: never flagged
        },
    )
    rows = [
        {"id": "1", "task": "multiple_choice", "completion": mc_completion, "solution": "A"},
        {
            "id": "2",
            "task": "temporal_grounding",
            "completion": "<answer>1 to 3</answer>",
            "solution": [2, 4],
        },
    ]
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if with_log:
        log = [
            {
                "step": s,
                "reward": 0.1 * s,
                "rewards/multiple_choice/accuracy": 0.05 * s,
                "rewards/multiple_choice/format": 1.0,
                "tgrpo/p": 0.5,
                "tgrpo/p_shuffled": 0.4,
                "kl": 0.01 * s,
                "completion_length": 40 + s,
                "note": "text",
            }
            for s in range(1, 6)
        ]
        (run / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log) + "{torn")
    if with_probe:
        probe = {
            "variants": {
                v: {"score": s, "n": 2} for v, s in [("ordered", 0.5), ("shuffled", 0.25), ("reversed", 0.25)]
            },
            "gap": {"ordered_minus_shuffled": 0.25, "ci95": [0.0, 0.5], "n_boot": 100, "seed": 0},
        }
        (run / "probe.json").write_text(json.dumps(probe))
    return run


@pytest.fixture
def two_runs(tmp_path):
    a = _make_run(tmp_path, "base", frames=16, mc_completion="<answer>B</answer>")
    b = _make_run(tmp_path, "tgrpo", frames=32, mc_completion="<answer>A</answer>", with_log=True)
    return a, b


def test_load_run_collects_everything(two_runs):
    run = load_run(two_runs[1])
    assert run.metrics["multiple_choice"]["accuracy"] == 1.0
    assert run.metrics["temporal_grounding"]["mIoU"] == pytest.approx(1 / 3)
    assert len(run.train_log) == 5
    assert any("1 unreadable line" in n for n in run.notes)  # the torn last line is reported
    assert run.probe["gap"]["ordered_minus_shuffled"] == 0.25


def test_protocol_diff_ignores_volatile_keys(two_runs):
    protos = [load_run(r).protocol for r in two_runs]
    assert protocol_diff(protos) == {"video.max_frames": [16, 32]}
    assert protocol_diff([protos[0], protos[0]]) == {}


def test_curve_groups_put_components_and_tgrpo_together():
    rows = [
        {
            "step": 1,
            "reward": 1.0,
            "rewards/mc/accuracy": 1,
            "rewards/mc/format": 1,
            "tgrpo/p": 0.5,
            "tgrpo/p_shuffled": 0.2,
            "flag": True,
            "name": "x",
        }
    ]
    groups = curve_groups(rows)
    assert groups == {
        "reward": ["reward"],
        "rewards/mc": ["rewards/mc/accuracy", "rewards/mc/format"],
        "tgrpo": ["tgrpo/p", "tgrpo/p_shuffled"],
    }


def test_report_html_content(two_runs, tmp_path):
    out = write_report(two_runs, tmp_path / "r" / "report.html")
    html = out.read_text()
    assert "id='protocol-differs'" in html and "video.max_frames" in html
    assert "created" not in re.findall(r"<tr class='differs'><td class='key'>([^<]+)<", html)
    assert (
        html.count("<img ") == 1 + 5
    )  # probe chart + reward, rewards/multiple_choice, tgrpo, kl, completion_length
    assert "http://" not in html and "https://" not in html  # self-contained
    table = re.search(r"<table id='metrics'>.*?</table>", html, re.S).group(0)
    assert "<th>base</th><th>tgrpo</th>" in table
    assert "<td>0.0000</td><td>1.0000</td>" in table  # MC accuracy side by side


def test_report_cli_and_missing_run(two_runs, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(two_runs[0]), "-o", str(out)]) == 0
    assert out.is_file() and "protocol-differs" not in out.read_text()
    assert main(["report", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "run folder not found" in capsys.readouterr().err


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (the project's setup installs it)"
)
def test_report_renders_in_headless_chromium(two_runs, tmp_path):
    out = write_report(two_runs, tmp_path / "report.html")
    profile = tmp_path / "chromium-profile"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    # The page's onload script counts images that actually decoded (naturalWidth > 0).
    m = re.search(r'data-images-rendered="(\d+)/(\d+)"', dom)
    assert m is not None, dom[:500]
    assert m.group(1) == m.group(2) == "6"
    assert '<table id="metrics">' in dom and "temporal_grounding" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1400", out.as_uri()],
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    img = Image.open(shot).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100  # something was drawn, not a blank page

"""`videorft bench`: the one-object JSON contract, the report writer, and benchmark loading errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from videorft.cli.bench import BENCHMARKS, load_benchmark, render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_every_registered_benchmark_file_exists_and_has_run() -> None:
    for name in BENCHMARKS:
        assert callable(load_benchmark(REPO / "benchmarks", name).run), name


def test_unknown_or_missing_benchmark_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(ValueError, match="valid: frames, tgrpo"):
        load_benchmark(REPO / "benchmarks", "nope")
    with pytest.raises(FileNotFoundError, match="bench_tgrpo.py"):
        load_benchmark(tmp_path, "tgrpo")


def test_report_marks_missed_targets() -> None:
    report = {
        "command": "videorft bench --quick",
        "date": "2026-01-01 00:00 UTC",
        "machine": {"cpu": "x", "cores": 2},
        "results": {
            "rewards": {"rule_rewards_per_s": 9_000.0, "seconds": 1.0},
            "gpu": {"skipped": "no CUDA device", "seconds": 0.0},
        },
    }
    text = render_markdown(report)
    assert "`videorft bench --quick`" in text and "2026-01-01" in text
    row = next(line for line in text.splitlines() if line.startswith("| 3. rule rewards"))
    assert "9,000" in row and row.endswith("| **no** |")
    assert "no CUDA device" in text


def test_report_has_the_data_path_section() -> None:
    data = {"decode_inline_step_s": 3.0, "decode_overlapped_step_s": 2.5, "decode_overlap_speedup": 1.2}
    report = {
        "command": "videorft bench --only data",
        "date": "2026-01-01 00:00 UTC",
        "machine": {"cpu": "x", "cores": 2},
        "results": {"data": {**data, "seconds": 1.0}},
    }
    text = render_markdown(report)
    assert "## 7. Data path" in text and '"decode_overlap_speedup": 1.2' in text


@pytest.mark.slow
def test_bench_only_data_prints_the_decode_step_times() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "videorft.cli.main", "bench", "--quick", "--json", "--only", "data"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    for key in ("decode_inline_step_s", "decode_overlapped_step_s", "decode_overlap_speedup"):
        assert isinstance(report[key], float) and report[key] > 0, key
    assert report["decode_overlap_speedup"] == pytest.approx(
        report["decode_inline_step_s"] / report["decode_overlapped_step_s"], rel=0.01
    )


@pytest.mark.slow
def test_bench_quick_json_prints_one_object_with_positive_headlines(tmp_path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "videorft.cli.main", "bench", "--quick", "--json", "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=2400,  # a guard against a hang: the whole quick bench took over 900 s on a loaded machine
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)  # exactly one JSON document on stdout
    for key in ("frame_loading_speedup", "tgrpo_step_ratio", "naive_tgrpo_step_ratio", "rule_rewards_per_s"):
        assert isinstance(report[key], int | float) and report[key] > 0, key
    assert report["results"]["frames"]["all_frames_identical"]
    assert report["results"]["memory"]["errors"] == 0
    text = out.read_text()
    assert "## Summary" in text and report["machine"]["cpu"] in text
    assert (tmp_path / "memory_scaling.png").stat().st_size > 0


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_bench_writes_into_the_checkout_only_with_output(tmp_path, monkeypatch, capsys) -> None:
    """A checkout (benchmarks/ + docs/) is left byte-for-byte alone unless --output names a file."""
    from videorft.cli import bench
    from videorft.cli.main import main

    repo = tmp_path / "checkout"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "performance.md").write_text("old\n")
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "bench_memory.py").write_text(
        "from pathlib import Path\n"
        "def run(quick, plot=None):\n"
        "    if plot is not None:\n"
        "        Path(plot).write_bytes(b'png')\n"
        "    return {'errors': 0}\n"
    )
    monkeypatch.setattr(bench, "_REPO", repo)
    monkeypatch.setattr(bench, "BENCHMARKS", {"memory": "bench_memory.py"})
    monkeypatch.setattr(bench, "render_markdown", lambda report: f"report of {report['command']}\n")
    before = _tree(repo)
    assert main(["bench", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["memory"]["errors"] == 0
    assert _tree(repo) == before  # no report, no plot, no benchmarks/__pycache__
    out = tmp_path / "elsewhere" / "perf.md"
    assert main(["bench", "--output", str(out)]) == 0
    assert out.read_text() == f"report of videorft bench --output {out}\n"
    assert (out.parent / "memory_scaling.png").read_bytes() == b"png"
    assert _tree(repo) == before


def test_hand_written_sections_survive_a_rewrite() -> None:
    """docs/performance.md's GPU check and demo wall-time sections are written by hand after the marker."""
    from videorft.cli.bench import HAND_WRITTEN, hand_written

    old = f"# Performance\n\ngenerated\n\n{HAND_WRITTEN}\n\n## GPU check\n\nno figures yet\n"
    tail = hand_written(old)
    assert tail.startswith("\n" + HAND_WRITTEN) and tail.endswith("no figures yet\n")
    assert "generated" not in tail
    assert hand_written("# Performance\n\ngenerated\n") == ""
    assert HAND_WRITTEN in (REPO / "docs" / "performance.md").read_text()


def test_frames_bench_reports_a_torchcodec_that_cannot_load(tmp_path, monkeypatch) -> None:
    """An installed torchcodec whose FFmpeg libraries fail to load is a column note, not a crashed bench."""
    fake = tmp_path / "site" / "torchcodec"
    (fake / "decoders").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "decoders" / "__init__.py").write_text(
        'raise OSError("Could not load libtorchcodec. FFmpeg libraries (libavutil.so.59) not found")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("torchcodec", "torchcodec.decoders"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    frames = load_benchmark(REPO / "benchmarks", "frames")
    out = frames._other_loaders(tmp_path / "unused.mp4", [0, 1], repeats=1)
    assert out["torchcodec_s"].startswith("cannot load: Could not load libtorchcodec. FFmpeg")

"""`videorft data stats`: counts, skips, durations and probed frame statistics of real-format data."""

from __future__ import annotations

from pathlib import Path

from fixtures_helpers import videor1_item, write_corrupt, write_json, write_video

from videorft.cli.data_stats import compute_stats
from videorft.cli.main import main
from videorft.data.loaders import load_spec


def _dataset(root: Path, put_video) -> Path:
    put_video(root / "videos" / "AAAAA.mp4")
    write_video(root / "videos" / "long.mp4", nframes=12, fps=3, size=48)  # 4 s, 48x48
    write_corrupt(root / "videos" / "BBBBB.mp4")
    write_json(
        root / "train_charades.json",
        {
            "AAAAA": {"duration": 2.0, "timestamps": [[0.5, 1.0], [1.0, 2.0]], "sentences": ["one", "two"]},
            "BBBBB": {"duration": 5.0, "timestamps": [[0.5, 1.0]], "sentences": ["corrupt video"]},
            "CCCCC": {"duration": 6.0, "timestamps": [[3.0, 1.0]], "sentences": ["reversed interval"]},
        },
    )
    write_json(
        root / "val_r1.json", [videor1_item(1, "./videos/long.mp4"), videor1_item(2, "./videos/AAAAA.mp4")]
    )
    (root / "videorft_data.yaml").write_text(
        "name: tiny\nsplits:\n"
        "  train: [{format: charades_json, path: train_charades.json, video_root: videos}]\n"
        "  val: [{format: videor1, path: val_r1.json}]\n"
    )
    return root


def test_compute_stats_counts_durations_and_probes(tmp_path, put_video):
    root = _dataset(tmp_path, put_video)
    result = load_spec(str(root), skip_invalid=True, check_videos=True)
    stats = compute_stats(result)
    assert stats["counts"] == {"train/temporal_grounding": 2, "val/multiple_choice": 2}
    assert stats["total"] == 4 and stats["skipped"] == 2
    assert stats["skipped_by_field"] == {"video_id": 1, "timestamps[0]": 1}
    # Charades durations come from the annotation; Video-R1 ones from probing (4 s and 2 s videos).
    assert stats["durations"]["temporal_grounding"]["mean"] == 2.0
    mc = stats["durations"]["multiple_choice"]
    assert (mc["n"], mc["min"], mc["max"]) == (2, 2.0, 4.0)
    media = stats["media"]["multiple_choice"]
    assert media["media"] == 2 and media["frames"]["min"] == 8 and media["frames"]["max"] == 12
    assert (media["fps"]["min"], media["fps"]["max"]) == (3.0, 4.0)
    assert media["resolutions"] == {"48x48": 1, "32x32": 1}


def test_cli_prints_tables_and_skips(tmp_path, put_video, capsys):
    root = _dataset(tmp_path, put_video)
    assert main(["data", "stats", str(root), "--probe-videos"]) == 0
    out = capsys.readouterr().out
    assert "temporal_grounding" in out and "multiple_choice" in out
    assert "skipped: 2" in out
    assert "train_charades.json: record 1: field 'video_id': unreadable video" in out
    assert "train_charades.json: record 2: field 'timestamps[0]'" in out
    assert "48x48 (1)" in out and "8/10/12" in out  # frames min/mean/max over the two probed videos

    assert main(["data", "stats", str(root), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "skipped: 0" in out and "temporal_grounding" not in out


def test_cli_strict_and_bad_spec_fail_with_a_clear_message(tmp_path, put_video, capsys):
    root = _dataset(tmp_path, put_video)
    assert main(["data", "stats", str(root), "--strict", "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert "train_charades.json: record 2: field 'timestamps[0]'" in err
    assert main(["data", "stats", f"nosuchformat:{root}/x.json"]) == 2
    assert "valid formats:" in capsys.readouterr().err

"""Videos that probe fine but fail to decode never stop SFT, GRPO, eval or probe: skipped, counted, replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from videorft.cli.main import main
from videorft.training.media_skips import SKIPPED_MEDIA_FILE, MediaSkips, NoUsableMediaError
from videorft.video import VideoDecodeError
from videorft.video.synth import BROKEN_KINDS, render_broken_video

from .test_pipeline import write_config

#: The first temporal-grounding training videos of the synthetic suite, and how each is broken.
BROKEN = {"tg_train_00000.mp4": "truncated_index_first", "tg_train_00001.mp4": "corrupt_middle"}


@pytest.fixture(scope="module")
def broken_suite(synth_suite_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    suite = tmp_path_factory.mktemp("broken") / "suite"
    shutil.copytree(synth_suite_dir, suite)
    for name, kind in BROKEN.items():
        render_broken_video(suite / "videos" / name, kind)
    return suite


def _config(path: Path, **fields) -> Path:
    """test_pipeline's tiny-run config on the broken suite's grounding rows."""
    base = {
        "save_strategy": "no",
        "tasks": ["temporal_grounding"],
        "limit": 4,  # tg_train_00000#0, 00001#0, 00002#0, 00002#1: two of four are broken
    }
    return write_config(path, **{**base, **fields})


def _skipped_files(out: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (out / SKIPPED_MEDIA_FILE).read_text().splitlines()]
    return {Path(r["file"]).name: r["reason"] for r in rows}


def test_every_broken_kind_probes_fine_but_fails_to_decode(tmp_path):
    from videorft.data.loaders.media import probe_media
    from videorft.video import FrameBudget, load_video

    for kind in BROKEN_KINDS:
        path = render_broken_video(tmp_path / f"{kind}.mp4", kind)
        assert probe_media(path).nframes >= 1  # the loader's check passes ...
        with pytest.raises(VideoDecodeError):  # ... decoding what training samples does not
            load_video(path, FrameBudget(nframes=4))


def test_replacement_is_deterministic_logged_once_and_counted(tmp_path):
    pool = [{"id": f"r{i}", "video": f"/v/{i}.mp4"} for i in range(6)]
    bad = {"/v/1.mp4", "/v/3.mp4"}
    calls: list[str] = []

    def attempt(row):
        calls.append(row["video"])
        if row["video"] in bad:
            raise VideoDecodeError(row["video"], "corrupt or truncated stream")
        return row["id"]

    skips = MediaSkips(pool, log_dir=tmp_path)
    first = skips.resolve(pool[1], attempt)
    again = skips.resolve(pool[1], attempt)
    assert first == again and first[0]["video"] not in bad  # the same replacement every time
    assert skips.skipped_samples == 2 and "/v/1.mp4" in skips.bad
    assert calls.count("/v/1.mp4") == 1  # a known-bad file is not decoded again
    assert _skipped_files(tmp_path)["1.mp4"] == "corrupt or truncated stream"
    assert "skipped 2 sample(s)" in skips.summary() and "/v/1.mp4: corrupt" in skips.summary()
    # a resumed run starts from the files already known to be bad
    assert MediaSkips(pool, log_dir=tmp_path).bad == skips.bad
    with pytest.raises(NoUsableMediaError, match="failed to decode"):
        MediaSkips([pool[1], pool[3]]).resolve(pool[1], attempt)


def test_summary_includes_files_skipped_in_data_loader_workers(tmp_path):
    """SFT builds batches in worker processes: each has its own MediaSkips writing to the same log file."""
    pool = [{"id": f"r{i}", "video": f"/v/{i}.mp4"} for i in range(4)]

    def attempt(row):
        if row["video"] == "/v/2.mp4":
            raise VideoDecodeError(row["video"], "truncated")
        return row["id"]

    main_process = MediaSkips(pool, log_dir=tmp_path)
    worker = MediaSkips(pool, log_dir=tmp_path)  # a copy in a worker process
    worker.resolve(pool[2], attempt)
    summary = main_process.summary()
    assert summary is not None and "skipped 1 sample(s)" in summary and "/v/2.mp4: truncated" in summary


def test_sft_collator_replaces_undecodable_rows(tiny_model_dir, broken_suite):
    from videorft.inputs import SampleEncoder
    from videorft.models.loading import load_processor
    from videorft.training.config import VideoDataArguments
    from videorft.training.run import build_dataset
    from videorft.training.sft import VideoSFTCollator

    data_args = VideoDataArguments(
        data=str(broken_suite), tasks=["temporal_grounding"], limit=4, nframes=4,
        min_pixels=56 * 56, max_pixels=56 * 56,
    )  # fmt: skip
    dataset, _ = build_dataset(data_args)
    encoder = SampleEncoder.from_data_args(load_processor(tiny_model_dir), data_args)
    rows = [dataset[i] for i in range(4)]
    skips = MediaSkips(dataset)
    batch = VideoSFTCollator(encoder, skips=skips)(rows)
    assert batch["input_ids"].shape[0] == 4  # two replaced, none dropped
    assert batch["video_grid_thw"].shape[0] == 4
    assert set(Path(p).name for p in skips.bad) == set(BROKEN)
    # without a pool the bad rows are dropped from the batch
    assert VideoSFTCollator(encoder)(rows)["input_ids"].shape[0] == 2


def test_sft_and_grpo_train_through_broken_videos(tiny_model_dir, broken_suite, tmp_path, caplog):
    sft = tmp_path / "sft"
    cfg = _config(
        tmp_path / "sft.yaml",
        model_name_or_path=str(tiny_model_dir),
        data=str(broken_suite),
        output_dir=str(sft),
        per_device_train_batch_size=4,
        max_steps=2,
    )
    assert main(["train", "sft", str(cfg)]) == 0
    assert set(_skipped_files(sft)) == set(BROKEN)
    assert any("truncated" in reason for reason in _skipped_files(sft).values())
    assert "skipped" in caplog.text and "tg_train_00000.mp4" in caplog.text  # the end-of-run summary

    grpo = tmp_path / "grpo"
    cfg = _config(
        tmp_path / "grpo.yaml",
        model_name_or_path=str(tiny_model_dir),
        data=str(broken_suite),
        output_dir=str(grpo),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=4,
        max_steps=1,
    )
    assert main(["train", "grpo", str(cfg)]) == 0
    assert set(_skipped_files(grpo)) <= set(BROKEN) and _skipped_files(grpo)
    ids = [json.loads(line)["ids"] for line in (grpo / "rollouts.jsonl").read_text().splitlines()]
    assert len(ids[0]) == 8  # the step kept its full batch ...
    assert not {"tg_train_00000#0", "tg_train_00001#0"} & set(ids[0])  # ... from decodable records only


def test_eval_and_probe_skip_broken_videos_and_fail_when_none_is_left(
    tiny_model_dir, broken_suite, tmp_path, capsys
):
    # the train split starts with the four temporal-grounding records of BROKEN's videos (two broken)
    common = ["--model", str(tiny_model_dir), "--split", "train", "--max-frames", "4", "--max-pixels", "3136"]
    common += ["--min-pixels", "3136"]
    common += ["--max-new-tokens", "4", "--limit", "4"]
    assert main(["eval", "--data", str(broken_suite), "--out", str(tmp_path / "eval"), *common]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 unreadable video(s)" in err and "truncated" in err
    assert main(["probe", "--data", str(broken_suite), "--out", str(tmp_path / "probe"), *common]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 video(s)" in err
    report = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert {Path(s["path"]).name for s in report["skipped"]} == set(BROKEN)

    common[common.index("--limit") + 1] = "2"  # only the two broken records
    assert main(["eval", "--data", str(broken_suite), "--out", str(tmp_path / "none"), *common]) == 1
    assert "no usable samples" in capsys.readouterr().err
    assert main(["probe", "--data", str(broken_suite), "--out", str(tmp_path / "pnone"), *common]) == 1
    assert "no usable samples" in capsys.readouterr().err


def test_data_stats_probe_videos_decodes_like_training(broken_suite, capsys):
    assert main(["data", "stats", str(broken_suite), "--split", "train", "--probe-videos"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    for name in BROKEN:
        assert name in out
    assert "does not decode as training samples it" in out
    assert main(["data", "stats", str(broken_suite), "--split", "train", "--probe-videos", "--strict"]) == 2
    assert "does not decode" in capsys.readouterr().err


def test_decompression_bomb_is_a_per_file_error(tmp_path, monkeypatch):
    from PIL import Image

    from videorft.data.loaders.media import MediaError, probe_media
    from videorft.video import load_image

    path = tmp_path / "bomb.png"
    Image.new("RGB", (200, 200)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40000 px > 2 x 100: PIL raises its bomb error
    with pytest.raises(VideoDecodeError) as info:
        load_image(path)
    assert info.value.path == str(path) and "too large" in info.value.reason
    with pytest.raises(MediaError, match="too large"):
        probe_media(path)

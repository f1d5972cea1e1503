"""Dataset specs that point at what `datasets` writes (Parquet, JSON Lines, save_to_disk folders, a
hub id) in any format's schema, and files exactly as Video-R1's scripts write them."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from fixtures_helpers import videor1_item, write_got_sequence, write_image, write_json

from videorft.cli.main import main
from videorft.data.errors import DataError
from videorft.data.loaders import load_spec


def _videor1_items(root: Path, put_video) -> list[dict]:
    put_video(root / "videos" / "LLaVA" / "clip1.mp4")
    write_image(root / "videos" / "CLEVR" / "img1.png")
    return [
        videor1_item(1, "./LLaVA/clip1.mp4"),
        videor1_item(2, "./CLEVR/img1.png", "numerical", data_type="image", solution="<answer>3.5</answer>"),
        videor1_item(3, "./LLaVA/clip1.mp4", "OCR", solution="<answer>STOP</answer>"),
    ]


def _same(records) -> list[tuple]:
    return [
        (r.id, r.task, r.problem, r.solution, r.options, Path(r.video or r.image).resolve()) for r in records
    ]


@pytest.fixture
def videor1(tmp_path, put_video):
    items = _videor1_items(tmp_path, put_video)
    reference = load_spec(
        f"videor1:{write_json(tmp_path / 'r1.json', items)}", video_root=str(tmp_path / "videos")
    ).records
    return tmp_path, items, _same(reference)


def test_parquet_jsonl_and_to_json_files_written_by_datasets(videor1):
    root, items, expected = videor1
    ds = datasets.Dataset.from_list(items)
    ds.to_parquet(str(root / "train.parquet"))
    ds.to_json(str(root / "train.jsonl"))
    ds.to_json(str(root / "lines.json"))  # datasets writes JSON Lines under a .json name by default
    for name in ("train.parquet", "train.jsonl", "lines.json"):
        got = load_spec(f"videor1:{root / name}", video_root=str(root / "videos")).records
        assert _same(got) == expected, name


def test_save_to_disk_folders_and_their_splits(videor1):
    root, items, expected = videor1
    datasets.Dataset.from_list(items).save_to_disk(str(root / "one"))
    got = load_spec(f"videor1:{root / 'one'}", video_root=str(root / "videos")).records
    assert _same(got) == expected
    both = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(items[:2]), "test": datasets.Dataset.from_list(items[2:])}
    )
    both.save_to_disk(str(root / "dict"))
    test = load_spec(f"videor1:{root / 'dict'}", split="test", video_root=str(root / "videos")).records
    assert _same(test) == expected[2:] and test[0].meta["split"] == "test"
    assert (
        _same(load_spec(f"videor1:{root / 'dict'}", video_root=str(root / "videos")).records) == expected[:2]
    )
    with pytest.raises(DataError, match="no split 'val'; splits: train, test"):
        load_spec(f"videor1:{root / 'dict'}", split="val", video_root=str(root / "videos"))


def test_hub_id_through_datasets_offline(videor1, monkeypatch):
    """``hf://ID`` goes to ``datasets.load_dataset(ID, split=...)``; a local repository folder
    exercises that path without the network."""
    root, items, expected = videor1
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    repo = root / "hub" / "Video-R1-data" / "data"
    repo.mkdir(parents=True)
    datasets.Dataset.from_list(items[:2]).to_parquet(str(repo / "train-00000-of-00001.parquet"))
    datasets.Dataset.from_list(items[2:]).to_parquet(str(repo / "test-00000-of-00001.parquet"))
    spec = f"videor1:hf://{root / 'hub' / 'Video-R1-data'}"
    train = load_spec(spec, video_root=str(root / "videos"))
    assert _same(train.records) == expected[:2]
    assert train.records[0].meta["source_file"].startswith("hf://")
    assert _same(load_spec(spec, split="test", video_root=str(root / "videos")).records) == expected[2:]


def test_data_stats_train_and_eval_read_a_parquet_spec(videor1, capsys):
    root, items, _ = videor1
    datasets.Dataset.from_list(items).to_parquet(str(root / "train.parquet"))
    spec = f"videor1:{root / 'train.parquet'}"
    assert main(["data", "stats", spec, "--video-root", str(root / "videos")]) == 0
    assert "3" in capsys.readouterr().out

    from videorft.evaluation import session
    from videorft.evaluation.config import EvalConfig
    from videorft.training.config import VideoDataArguments
    from videorft.training.run import build_dataset

    train, _ = build_dataset(VideoDataArguments(data=spec, video_root=str(root / "videos")))
    assert len(train) == 3 and train[0]["problem"]
    data = session.load_data(EvalConfig(data=spec, video_root=str(root / "videos"), model="m", out="o"))
    assert [r.task for r in data.records] == ["multiple_choice", "numerical", "ocr"]


def test_other_formats_as_tables(tmp_path, put_video):
    write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000001", [(1, 1, 10, 10)] * 3)
    box = [0.1, 0.2, 0.5, 0.6]
    got = [{"path": "GOT-10k_Val_000001", "object": "sloth", "gt": [box, box]}]
    datasets.Dataset.from_list(got).to_parquet(str(tmp_path / "got.parquet"))
    (rec,) = load_spec(f"got10k_json:{tmp_path / 'got.parquet'}", video_root=str(tmp_path / "val")).records
    assert rec.solution == [box, box] and rec.problem == "sloth"
    # {video_id: annotation} formats: one row per video, the id in a video_id column
    put_video(tmp_path / "AAAAA.mp4")
    rows = [
        {"video_id": "AAAAA", "duration": 2.0, "timestamps": [[0.1, 1.0]], "sentences": ["a person sits."]}
    ]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "sta.parquet"))
    (tg,) = load_spec(f"charades_json:{tmp_path / 'sta.parquet'}").records
    assert (tg.solution, tg.meta["duration"], Path(tg.video).name) == ([0.1, 1.0], 2.0, "AAAAA.mp4")


def test_video_r1_cot_and_eval_outputs_as_written(videor1):
    """generate_cot_vllm.py writes {"results": [...]}; eval_bench.py adds "final_acc"."""
    root, items, expected = videor1
    cot = [
        {**it, "answer": "B", "reward": 1.0, "select": True, "process": "<think>x</think>"} for it in items
    ]
    write_json(root / "cot.json", {"results": cot})
    write_json(root / "eval.json", {"results": cot, "final_acc": [{"mean_acc": 1.0, "mean_mra": 0.0}]})
    for name in ("cot.json", "eval.json"):
        got = load_spec(f"videor1:{root / name}", video_root=str(root / "videos")).records
        assert _same(got) == expected
    assert got[0].meta["process"] == "<think>x</think>"
    write_json(root / "other.json", {"rows": cot})
    with pytest.raises(DataError, match="expected a JSON list of records, got dict"):
        load_spec(f"videor1:{root / 'other.json'}", video_root=str(root / "videos"))
    assert json.loads((root / "cot.json").read_text())["results"][0]["select"] is True
